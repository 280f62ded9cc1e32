"""Standard addresses: a code issued once and never again, normalised parts, lineage through splits, merges
and renamings, addresses without a house number, and concurrent issuing that never doubles a code."""

import asyncio
import datetime as dt

import pytest

from tests.placenames.helpers import API, CITY_STAFF, HAISHU_STAFF, YINZHOU_STAFF, load_demo, name_id

ADDRESSES = f"{API}/addresses"
YINZHOU, ZHONGGONGMIAO = "330212", "330212002"


@pytest.fixture
async def demo(client):
    await load_demo(client)
    return client


async def issue(client, principal=YINZHOU_STAFF, **parts):
    return await client.post(ADDRESSES, headers=client.as_(principal), json={"district_code": YINZHOU} | parts)


async def test_an_address_gets_a_stable_code_and_its_standard_text(demo):
    road = await name_id(demo, "天童南路", YINZHOU)
    response = await issue(
        demo,
        township_code=ZHONGGONGMIAO,
        road_id=road,
        house_number="５８８号",
        building="三幢",
        unit="2单元",
        room="501",
        latitude=29.8386,
        longitude=121.5447,
    )
    assert response.status_code == 201, response.text
    address = response.json()
    assert len(address["code"]) == 16 and address["code"].startswith(YINZHOU)
    assert address["full_name"] == "宁波市鄞州区天童南路588号3幢2单元501室"
    assert (address["level"], address["house_number"], address["building"], address["unit"], address["room"]) == (
        "room",
        "588",
        "3",
        "2",
        "501",
    )
    detail = (await demo.get(f"{ADDRESSES}/{address['code']}")).json()
    assert detail["full_name"] == address["full_name"] and detail["lineage"] == [] and detail["plates"] == []
    # The same address written another way is the same address: a 409 naming the one that exists.
    again = await issue(demo, road_id=road, house_number="五百八十八", building="3", unit="２", room="501室")
    assert again.status_code == 409 and again.json()["resource"] == f"addresses/{address['code']}"


async def test_sub_numbers_are_one_address_whatever_the_dash_or_之(demo):
    """12—1 (em dash; a 422 before), 12－1, 12-1号 and 12号之一 are one house number, 12-1; 附一号 is 附1."""
    road = await name_id(demo, "天童南路", YINZHOU)
    first = await issue(demo, road_id=road, house_number="12—1")
    assert first.status_code == 201, first.text
    assert (first.json()["house_number"], first.json()["full_name"]) == ("12-1", "宁波市鄞州区天童南路12-1号")
    for written in ("12－1", "12–1号", "12-1号", "12号之一", "十二之一号"):
        again = await issue(demo, road_id=road, house_number=written)
        assert again.status_code == 409 and again.json()["resource"] == f"addresses/{first.json()['code']}", written
    annex = await issue(demo, road_id=road, house_number="附一号")
    assert annex.status_code == 201 and annex.json()["house_number"] == "附1", annex.text
    # 20 characters as written, 21 as stored (十 is 10): refused by name, not cut off or a 500 on PostgreSQL.
    for written in ("十之" + "1" * 18, "十号附" + "1" * 17):
        long = await issue(demo, road_id=road, house_number=written)
        assert long.status_code == 422 and long.json()["errors"][0]["field"] == "house_number", long.text


async def test_an_address_without_a_house_number_lies_in_a_named_area(demo):
    area = await name_id(demo, "福明家园", YINZHOU)
    response = await issue(demo, area_id=area, building="12", unit="3", room="1001")
    assert response.status_code == 201, response.text
    assert response.json()["full_name"] == "宁波市鄞州区福明家园12幢3单元1001室"
    assert response.json()["house_number"] is None


