"""The parser beyond its own word lists: roads the registry does not know, lanes (弄), townships written under
the district they left, village committees' names, short forms that begin a road's name, former names.

`data/public_addresses.csv` holds real addresses as public institutions publish them (hospitals, universities,
the city government), written down from those publications, not from the parser's lists, plus the forms a new
user's test set found wanting. Each row says what a person reads in it: the district, the road (as written
when the registry does not know it), the lane, the house number and the area.
"""

import csv
from pathlib import Path

import pytest

from tests.placenames.helpers import API, YINZHOU_STAFF, load_demo

PUBLIC = Path(__file__).parent / "data" / "public_addresses.csv"


@pytest.fixture
async def demo(client):
    await load_demo(client)
    return client


async def parses(client, texts: list[str]) -> list[dict]:
    response = await client.post(f"{API}/parses", json={"texts": texts}, headers=client.as_(YINZHOU_STAFF))
    assert response.status_code == 200, response.text
    return response.json()["results"]


def parts(result: dict) -> dict[str, dict]:
    return {p["kind"]: p for p in result["parts"]}


async def test_public_addresses_keep_their_district_road_lane_number_and_area(demo):
    with PUBLIC.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    results = await parses(demo, [r["text"] for r in rows])
    for row, result in zip(rows, results, strict=True):
        got = parts(result)
        assert result["district_code"] == row["district_code"], (row["text"], result["reasons"])
        for kind in ("road", "lane", "house_number", "area"):
            assert got.get(kind, {}).get("value", "") == row[kind], (row["text"], kind, got)
        assert result["unparsed"] == [], (row["text"], result["unparsed"])


async def test_a_road_unknown_to_the_registry_is_kept_as_written_and_marked(demo):
    [result] = await parses(demo, ["宁波市江北区风华路818号宁波大学"])
    road = parts(result)["road"]
    assert (road["text"], road["value"], road["ref"], road["written_status"]) == ("风华路", "风华路", None, "unknown")
    assert parts(result)["house_number"]["value"] == "818"
    assert any("风华路 is unknown to the registry" in r for r in result["reasons"])
    assert result["match"] is None  # nothing in the registry to match: never a guess


async def test_a_lane_number_is_a_lane_and_the_house_is_numbered_in_it(demo):
    [result] = await parses(demo, ["海曙区洪塘中路500弄3号2幢"])
    got = {k: p["value"] for k, p in parts(result).items()}
    assert (got["road"], got["lane"], got["house_number"], got["building"]) == ("洪塘中路", "500", "3", "2")


async def test_a_township_under_the_district_it_left_takes_its_district_of_today(demo):
    """集士港镇 moved from 鄞州区 to 海曙区 in 2016: an address written the old way lies in 海曙区."""
    [result] = await parses(demo, ["鄞州区集士港镇集士港村"])
    assert result["district_code"] == "330203"
    assert parts(result)["township"]["ref"] == "330203102"
    assert parts(result)["community"]["ref"] == "330203102202"  # its village is found under it
    assert any("集士港镇 lies in district 330203 today; 鄞州区 as written" in r for r in result["reasons"])


async def test_a_village_is_found_by_its_name_as_well_as_its_committees(demo):
    """NBS lists 东光村村委会; people write 东光村 (never 东光村村)."""
    committee, village, doubled = await parses(demo, ["鄞州区东光村村委会", "鄞州区东光村", "鄞州区东光村村"])
    assert parts(committee)["community"]["ref"] == parts(village)["community"]["ref"] == "330212110244"
    assert doubled["unparsed"] != []  # the doubled form is no name of anything


async def test_a_street_offices_short_form_does_not_swallow_a_road_that_begins_with_it(demo):
    road_result, office_result = await parses(demo, ["鄞州区东柳路88号", "鄞州区东柳街道"])
    assert "township" not in parts(road_result)
    assert parts(road_result)["road"]["value"] == "东柳路"
    assert parts(road_result)["house_number"]["value"] == "88"
    assert parts(office_result)["township"]["value"] == "东柳街道"


@pytest.mark.parametrize("written", ["江北区中马街道", "江北区白沙街道", "江北区中马"])
async def test_former_names_of_a_street_office_read_as_the_office_of_today(demo, written):
    [result] = await parses(demo, [written])
    township = parts(result)["township"]
    assert (township["value"], township["ref"], township["written_status"]) == ("外滩街道", "330205001", "historical")
    assert any("an old name; today: 外滩街道" in r for r in result["reasons"])


async def test_a_standard_address_in_a_lane_is_matched_by_its_own_name(demo):
    """The registry numbers a house in a lane as one house number (百丈东路358弄5号: 358弄5); the parser reads
    the lane and the house apart. The lookup joined them, but the scoring compared the house alone (5) and refused
    the address it had found: no address in a lane was ever matched, not even by its own standard name."""
    listed = await demo.get(f"{API}/addresses", params={"district_code": "330212", "limit": 100})
    assert listed.status_code == 200, listed.text
    in_lanes = [a for a in listed.json()["items"] if a["house_number"] and "弄" in a["house_number"]]
    assert in_lanes, "the demo data holds addresses in lanes"
    for address in in_lanes:
        name, code = address["full_name"], address["code"]
        single = await demo.post(f"{API}/parse", json={"text": name}, headers=demo.as_(YINZHOU_STAFF))
        assert single.status_code == 200 and (single.json()["match"] or {}).get("code") == code, single.text
        [batch] = await parses(demo, [name])
        assert (batch["match"] or {}).get("code") == code, batch
        geocoded = await demo.get(f"{API}/geocode", params={"q": name})
        assert (geocoded.json()["match"] or {}).get("code") == code, geocoded.text
        # Typed as far as the lane and the house: the address is offered.
        typed = name.removeprefix("宁波市").removesuffix("号")
        offered = await demo.get(f"{API}/addresses/search", params={"q": typed})
        assert code in [i["ref"] for i in offered.json()["items"]], (typed, offered.text)
