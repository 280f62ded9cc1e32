"""Door plates (one plate, several addresses; one address, several plates; replace and revoke once), name
checks for other agencies, and the plan's indicators."""

import asyncio
import datetime as dt

import pytest

from shared import clock
from tests.indicators import checked, item, value
from tests.placenames.helpers import API, HAISHU_STAFF, YINZHOU_STAFF, load_demo, name_id

PLATES = f"{API}/door-plates"
YINZHOU = "330212"


@pytest.fixture
async def demo(client):
    await load_demo(client)
    return client


async def issue_address(client, **parts) -> str:
    response = await client.post(
        f"{API}/addresses", headers=client.as_(YINZHOU_STAFF), json={"district_code": YINZHOU} | parts
    )
    assert response.status_code == 201, response.text
    return response.json()["code"]


async def test_plates_and_addresses_many_to_many(demo):
    road = await name_id(demo, "宁穿路", YINZHOU)
    shop, flat = (
        await issue_address(demo, road_id=road, house_number="8"),
        await issue_address(demo, road_id=road, house_number="8", building="1"),
    )
    shared = await demo.post(
        PLATES,
        headers=demo.as_(YINZHOU_STAFF),
        json={"address_codes": [shop, flat], "what_is_there": "社区卫生服务站", "issued_on": "2026-11-01"},
    )
    assert shared.status_code == 201, shared.text
    plate = shared.json()
    assert plate["code"].startswith("NBMP") and plate["plate_text"] == "宁穿路8号" and plate["status"] == "issued"
    assert [a["code"] for a in plate["addresses"]] == sorted([shop, flat])
    second = (
        await demo.post(
            PLATES,
            headers=demo.as_(YINZHOU_STAFF),
            json={"address_codes": [shop], "plate_text": "宁穿路8号(侧门)", "issued_on": "2026-11-02"},
        )
    ).json()
    detail = (await demo.get(f"{API}/addresses/{shop}")).json()
    assert {p["code"] for p in detail["plates"]} == {plate["code"], second["code"]}  # 多号一址
    scanned = (await demo.get(f"{PLATES}/{plate['code']}")).json()
    assert scanned["what_is_there"] == "社区卫生服务站" and len(scanned["addresses"]) == 2


async def test_a_plate_is_replaced_or_revoked_once(demo):
    road = await name_id(demo, "宁穿路", YINZHOU)
    code = await issue_address(demo, road_id=road, house_number="9")
    plate = (
        await demo.post(
            PLATES, headers=demo.as_(YINZHOU_STAFF), json={"address_codes": [code], "issued_on": "2026-01-01"}
        )
    ).json()
    replaced = await demo.post(
        f"{PLATES}/{plate['code']}/replace", headers=demo.as_(YINZHOU_STAFF), json={"issued_on": "2026-11-01"}
    )
    assert replaced.status_code == 201 and replaced.json()["code"] != plate["code"]
    old = (await demo.get(f"{PLATES}/{plate['code']}")).json()
    assert (old["status"], old["replaced_by"], old["ended_on"]) == ("replaced", replaced.json()["code"], "2026-11-01")
    again = await demo.post(
        f"{PLATES}/{plate['code']}/revoke", headers=demo.as_(YINZHOU_STAFF), json={"revoked_on": "2026-11-02"}
    )
    assert again.status_code == 409
    revoked = await demo.post(
        f"{PLATES}/{replaced.json()['code']}/revoke", headers=demo.as_(YINZHOU_STAFF), json={"revoked_on": "2026-11-02"}
    )
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    outside = await demo.post(
        f"{PLATES}/{plate['code']}/replace", headers=demo.as_(HAISHU_STAFF), json={"issued_on": "2026-11-01"}
    )
    assert outside.status_code in (403, 409)


async def test_plate_bad_input(demo):
    road = await name_id(demo, "宁穿路", YINZHOU)
    code = await issue_address(demo, road_id=road, house_number="10")
    for body, field in (
        ({"address_codes": [], "issued_on": "2026-01-01"}, "address_codes"),
        ({"address_codes": ["3302129999999999"], "issued_on": "2026-01-01"}, "address_codes.0"),
        ({"address_codes": [code, code], "issued_on": "2026-01-01"}, "address_codes"),
        ({"address_codes": [code], "issued_on": "2026-13-01"}, "issued_on"),
    ):
        response = await demo.post(PLATES, headers=demo.as_(YINZHOU_STAFF), json=body)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field, body
    plate = (
        await demo.post(
            PLATES, headers=demo.as_(YINZHOU_STAFF), json={"address_codes": [code], "issued_on": "2026-06-01"}
        )
    ).json()
    early = await demo.post(
        f"{PLATES}/{plate['code']}/revoke", headers=demo.as_(YINZHOU_STAFF), json={"revoked_on": "2026-05-01"}
    )
    assert early.status_code == 422 and early.json()["errors"][0]["field"] == "revoked_on"
    assert (await demo.get(f"{PLATES}/NBMP99999999")).status_code == 404
    assert (await demo.get(f"{PLATES}/XX")).status_code == 422


