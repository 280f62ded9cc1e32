"""The division register: current and historical divisions, parent chains, successors, the seed's sources."""

import csv
import datetime as dt

import pytest

from services.placenames import seed
from shared.demo_city import demo_addresses

URL = "/api/placenames/v1/divisions"
DISTRICTS = {
    "330203": "海曙区",
    "330205": "江北区",
    "330206": "北仑区",
    "330211": "镇海区",
    "330212": "鄞州区",
    "330213": "奉化区",
    "330225": "象山县",
    "330226": "宁海县",
    "330281": "余姚市",
    "330282": "慈溪市",
}
HISTORICAL = {"330204": "330212", "330283": "330213", "330227": "330212"}  # 江东区, 奉化市, 鄞县


async def load(client, path=seed.CSV_PATH) -> int:
    async with client.app.state.database.sessionmaker() as session:
        created = await seed.load(session, path)
        await session.commit()
    return created


@pytest.fixture
async def seeded(client):
    await load(client)
    return client


async def all_pages(client, **params):
    items, cursor = [], None
    while True:
        response = await client.get(URL, params=params | ({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        if not (cursor := response.json()["next_cursor"]):
            return items


async def test_the_city_has_its_ten_current_districts_without_credentials(seeded):
    districts = await all_pages(seeded, parent="330200", level="district")
    assert {d["code"]: d["name"] for d in districts} == DISTRICTS
    assert all(d["is_current"] and d["valid_to"] is None for d in districts)
    [city] = await all_pages(seeded, level="city")
    assert (city["code"], city["name"]) == ("330200", "宁波市")


async def test_historical_divisions_only_when_asked(seeded):
    everything = await all_pages(seeded, parent="330200", include_historical=True)
    historical = {d["code"]: d for d in everything if not d["is_current"]}
    assert {c: d["successor_code"] for c, d in historical.items()} == HISTORICAL
    assert historical["330204"]["name"] == "江东区" and historical["330204"]["valid_to"] == "2016-09-14"
    assert len(everything) == len(DISTRICTS) + len(HISTORICAL)


async def test_a_historical_division_names_what_succeeded_it(seeded):
    response = await seeded.get(f"{URL}/330227")
    assert response.status_code == 200
    yin_county = response.json()
    assert yin_county["name"] == "鄞县" and yin_county["is_current"] is False
    assert [(s["code"], s["name"], s["is_current"]) for s in yin_county["successors"]] == [("330212", "鄞州区", True)]
    assert [a["code"] for a in yin_county["ancestors"]] == ["330200"]
    current = (await seeded.get(f"{URL}/330212")).json()
    assert current["successors"] == [] and current["valid_from"] == "2002-04-19"
    city = (await seeded.get(f"{URL}/330200")).json()
    assert city["ancestors"] == []  # its parent, 浙江省 330000, is outside the register


async def test_townships_of_the_2016_reorganisation_have_their_old_codes_and_successors(seeded):
    """From the NBS 2016 and 2017 editions: 江东区's streets went to 鄞州区, nine of 鄞州区's towns and streets
    to 海曙区, 奉化市's to 奉化区, each under a new statistical code, on the approval date."""
    old = (await seeded.get(f"{URL}/330204001")).json()
    assert (old["name"], old["level"], old["is_current"], old["valid_to"]) == (
        "百丈街道",
        "township",
        False,
        "2016-09-14",
    )
    assert [a["code"] for a in old["ancestors"]] == ["330200", "330204"]  # under 江东区, itself historical
    assert [(s["code"], s["name"], s["is_current"]) for s in old["successors"]] == [("330212008", "百丈街道", True)]
    new = (await seeded.get(f"{URL}/330212008")).json()
    assert new["valid_from"] == "2016-09-14" and new["is_current"] and new["successors"] == []
    moved = (await seeded.get(f"{URL}/330212003")).json()  # 石碶街道, from 鄞州区 to 海曙区
    assert moved["is_current"] is False and [s["code"] for s in moved["successors"]] == ["330203009"]
    gap = (await seeded.get(f"{URL}/330283103")).json()  # 尚田镇: what it became later is not dated
    assert gap["is_current"] is False and gap["successor_code"] is None and "gap" in gap["note"]
    historical = await all_pages(seeded, parent="330204", include_historical=True)
    assert len(historical) == 8 and not any(t["is_current"] for t in historical)
    current = await all_pages(seeded, parent="330204")
    assert current == []


async def test_a_village_has_its_whole_parent_chain(seeded):
    [township] = (await seeded.get(URL, params={"parent": "330203", "level": "township", "limit": 1})).json()["items"]
    [village] = (await seeded.get(URL, params={"parent": township["code"], "limit": 1})).json()["items"]
    assert village["level"] == "village" and village["code"].startswith(township["code"])
    detail = (await seeded.get(f"{URL}/{village['code']}")).json()
    assert [a["code"] for a in detail["ancestors"]] == ["330200", "330203", township["code"]]
    assert [a["level"] for a in detail["ancestors"]] == ["city", "district", "township"]


async def test_pages_follow_the_cursor_in_code_order(seeded):
    first = await seeded.get(URL, params={"level": "district", "include_historical": True, "limit": 5})
    assert len(first.json()["items"]) == 5 and first.json()["next_cursor"]
    codes = [d["code"] for d in await all_pages(seeded, level="district", include_historical=True, limit=5)]
    assert codes == sorted(DISTRICTS | HISTORICAL)


async def test_unknown_and_malformed_codes(seeded):
    missing = await seeded.get(f"{URL}/330299")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    assert "330299" in missing.json()["detail"]
    for bad in ("33021", "3302120", "33021200a"):
        response = await seeded.get(f"{URL}/{bad}")
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "code", bad
    for params in ({"level": "province"}, {"parent": "33"}, {"limit": 0}):
        response = await seeded.get(URL, params=params)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == next(iter(params))


async def test_seed_loads_once(client):
    rows = seed.source_rows()
    assert all(r["code"] for r in rows)  # rows without a code are skipped, not loaded half-keyed
    former = sum(1 for _ in csv.DictReader(seed.FORMER_NAMES_PATH.open(encoding="utf-8")))
    # The place names, the divisions' former names and the demo city's addresses come with them.
    assert await load(client) == len(rows) + former + len(seed.name_rows()) + len(demo_addresses())
    assert await load(client) == 0


async def test_a_rebuilt_list_updates_the_rows_already_loaded(client, tmp_path):
    await load(client)
    text = seed.CSV_PATH.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("330212008,"))
    fields = line.split(",", 7)
    rebuilt = tmp_path / "divisions.csv"
    rebuilt.write_text(text.replace(line, ",".join([*fields[:4], "2016-09-15", *fields[5:]])), encoding="utf-8")
    assert await load(client, rebuilt) == 0  # nothing new
    assert (await client.get(f"{URL}/330212008")).json()["valid_from"] == "2016-09-15"


def test_the_register_and_the_shared_tree_read_one_file():
    from shared import divisions

    assert seed.CSV_PATH == divisions.DIVISIONS_CSV and seed.FORMER_NAMES_PATH == divisions.FORMER_NAMES_CSV
    assert {d.code: d.name for d in divisions.districts()} == DISTRICTS
    assert {code: divisions.division(code).successor for code in HISTORICAL} == HISTORICAL


def test_a_list_with_a_dangling_reference_is_refused(tmp_path):
    path = tmp_path / "divisions.csv"
    path.write_text(
        ",".join(seed.COLUMNS) + "\n330200,宁波市,city,330000,,,,,\n330299001,无名街道,township,330299,,,,,\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="parent 330299"):
        seed.source_rows(path)


def test_valid_to_is_the_first_day_no_longer_in_force():
    from services.placenames.divisions.models import Division
    from services.placenames.divisions.service import is_current

    jiangdong = Division(code="330204", name="江东区", level="district", valid_to=dt.date(2016, 9, 14))
    assert is_current(jiangdong, dt.date(2016, 9, 13)) and not is_current(jiangdong, dt.date(2016, 9, 14))
