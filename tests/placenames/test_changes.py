"""The change feed (地名地址变更): every change of addresses, names, door plates and divisions, recorded in the
transaction that makes it, served in commit order to readers with `placenames.changes:read`, from a cursor they
keep; bad cursors are clear 4xx answers."""

import asyncio
import csv
import datetime as dt

import pytest
from sqlalchemy import select

from services.placenames import seed
from services.placenames.changes import service as changes
from services.placenames.changes.models import Change
from services.placenames.scopes import CHANGES_READ
from shared.identity import Principal
from tests.conftest import resident, staff
from tests.placenames.helpers import API, YINZHOU_STAFF, load_demo, name_id

CHANGES = f"{API}/changes"
ADDRESSES = f"{API}/addresses"
YINZHOU, HAISHU, ZHONGGONGMIAO, MEIXU = "330212", "330203", "330212002", "330212004"
ELDERCARE = Principal(subject="service:eldercare", kind="service", scopes=frozenset({CHANGES_READ}))
PARTNER = Principal(subject="partner:public-security", kind="partner", scopes=frozenset({CHANGES_READ}))


@pytest.fixture
async def demo(client):
    await load_demo(client)
    return client


async def feed(client, after: int = 0, limit: int = 100, principal: Principal = ELDERCARE) -> dict:
    response = await client.get(CHANGES, params={"after": after, "limit": limit}, headers=client.as_(principal))
    assert response.status_code == 200, response.text
    return response.json()


async def everything_after(client, after: int) -> list[dict]:
    """The feed read a small page at a time, from `after` to its end."""
    seen: list[dict] = []
    while True:
        page = await feed(client, after, limit=2)
        seen += page["changes"]
        if page["next_after"] == page["last_seq"]:
            return seen
        after = page["next_after"]


async def issue(client, **parts) -> dict:
    response = await client.post(ADDRESSES, headers=client.as_(YINZHOU_STAFF), json={"district_code": YINZHOU} | parts)
    assert response.status_code == 201, response.text
    return response.json()


async def test_renames_splits_merges_and_retirements_reach_the_feed_in_order(demo):
    start = (await feed(demo))["last_seq"]
    road = await name_id(demo, "桑田路", YINZHOU)
    house = await issue(
        demo, township_code=ZHONGGONGMIAO, road_id=road, house_number="8", latitude=29.84, longitude=121.55
    )
    whole = await issue(demo, road_id=road, house_number="10")
    renamed = await demo.post(
        f"{API}/names/{road}/events",
        headers=demo.as_(YINZHOU_STAFF),
        json={
            "kind": "renaming",
            "new_name": "桑田东路",
            "decision_document": "甬政地名〔2026〕9号",
            "decided_on": "2026-11-20",
        },
    )
    assert renamed.status_code == 201, renamed.text
    split = await demo.post(
        f"{ADDRESSES}/{whole['code']}/split",
        headers=demo.as_(YINZHOU_STAFF),
        json={
            "decided_on": "2026-11-21",
            "into": [
                {"district_code": YINZHOU, "road_id": renamed.json()["result_id"], "house_number": n}
                for n in ("10-1", "10-2")
            ],
        },
    )
    parts = [a["code"] for a in split.json()["issued"]]
    merged = await demo.post(
        f"{API}/address-merges",
        headers=demo.as_(YINZHOU_STAFF),
        json={
            "decided_on": "2026-11-22",
            "codes": parts,
            "into": {"district_code": YINZHOU, "road_id": renamed.json()["result_id"], "house_number": "10"},
        },
    )
    retired = await demo.post(
        f"{ADDRESSES}/{house['code']}/retire", headers=demo.as_(YINZHOU_STAFF), json={"decided_on": "2026-11-23"}
    )
    assert (split.status_code, merged.status_code, retired.status_code) == (201, 201, 200)

    seen = await everything_after(demo, start)
    assert [c["seq"] for c in seen] == list(range(start + 1, start + 1 + len(seen)))  # in order, no gaps
    by_kind = [(c["kind"], c["code"]) for c in seen]
    assert by_kind == [
        ("address.issued", house["code"]),
        ("address.issued", whole["code"]),
        ("address.renamed", house["code"]),
        ("address.renamed", whole["code"]),
        ("name.renamed", str(road)),
        ("address.split", whole["code"]),
        ("address.merged", parts[0]),
        ("address.merged", parts[1]),
        ("address.retired", house["code"]),
    ]
    rename = seen[2]
    assert rename["previous_text"] == "宁波市鄞州区桑田路8号" and rename["decided_on"] == "2026-11-20"
    assert rename["successors"] == [
        {
            "code": house["code"],
            "text": "宁波市鄞州区桑田东路8号",
            "area_code": ZHONGGONGMIAO,
            "latitude": 29.84,
            "longitude": 121.55,
        }
    ]
    assert [s["code"] for s in seen[5]["successors"]] == parts
    assert [s["code"] for s in seen[6]["successors"]] == [merged.json()["issued"][0]["code"]]
    assert seen[8]["successors"] == [] and seen[8]["previous_text"] == "宁波市鄞州区桑田东路8号"
    # Up to date: the same cursor again serves nothing new, and says where the feed ends.
    end = await feed(demo, seen[-1]["seq"])
    assert end["changes"] == [] and end["next_after"] == end["last_seq"] == seen[-1]["seq"]