async def test_a_decision_dated_after_today_is_refused_and_changes_nothing(demo):
    """A retirement, split or merger is decided on a day already come; 2062 typed for 2026 retired the address at
    once, with a retirement dated decades away."""
    from shared import clock

    road = await name_id(demo, "宁穿路", YINZHOU)
    first = (await issue(demo, road_id=road, house_number="3")).json()
    second = (await issue(demo, road_id=road, house_number="4")).json()
    ahead = {"decided_on": (clock.today() + dt.timedelta(days=1)).isoformat()}
    into = {"district_code": YINZHOU, "road_id": road, "house_number": "3-4"}
    for path, body in (
        (f"{ADDRESSES}/{first['code']}/retire", ahead),
        (f"{ADDRESSES}/{first['code']}/split", ahead | {"into": [into | {"house_number": "3A"}, into]}),
        (f"{API}/address-merges", ahead | {"codes": [first["code"], second["code"]], "into": into}),
    ):
        refused = await demo.post(path, headers=demo.as_(YINZHOU_STAFF), json=body)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["decided_on"]
    for address in (first, second):
        assert (await demo.get(f"{ADDRESSES}/{address['code']}")).json()["status"] == "current"
    today = await demo.post(
        f"{ADDRESSES}/{first['code']}/retire",
        headers=demo.as_(YINZHOU_STAFF),
        json={"decided_on": clock.today().isoformat()},
    )
    assert today.status_code == 200 and today.json()["status"] == "retired", today.text


async def test_a_retired_code_is_never_issued_again(demo):
    road = await name_id(demo, "宁穿路", YINZHOU)
    first = (await issue(demo, road_id=road, house_number="1")).json()
    retired = await demo.post(
        f"{ADDRESSES}/{first['code']}/retire", headers=demo.as_(YINZHOU_STAFF), json={"decided_on": "2026-11-01"}
    )
    assert retired.status_code == 200 and retired.json()["status"] == "retired"
    # The very same parts may be issued again, but under a new code; the old one stays readable, retired.
    second = (await issue(demo, road_id=road, house_number="1")).json()
    assert second["code"] != first["code"] and int(second["code"][6:]) > int(first["code"][6:])
    assert (await demo.get(f"{ADDRESSES}/{first['code']}")).json()["status"] == "retired"
    twice = await demo.post(
        f"{ADDRESSES}/{first['code']}/retire", headers=demo.as_(YINZHOU_STAFF), json={"decided_on": "2026-11-02"}
    )
    assert twice.status_code == 409
    listed = (await demo.get(ADDRESSES, params={"road_id": road})).json()["items"]
    assert [a["code"] for a in listed] == [second["code"]]


async def test_split_and_merge_leave_lineage_both_ways(demo):
    road = await name_id(demo, "鄞州大道", YINZHOU)
    whole = (await issue(demo, road_id=road, house_number="100")).json()
    split = await demo.post(
        f"{ADDRESSES}/{whole['code']}/split",
        headers=demo.as_(YINZHOU_STAFF),
        json={
            "decided_on": "2026-10-01",
            "into": [
                {"district_code": YINZHOU, "road_id": road, "house_number": "100-1"},
                {"district_code": YINZHOU, "road_id": road, "house_number": "100-2"},
            ],
        },
    )
    assert split.status_code == 201, split.text
    parts = [a["code"] for a in split.json()["issued"]]
    assert split.json()["retired"] == [whole["code"]] and len(set(parts)) == 2
    old = (await demo.get(f"{ADDRESSES}/{whole['code']}")).json()
    assert old["status"] == "retired" and {(e["kind"], e["to_code"]) for e in old["lineage"]} == {
        ("split", c) for c in parts
    }
    merged = await demo.post(
        f"{API}/address-merges",
        headers=demo.as_(YINZHOU_STAFF),
        json={
            "decided_on": "2026-11-01",
            "codes": parts,
            "into": {"district_code": YINZHOU, "road_id": road, "house_number": "100"},
        },
    )
    assert merged.status_code == 201, merged.text
    [new] = merged.json()["issued"]
    assert new["code"] not in {whole["code"], *parts}  # same text as the original, never its code
    lineage = (await demo.get(f"{ADDRESSES}/{new['code']}")).json()["lineage"]
    assert sorted((e["kind"], e["from_code"]) for e in lineage) == sorted(("merge", c) for c in parts)


