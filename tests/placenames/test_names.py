"""Standard place names and their history: aliases and historical names resolve to today's name, decisions
carry their document, date and filing deadline, and two decisions racing on one name cannot both win."""

import asyncio
import datetime as dt

import pytest

from shared import clock
from tests.conftest import staff
from tests.placenames.helpers import API, CITY_STAFF, HAISHU_STAFF, YINZHOU_STAFF, load_demo, name_id

NAMES = f"{API}/names"
YINZHOU, HAISHU = "330212", "330203"


@pytest.fixture
async def demo(client):
    await load_demo(client)
    return client


def decision(days_ago: int = 3, filed: int | None = None, **extra) -> dict:
    decided = clock.today() - dt.timedelta(days=days_ago)
    body = {"decision_document": "甬政地名〔2026〕7号", "decided_on": decided.isoformat()} | extra
    if filed is not None:
        body["filed_on"] = (decided + dt.timedelta(days=filed)).isoformat()
    return body


async def test_the_demo_data_holds_a_few_hundred_real_road_names(demo):
    from services.placenames import seed

    rows = seed.name_rows()
    roads = [r for r in rows if r["kind"] in ("road", "street", "lane", "bridge") and r["status"] == "standard"]
    assert len(roads) >= 250 and not any(r["illustrative"] for r in roads)
    assert {"中山东路", "解放南路", "天童南路", "鄞州大道", "柳汀街", "箕漕街", "世纪大道"} <= {
        r["name"] for r in roads
    }
    # Every row whose history is made up for the demo says so.
    assert all(r["illustrative"] for r in rows if r["status"] != "standard")
    page = (await demo.get(NAMES, params={"q": "天童", "district_code": YINZHOU, "status": "standard"})).json()
    assert {n["name"] for n in page["items"]} == {"天童南路", "天童北路"}


async def test_a_historical_name_resolves_through_its_chain_to_todays_name(demo):
    [yongjiang] = (await demo.get(f"{NAMES}/resolve", params={"name": "甬江路"})).json()
    assert yongjiang["status"] == "historical" and yongjiang["illustrative"]
    assert [c["name"] for c in yongjiang["chain"]] == ["甬江路", "江东路", "江东北路"]
    assert yongjiang["standard"]["name"] == "江东北路"
    [alias] = (await demo.get(f"{NAMES}/resolve", params={"name": "天童路"})).json()
    assert alias["status"] == "alias" and alias["standard"]["name"] == "天童南路"
    [standard] = (await demo.get(f"{NAMES}/resolve", params={"name": "柳汀街"})).json()
    assert standard["standard"]["id"] == standard["id"] and standard["chain"] == [standard["standard"]]


async def test_the_same_road_name_in_two_districts_is_two_names(demo):
    both = (await demo.get(f"{NAMES}/resolve", params={"name": "人民路"})).json()
    assert {n["district_code"] for n in both} >= {"330205", "330281", "330282"}
    assert all(n["standard"]["id"] == n["id"] for n in both)


async def test_a_decision_dated_after_today_is_refused_and_the_name_stays(demo):
    """2062 typed for 2026 renamed the road at once, with a filing deadline decades away."""
    old = await name_id(demo, "桑田路", YINZHOU)
    renaming = await demo.post(
        f"{NAMES}/{old}/events",
        headers=demo.as_(YINZHOU_STAFF),
        json=decision(days_ago=-1, kind="renaming", new_name="桑田东路"),
    )
    assert renaming.status_code == 422 and renaming.json()["errors"][0]["field"] == "decided_on", renaming.text
    assert (await demo.get(f"{NAMES}/{old}")).json()["status"] == "standard"
    naming = await demo.post(
        NAMES,
        headers=demo.as_(YINZHOU_STAFF),
        json={"name": "启明东路", "kind": "road", "district_code": YINZHOU, "decision": decision(days_ago=-1)},
    )
    assert naming.status_code == 422 and naming.json()["errors"][0]["field"] == "decision.decided_on", naming.text
    resolved = await demo.get(f"{NAMES}/resolve", params={"name": "启明东路", "district_code": YINZHOU})
    assert resolved.json() == []