async def test_door_plates_reach_the_feed(demo):
    road = await name_id(demo, "宁穿路", YINZHOU)
    address = await issue(demo, road_id=road, house_number="66")
    start = (await feed(demo))["last_seq"]
    plate = await demo.post(
        f"{API}/door-plates",
        headers=demo.as_(YINZHOU_STAFF),
        json={"address_codes": [address["code"]], "issued_on": "2026-11-01"},
    )
    assert plate.status_code == 201, plate.text
    code = plate.json()["code"]
    revoked = await demo.post(
        f"{API}/door-plates/{code}/revoke", headers=demo.as_(YINZHOU_STAFF), json={"revoked_on": "2026-11-02"}
    )
    assert revoked.status_code == 200, revoked.text
    seen = (await feed(demo, start))["changes"]
    assert [(c["kind"], c["code"]) for c in seen] == [("plate.issued", code), ("plate.revoked", code)]


async def test_a_refused_change_leaves_nothing_in_the_feed(demo):
    road = await name_id(demo, "宁穿路", YINZHOU)
    address = await issue(demo, road_id=road, house_number="77")
    retire = {"decided_on": "2026-11-01"}
    assert (
        await demo.post(f"{ADDRESSES}/{address['code']}/retire", headers=demo.as_(YINZHOU_STAFF), json=retire)
    ).status_code == 200
    last = (await feed(demo))["last_seq"]
    again = await demo.post(f"{ADDRESSES}/{address['code']}/retire", headers=demo.as_(YINZHOU_STAFF), json=retire)
    assert again.status_code == 409
    assert (await feed(demo))["last_seq"] == last  # the rolled-back retirement took no number
    # ... and the next change takes the very next one.
    await issue(demo, road_id=road, house_number="78")
    assert [c["seq"] for c in (await feed(demo, last))["changes"]] == [last + 1]


async def test_services_partners_and_city_staff_may_read_it_and_no_one_else(demo):
    assert (await feed(demo, principal=PARTNER))["changes"] is not None
    assert (await feed(demo, principal=staff("330200", CHANGES_READ)))["changes"] is not None
    anonymous = await demo.get(CHANGES)
    assert anonymous.status_code == 401
    someone = await demo.get(CHANGES, headers=demo.as_(resident("resident:1")))
    assert someone.status_code == 403 and someone.headers["content-type"].startswith("application/problem+json")


async def test_a_cursor_never_issued_or_too_old_is_a_clear_problem(demo, moved_clock):
    road = await name_id(demo, "宁穿路", YINZHOU)
    await issue(demo, road_id=road, house_number="88")
    last = (await feed(demo))["last_seq"]
    beyond = await demo.get(CHANGES, params={"after": last + 1}, headers=demo.as_(ELDERCARE))
    assert beyond.status_code == 400, beyond.text
    problem = beyond.json()
    assert problem["type"] == "/problems/cursor-not-issued" and problem["errors"][0]["field"] == "after"
    for after in ("-1", "x", str(2**63)):
        bad = await demo.get(CHANGES, params={"after": after}, headers=demo.as_(ELDERCARE))
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "after", bad.text
    assert (await demo.get(CHANGES, params={"limit": 1001}, headers=demo.as_(ELDERCARE))).status_code == 422

    # A year and a day later the changes are pruned: a cursor from before is too old, the feed's end still works.
    moved_clock(dt.timedelta(days=366))
    await issue(demo, road_id=road, house_number="89")
    async with demo.app.state.database.sessionmaker() as session, session.begin():
        assert await changes.prune(session, changes.utcnow() - dt.timedelta(days=365)) >= 1
    old = await demo.get(CHANGES, params={"after": 0}, headers=demo.as_(ELDERCARE))
    assert old.status_code == 410 and old.json()["type"] == "/problems/cursor-expired", old.text
    assert [c["seq"] for c in (await feed(demo, last))["changes"]] == [last + 1]


def _with_changes(path, rows: dict[str, dict], added: list[dict]) -> None:
    """The division data file with some rows changed and some added, written to `path`."""
    with seed.CSV_PATH.open(encoding="utf-8", newline="") as f:
        original = list(csv.DictReader(f))
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=seed.COLUMNS)
        writer.writeheader()
        for row in original:
            writer.writerow(row | rows.get(row["code"], {}))
        writer.writerows(added)