async def test_renaming_the_road_keeps_the_codes_and_changes_the_text(demo):
    road = await name_id(demo, "桑田路", YINZHOU)
    address = (await issue(demo, road_id=road, house_number="8")).json()
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
    assert renamed.status_code == 201
    detail = (await demo.get(f"{ADDRESSES}/{address['code']}")).json()
    assert detail["full_name"] == "宁波市鄞州区桑田东路8号" and detail["status"] == "current"
    assert detail["road_id"] == renamed.json()["result_id"]
    assert [(e["kind"], e["old_full_name"]) for e in detail["lineage"]] == [("rename", "宁波市鄞州区桑田路8号")]


async def test_bad_parts_are_refused_field_by_field(demo):
    road = await name_id(demo, "天童南路", YINZHOU)
    area = await name_id(demo, "福明家园", YINZHOU)
    cases = [
        ({"road_id": road, "township_code": "330203001"}, "township_code"),  # a 海曙 street under 鄞州
        ({"road_id": road, "township_code": "330212999"}, "township_code"),  # no such street
        ({"road_id": road, "community_code": "330203001001"}, "community_code"),
        ({}, "road_id"),
        ({"road_id": area}, "road_id"),  # a residential area is no road
        ({"area_id": road}, "area_id"),
        ({"area_id": area, "house_number": "5"}, "house_number"),
        ({"road_id": road, "latitude": 29.8}, "longitude"),
        ({"road_id": road, "latitude": 91, "longitude": 121.5}, "latitude"),
        ({"road_id": road, "longitude": 181, "latitude": 29.8}, "longitude"),
        ({"road_id": road, "house_number": "5号😀"}, "house_number"),
        ({"road_id": road, "house_number": "5" * 21}, "house_number"),
        ({"road_id": road, "district_code": "33021"}, "district_code"),
        ({"road_id": road, "district_code": "330204"}, "district_code"),  # 江东区, abolished in 2016
    ]
    for parts, field in cases:
        response = await issue(demo, CITY_STAFF, **parts)
        assert response.status_code == 422, (parts, response.text)
        assert response.json()["errors"][0]["field"] == field, (parts, response.json())
    outside = await issue(demo, HAISHU_STAFF, road_id=road, house_number="1")
    assert outside.status_code == 403
    for code in ("330212000000000", "abc"):
        assert (await demo.get(f"{ADDRESSES}/{code}")).status_code == 422
    assert (await demo.get(f"{ADDRESSES}/3302129999999999")).status_code == 404


async def test_concurrent_issuing_never_doubles_a_code_or_an_address(committed_client):
    await load_demo(committed_client)
    road = await name_id(committed_client, "世纪大道", YINZHOU)
    distinct = [issue(committed_client, road_id=road, house_number=str(n)) for n in range(1, 13)]
    same = [issue(committed_client, road_id=road, house_number="99") for _ in range(6)]
    responses = await asyncio.gather(*distinct, *same)
    assert all(r.status_code == 201 for r in responses[:12]), [r.text for r in responses[:12]]
    assert sorted(r.status_code for r in responses[12:]) == [201] + [409] * 5
    codes = [r.json()["code"] for r in responses if r.status_code == 201]
    assert len(codes) == len(set(codes)) == 13


async def test_a_lost_counter_restarts_above_every_issued_code(demo):
    from sqlalchemy import delete

    from services.placenames.addresses.models import CodeCounter

    road = await name_id(demo, "宁穿路", YINZHOU)
    before = (await issue(demo, road_id=road, house_number="2")).json()["code"]
    async with demo.app.state.database.sessionmaker() as session:
        await session.execute(delete(CodeCounter))
        await session.commit()
    after = (await issue(demo, road_id=road, house_number="3")).json()["code"]
    assert int(after[6:]) == int(before[6:]) + 1