async def test_a_filing_dated_after_today_is_refused_and_the_event_stays_unfiled(demo):
    """A filing typed a week ahead counted as made in time, so a decision never filed never showed as missed."""
    old = await name_id(demo, "桑田路", YINZHOU)
    ahead = await demo.post(
        f"{NAMES}/{old}/events",
        headers=demo.as_(YINZHOU_STAFF),
        json=decision(days_ago=3, kind="renaming", new_name="桑田东路", filed=4),
    )
    assert ahead.status_code == 422 and ahead.json()["errors"][0]["field"] == "filed_on", ahead.text
    assert (await demo.get(f"{NAMES}/{old}")).json()["status"] == "standard"
    naming = await demo.post(
        NAMES,
        headers=demo.as_(YINZHOU_STAFF),
        json={"name": "启明东路", "kind": "road", "district_code": YINZHOU, "decision": decision(days_ago=1, filed=2)},
    )
    assert naming.status_code == 422 and naming.json()["errors"][0]["field"] == "decision.filed_on", naming.text
    event = (
        await demo.post(
            f"{NAMES}/{old}/events", headers=demo.as_(YINZHOU_STAFF), json=decision(days_ago=20, kind="retirement")
        )
    ).json()
    tomorrow = (clock.today() + dt.timedelta(days=1)).isoformat()
    filing = await demo.post(
        f"{API}/name-events/{event['id']}/filing", headers=demo.as_(YINZHOU_STAFF), json={"filed_on": tomorrow}
    )
    assert filing.status_code == 422 and filing.json()["errors"][0]["field"] == "filed_on", filing.text
    [stored] = (await demo.get(f"{NAMES}/{old}/events")).json()
    assert stored["filed_on"] is None and stored["filing_missed"] is True


async def test_renaming_keeps_the_old_name_as_history_and_files_on_time(demo):
    old = await name_id(demo, "桑田路", YINZHOU)
    response = await demo.post(
        f"{NAMES}/{old}/events",
        headers=demo.as_(YINZHOU_STAFF),
        json=decision(days_ago=12, kind="renaming", new_name="桑田东路", filed=10),
    )
    assert response.status_code == 201, response.text
    event = response.json()
    assert event["kind"] == "renaming" and event["filing_missed"] is False
    assert event["filing_deadline"] == (dt.date.fromisoformat(event["decided_on"]) + dt.timedelta(days=15)).isoformat()
    detail = (await demo.get(f"{NAMES}/{old}")).json()
    assert detail["status"] == "historical" and detail["standard"]["name"] == "桑田东路"
    new = (await demo.get(f"{NAMES}/{event['result_id']}")).json()
    assert new["status"] == "standard" and new["name"] == "桑田东路"
    # The history is readable from both ends.
    assert [e["id"] for e in (await demo.get(f"{NAMES}/{new['id']}/events")).json()] == [event["id"]]
    assert [e["id"] for e in (await demo.get(f"{NAMES}/{old}/events")).json()] == [event["id"]]