async def test_a_division_renamed_or_moved_reaches_the_feed_and_its_addresses(demo, tmp_path):
    road = await name_id(demo, "天童南路", YINZHOU)
    area = await name_id(demo, "福明家园", YINZHOU)
    on_road = await issue(demo, township_code=MEIXU, road_id=road, house_number="900")
    in_area = await issue(demo, township_code=ZHONGGONGMIAO, area_id=area, building="1")
    start = (await feed(demo))["last_seq"]
    # As in 2016: a township moves to 海曙区 under a new code; and one is renamed under the code it keeps.
    moved_to = HAISHU + "199"
    path = tmp_path / "divisions.csv"
    _with_changes(
        path,
        {
            MEIXU: {"valid_to": "2026-12-01", "successor_code": moved_to},
            ZHONGGONGMIAO: {"name": "钟公庙新街道"},
        },
        [
            {
                "code": moved_to,
                "name": "梅墟街道",
                "level": "township",
                "parent_code": HAISHU,
                "valid_from": "2026-12-01",
            }
        ],
    )
    async with demo.app.state.database.sessionmaker() as session, session.begin():
        await seed.load(session, path)
    seen = await everything_after(demo, start)
    assert {(c["kind"], c["code"]) for c in seen} == {
        ("division.moved", MEIXU),
        ("division.renamed", ZHONGGONGMIAO),
        ("address.moved", on_road["code"]),
        ("address.renamed", in_area["code"]),
    }
    by_code = {c["code"]: c for c in seen}
    assert by_code[MEIXU]["successors"] == [
        {"code": moved_to, "text": "梅墟街道", "area_code": moved_to, "latitude": None, "longitude": None}
    ]
    assert by_code[MEIXU]["decided_on"] == "2026-12-01"
    [now] = by_code[on_road["code"]]["successors"]
    assert (now["code"], now["area_code"], now["text"]) == (on_road["code"], moved_to, "宁波市海曙区天童南路900号")
    assert by_code[in_area["code"]]["successors"][0]["text"] == "宁波市鄞州区钟公庙新街道福明家园1幢"
    detail = (await demo.get(f"{ADDRESSES}/{on_road['code']}")).json()
    assert (detail["district_code"], detail["township_code"]) == (HAISHU, moved_to)
    # Loading the same file again changes nothing more.
    async with demo.app.state.database.sessionmaker() as session, session.begin():
        await seed.load(session, path)
    assert (await feed(demo, seen[-1]["seq"]))["changes"] == []


# --- commit order on PostgreSQL ------------------------------------------------------------------------------


@pytest.mark.postgresql_only
async def test_a_change_that_commits_later_is_never_skipped(committed_client):
    """The race the numbering exists for: a writer that has its number but has not committed holds back every
    later writer, so a reader never sees a higher number before a lower one."""
    client = committed_client
    await load_demo(client)
    road = await name_id(client, "宁穿路", YINZHOU)
    database = client.app.state.database
    start = (await feed(client))["last_seq"]

    async with database.sessionmaker() as slow:
        changes.record(slow, "address.retired", "3302120000000001", [])
        await slow.run_sync(changes.assign_sequence)  # numbered now, as at its commit, but not committed yet
        fast = asyncio.create_task(issue(client, road_id=road, house_number="501"))
        await asyncio.sleep(0.5)
        assert not fast.done()  # the later writer waits for the counter row
        assert (await feed(client, start))["changes"] == []  # and the reader sees neither
        await slow.commit()
    await fast
    seen = (await feed(client, start))["changes"]
    assert [(c["seq"], c["kind"]) for c in seen] == [(start + 1, "address.retired"), (start + 2, "address.issued")]


@pytest.mark.postgresql_only
async def test_many_writers_and_a_reader_at_once_see_every_change_once_in_order(committed_client):
    client = committed_client
    await load_demo(client)
    road = await name_id(client, "世纪大道", YINZHOU)
    start = (await feed(client))["last_seq"]
    done = asyncio.Event()
    seen: list[int] = []

    async def read() -> None:
        after = start
        while True:
            finished = done.is_set()
            page = await feed(client, after, limit=5)
            seen.extend(c["seq"] for c in page["changes"])
            after = page["next_after"]
            if finished and after == page["last_seq"]:
                return
            await asyncio.sleep(0.005)

    reader = asyncio.create_task(read())
    written = await asyncio.gather(*(issue(client, road_id=road, house_number=str(n)) for n in range(1, 41)))
    done.set()
    await reader
    assert seen == list(range(start + 1, start + 1 + len(written)))
    async with client.app.state.database.sessionmaker() as session:
        stored = list(await session.scalars(select(Change.code).where(Change.seq > start)))
    assert sorted(stored) == sorted(a["code"] for a in written)
    # After the race the next ordinary request still works.
    assert (await issue(client, road_id=road, house_number="41"))["code"]