async def test_a_plate_dated_after_today_is_refused_and_nothing_changes(demo):
    """A day ahead (2062 for 2026) issued, replaced or revoked a plate at once, dated years away."""
    road = await name_id(demo, "宁穿路", YINZHOU)
    code = await issue_address(demo, road_id=road, house_number="12")
    tomorrow = (clock.today() + dt.timedelta(days=1)).isoformat()
    ahead = await demo.post(
        PLATES, headers=demo.as_(YINZHOU_STAFF), json={"address_codes": [code], "issued_on": tomorrow}
    )
    assert ahead.status_code == 422 and ahead.json()["errors"][0]["field"] == "issued_on", ahead.text
    plate = (
        await demo.post(
            PLATES, headers=demo.as_(YINZHOU_STAFF), json={"address_codes": [code], "issued_on": "2026-06-01"}
        )
    ).json()
    for action, body in (("replace", {"issued_on": tomorrow}), ("revoke", {"revoked_on": tomorrow})):
        response = await demo.post(f"{PLATES}/{plate['code']}/{action}", headers=demo.as_(YINZHOU_STAFF), json=body)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] in body, response.text
    after = (await demo.get(f"{PLATES}/{plate['code']}")).json()
    assert after["status"] == "issued" and after["ended_on"] is None


async def test_concurrent_revocations_of_one_plate(committed_client):
    await load_demo(committed_client)
    road = await name_id(committed_client, "宁穿路", YINZHOU)
    code = await issue_address(committed_client, road_id=road, house_number="11")
    plate = (
        await committed_client.post(
            PLATES,
            headers=committed_client.as_(YINZHOU_STAFF),
            json={"address_codes": [code], "issued_on": "2026-06-01"},
        )
    ).json()
    calls = [
        committed_client.post(
            f"{PLATES}/{plate['code']}/revoke",
            headers=committed_client.as_(YINZHOU_STAFF),
            json={"revoked_on": "2026-11-01"},
        )
        for _ in range(4)
    ] + [
        committed_client.post(
            f"{PLATES}/{plate['code']}/replace",
            headers=committed_client.as_(YINZHOU_STAFF),
            json={"issued_on": "2026-11-01"},
        )
        for _ in range(4)
    ]
    responses = await asyncio.gather(*calls)
    assert sorted(r.status_code for r in responses if r.status_code < 300) in ([200], [201]), [
        r.text for r in responses
    ]
    assert all(r.status_code == 409 for r in responses if r.status_code >= 300)
    # The losers left nothing behind: at most the one replacement plate exists besides the original.
    address = (await committed_client.get(f"{API}/addresses/{code}")).json()
    assert len(address["plates"]) == (2 if any(r.status_code == 201 for r in responses) else 1)


async def test_name_checks(demo):
    async def check(**body):
        response = await demo.post(f"{API}/name-checks", headers=demo.as_(YINZHOU_STAFF), json=body)
        assert response.status_code == 200, response.text
        return response.json()

    standard = await check(name="天童南路", kind="road")
    assert standard["is_standard"] and standard["status"] == "standard"
    alias = await check(name="天童路")
    assert not alias["is_standard"] and alias["standard_forms"][0]["name"] == "天童南路"
    old = await check(name="甬江路")
    assert old["status"] == "historical" and old["standard_forms"][0]["name"] == "江东北路"
    grand = await check(name="环球国际Plaza花园", kind="residential_area")
    assert grand["status"] == "unregistered" and len(grand["reasons"]) >= 2
    wrong_kind = await check(name="天童南桥", kind="road")
    assert any("通名" in r for r in wrong_kind["reasons"])
    assert any(f["name"] == "天童南路" for f in wrong_kind["standard_forms"])
    misspelt = await check(name="中山西陆", kind="road")  # 陆 for 路: sounds the same
    assert misspelt["status"] == "unregistered" and misspelt["standard_forms"][0]["name"] == "中山西路"
    assert any("sounds the same as 中山西路" in r for r in misspelt["reasons"])
    heard = await check(name="横山路", district_code="330206")  # two roads of 北仑区 sound heng shan lu
    assert {f["name"] for f in heard["standard_forms"][:2]} == {"衡山路", "恒山路"}
    for body in ({"name": ""}, {"name": "x" * 101}, {"name": "a", "kind": "river"}):
        response = await demo.post(f"{API}/name-checks", headers=demo.as_(YINZHOU_STAFF), json=body)
        assert response.status_code == 422
    assert (await demo.post(f"{API}/name-checks", json={"name": "天童南路"})).status_code == 401