async def test_a_filing_made_late_or_not_made_is_flagged(demo):
    late = await name_id(demo, "松下街", YINZHOU)
    e1 = (
        await demo.post(
            f"{NAMES}/{late}/events",
            headers=demo.as_(YINZHOU_STAFF),
            json=decision(days_ago=40, kind="renaming", new_name="松下北街", filed=16),
        )
    ).json()
    assert e1["filing_missed"] is True
    unfiled = await name_id(demo, "王隘路", YINZHOU)
    e2 = (
        await demo.post(
            f"{NAMES}/{unfiled}/events", headers=demo.as_(YINZHOU_STAFF), json=decision(days_ago=20, kind="retirement")
        )
    ).json()
    assert e2["filed_on"] is None and e2["filing_missed"] is True
    recent = await name_id(demo, "新河路", YINZHOU)
    e3 = (
        await demo.post(
            f"{NAMES}/{recent}/events", headers=demo.as_(YINZHOU_STAFF), json=decision(days_ago=2, kind="retirement")
        )
    ).json()
    assert e3["filing_missed"] is False  # still within its 15 days
    filed = await demo.post(
        f"{API}/name-events/{e3['id']}/filing",
        headers=demo.as_(YINZHOU_STAFF),
        json={"filed_on": clock.today().isoformat()},
    )
    assert filed.status_code == 200 and filed.json()["filing_missed"] is False
    again = await demo.post(
        f"{API}/name-events/{e3['id']}/filing",
        headers=demo.as_(YINZHOU_STAFF),
        json={"filed_on": clock.today().isoformat()},
    )
    assert again.status_code == 409
    retired = (await demo.get(f"{NAMES}/{unfiled}")).json()
    assert retired["status"] == "historical" and retired["standard"] is None


async def test_unification_and_rectification_point_at_the_standard_name(demo):
    kept = await name_id(demo, "百丈东路", YINZHOU)
    merged = await name_id(demo, "百丈路", YINZHOU)
    unified = await demo.post(
        f"{NAMES}/{merged}/events",
        headers=demo.as_(CITY_STAFF),
        json=decision(kind="unification", into_id=kept, unification_group="第1组"),
    )
    assert unified.status_code == 201 and unified.json()["unification_group"] == "第1组"
    # 百丈街 was a historical name of 百丈路: it now resolves one step further.
    [old] = (await demo.get(f"{NAMES}/resolve", params={"name": "百丈街"})).json()
    assert [c["name"] for c in old["chain"]] == ["百丈街", "百丈路", "百丈东路"]
    created = await demo.post(
        NAMES,
        headers=demo.as_(YINZHOU_STAFF),
        json={"name": "东湖花苑", "kind": "residential_area", "district_code": YINZHOU},
    )
    assert created.status_code == 201
    fixed = await demo.post(
        f"{NAMES}/{created.json()['id']}/events",
        headers=demo.as_(YINZHOU_STAFF),
        json=decision(kind="rectification", into_id=await name_id(demo, "东湖花园", YINZHOU)),
    )
    assert fixed.status_code == 201
    assert (await demo.get(f"{NAMES}/{created.json()['id']}")).json()["status"] == "alias"


async def test_naming_records_its_decision(demo):
    response = await demo.post(
        NAMES,
        headers=demo.as_(HAISHU_STAFF),
        json={"name": "月湖西路", "kind": "road", "district_code": HAISHU, "decision": decision(filed=1)},
    )
    assert response.status_code == 201
    [event] = (await demo.get(f"{NAMES}/{response.json()['id']}/events")).json()
    assert event["kind"] == "naming" and event["decision_document"] == "甬政地名〔2026〕7号"
    duplicate = await demo.post(
        NAMES, headers=demo.as_(HAISHU_STAFF), json={"name": "月湖西路", "kind": "road", "district_code": HAISHU}
    )
    assert duplicate.status_code == 409 and duplicate.json()["resource"] == f"names/{response.json()['id']}"