async def test_indicators_count_the_registers(demo):
    before = (await demo.get(f"{API}/indicators")).json()
    assert {i["area"] for i in before["items"]} == {"330200"}  # the registers are the city's
    assert item(before, "unified_roads")["target"]["value"] == 16 and value(before, "standard_names") >= 250
    road = await name_id(demo, "宁穿路", YINZHOU)
    code = await issue_address(demo, road_id=road, house_number="12")
    await demo.post(PLATES, headers=demo.as_(YINZHOU_STAFF), json={"address_codes": [code], "issued_on": "2026-06-01"})
    old_day = (clock.today() - dt.timedelta(days=30)).isoformat()
    await demo.post(
        f"{API}/names/{await name_id(demo, '百丈路', YINZHOU)}/events",
        headers=demo.as_(YINZHOU_STAFF),
        json={
            "kind": "unification",
            "into_id": await name_id(demo, "百丈东路", YINZHOU),
            "decision_document": "甬政地名〔2026〕1号",
            "decided_on": old_day,
        },
    )
    after = checked((await demo.get(f"{API}/indicators")).json())
    for code in ("standard_addresses", "plates_issued", "unified_roads"):
        assert value(after, code) == value(before, code) + 1, code
    assert value(after, "unification_progress") == pytest.approx(value(after, "unified_roads") / 16, abs=0.001)
    assert value(after, "filings_missed") == value(before, "filings_missed") + 1  # decided 30 days ago, never filed


async def test_a_retried_plate_issue_prints_one_plate(demo):
    road = await name_id(demo, "宁穿路", YINZHOU)
    code = await issue_address(demo, road_id=road, house_number="13")
    body = {"address_codes": [code], "issued_on": "2026-06-01"}
    headers = demo.as_(YINZHOU_STAFF) | {"Idempotency-Key": "plate-13"}
    first, again = [await demo.post(PLATES, headers=headers, json=body) for _ in range(2)]
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and again.json()["code"] == first.json()["code"]
    assert len((await demo.get(f"{API}/addresses/{code}")).json()["plates"]) == 1
    other = await demo.post(PLATES, headers=headers, json=body | {"what_is_there": "便利店"})
    assert other.status_code == 422


async def test_a_plate_carries_the_successors_of_a_split_or_merged_address_never_the_retired_one(demo):
    road = await name_id(demo, "宁穿路", YINZHOU)
    whole = await issue_address(demo, road_id=road, house_number="358")
    plate = (
        await demo.post(
            PLATES, headers=demo.as_(YINZHOU_STAFF), json={"address_codes": [whole], "issued_on": "2026-11-01"}
        )
    ).json()
    split = await demo.post(
        f"{API}/addresses/{whole}/split",
        headers=demo.as_(YINZHOU_STAFF),
        json={
            "decided_on": "2026-11-10",
            "into": [
                {"district_code": YINZHOU, "road_id": road, "house_number": "358-1"},
                {"district_code": YINZHOU, "road_id": road, "house_number": "358-2"},
            ],
        },
    )
    assert split.status_code == 201, split.text
    parts = sorted(a["code"] for a in split.json()["issued"])
    scanned = (await demo.get(f"{PLATES}/{plate['code']}")).json()
    assert [a["code"] for a in scanned["addresses"]] == parts
    assert all(a["status"] == "current" for a in scanned["addresses"])
    assert (await demo.get(f"{API}/addresses/{whole}")).json()["plates"] == []
    merged = await demo.post(
        f"{API}/address-merges",
        headers=demo.as_(YINZHOU_STAFF),
        json={
            "decided_on": "2026-11-20",
            "codes": parts,
            "into": {"district_code": YINZHOU, "road_id": road, "house_number": "358"},
        },
    )
    assert merged.status_code == 201, merged.text
    [new] = merged.json()["issued"]
    assert [a["code"] for a in (await demo.get(f"{PLATES}/{plate['code']}")).json()["addresses"]] == [new["code"]]