async def test_rules_and_bad_input(demo):
    yinzhou_road = await name_id(demo, "宁穿路", YINZHOU)
    outside = await demo.post(
        f"{NAMES}/{yinzhou_road}/events", headers=demo.as_(HAISHU_STAFF), json=decision(kind="retirement")
    )
    assert outside.status_code == 403
    no_scope = await demo.post(
        f"{NAMES}/{yinzhou_road}/events", headers=demo.as_(staff(YINZHOU)), json=decision(kind="retirement")
    )
    assert no_scope.status_code == 403
    assert (await demo.post(f"{NAMES}/{yinzhou_road}/events", json=decision(kind="retirement"))).status_code == 401
    cases = [
        (decision(kind="renaming"), "new_name"),
        (decision(kind="unification", new_name="某路"), "into_id"),
        (decision(kind="renaming", new_name="路😀"), "new_name"),
        (decision(kind="renaming", new_name="x" * 101), "new_name"),
        (decision(kind="unification", into_id=yinzhou_road), "into_id"),
        (decision(kind="naming"), "kind"),
        (decision(kind="renaming", new_name="甲路") | {"decided_on": "2026-02-30"}, "decided_on"),
        (decision(kind="retirement", filed=-1), "body"),
    ]
    for body, field in cases:
        response = await demo.post(f"{NAMES}/{yinzhou_road}/events", headers=demo.as_(YINZHOU_STAFF), json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == field, (body, response.json())
    assert (await demo.get(f"{NAMES}/999999")).status_code == 404
    assert (await demo.get(f"{NAMES}/0")).status_code == 422
    assert (await demo.get(f"{NAMES}/resolve", params={"name": "不存在的路"})).json() == []
    alias = await demo.post(
        NAMES,
        headers=demo.as_(YINZHOU_STAFF),
        json={"name": "宁穿老路", "kind": "road", "district_code": YINZHOU, "status": "alias"},
    )
    assert alias.status_code == 422 and alias.json()["errors"][0]["field"] == "replaced_by_id"


async def test_two_decisions_racing_on_one_name_cannot_both_win(committed_client):
    await load_demo(committed_client)
    target = await name_id(committed_client, "福明路", YINZHOU)
    bodies = [decision(kind="renaming", new_name=f"福明{i}路") for i in range(6)] + [
        decision(kind="retirement") for _ in range(2)
    ]
    responses = await asyncio.gather(
        *(
            committed_client.post(f"{NAMES}/{target}/events", json=b, headers=committed_client.as_(YINZHOU_STAFF))
            for b in bodies
        )
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7, [r.text for r in responses]
    winner = next(r.json() for r in responses if r.status_code == 201)
    events = (await committed_client.get(f"{NAMES}/{target}/events")).json()
    assert [e["id"] for e in events] == [winner["id"]]
    # Only the winner's new name exists: the losers wrote nothing.
    created = (
        await committed_client.get(NAMES, params={"q": "福明", "district_code": YINZHOU, "kind": "road"})
    ).json()["items"]
    assert len([n for n in created if n["name"] != "福明路"]) == (1 if winner["kind"] == "renaming" else 0)


@pytest.mark.postgresql_only  # SQLite: a request waits for the writer's transaction (BEGIN IMMEDIATE) to end
async def test_a_name_read_into_the_dictionary_before_its_commit_is_known_once_committed(committed_client):
    """A name is recorded as the route does it (the row, then the dictionary forgotten), and before its commit
    another request rebuilds the dictionary from the registers as committed, without it. That dictionary was
    kept for a minute: the new road could not be searched nor parsed. The commit forgets it again."""
    from services.placenames import gazetteer
    from services.placenames.names import service
    from services.placenames.names.schemas import NameIn

    client = committed_client
    await load_demo(client)
    new = NameIn(name="启明东路", kind="road", district_code="330212")
    async with client.app.state.database.sessionmaker() as session:
        await service.create(session, YINZHOU_STAFF, new)
        gazetteer.invalidate(client.app, session)
        before = await client.get(f"{API}/addresses/search", params={"q": "启明东路"})
        assert "启明东路" not in [i["text"] for i in before.json()["items"]]  # not committed yet
        await session.commit()
    after = await client.get(f"{API}/addresses/search", params={"q": "启明东路"})
    assert after.status_code == 200 and "启明东路" in [i["text"] for i in after.json()["items"]], after.text
    parsed = await client.post(f"{API}/parse", json={"text": "鄞州区启明东路1号"}, headers=client.as_(YINZHOU_STAFF))
    assert {p["kind"]: p["value"] for p in parsed.json()["parts"]}.get("road") == "启明东路", parsed.text
