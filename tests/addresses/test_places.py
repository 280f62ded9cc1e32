"""Standard addresses of eldercare's places: canteens, institutions and providers' bases, through the gateway."""

from __future__ import annotations

from services.eldercare.jobs import tasks as eldercare_tasks
from tests.addresses.conftest import ELDERCARE, City
from tests.addresses.test_standard_addresses import (
    BAIZHANG,
    BAIZHANG_COMMUNITY,
    HAISHU_STAFF,
    YINZHOU_STAFF,
    a_baizhang_house,
    assert_standard,
)
from tests.jobs import run_jobs

_credit_codes = iter(range(100, 999))


def canteen(**address) -> tuple[str, dict]:
    return "/canteens", {"name": "百丈街道老年食堂", "kind": "canteen", "delivery_area_codes": [BAIZHANG]} | address


def institution(**address) -> tuple[str, dict]:
    return "/institutions", {"name": f"百丈颐养院{next(_credit_codes)}", "ownership": "private"} | address


def provider(**address) -> tuple[str, dict]:
    code = f"91330212MA2{next(_credit_codes):03d}0000"[:17] + "0"
    return "/providers", {"name": "颐乐居家服务中心", "credit_code": code} | address


PLACES = (canteen, institution, provider)


async def post(city: City, principal, place: tuple[str, dict]):
    path, body = place
    return await city.gateway.post(f"{ELDERCARE}{path}", headers=city.bearer(principal), json=body)


async def test_each_place_takes_its_division_and_position_from_its_standard_address(city):
    house = await a_baizhang_house(city)
    for make in PLACES:
        by_code = await post(city, YINZHOU_STAFF, make(address_code=house["code"]))
        assert by_code.status_code == 201, (make.__name__, by_code.text)
        assert_standard(by_code.json(), house)
        by_text = await post(city, YINZHOU_STAFF, make(address=f"鄞州区天童南路{house['house_number']}号"))
        assert by_text.status_code == 201, (make.__name__, by_text.text)
        assert_standard(by_text.json(), house)
        elsewhere = await post(city, HAISHU_STAFF, make(address_code=house["code"]))
        assert elsewhere.status_code == 403, (make.__name__, elsewhere.text)


async def test_a_delivery_area_must_be_a_division_in_force(city):
    house = await a_baizhang_house(city)
    path, body = canteen(address_code=house["code"])
    body["delivery_area_codes"] = [BAIZHANG, "330204001"]  # 江东区's street: the district ended in 2016
    refused = await post(city, YINZHOU_STAFF, (path, body))
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "delivery_area_codes.1"


async def read(city: City, path: str, place_id: int) -> dict:
    """The place as staff see it: canteens and institutions one by one, providers in their list."""
    headers = city.bearer(YINZHOU_STAFF)
    if path == "/providers":
        listed = await city.gateway.get(f"{ELDERCARE}{path}", headers=headers)
        [record] = [p for p in listed.json()["items"] if p["id"] == place_id]
        return record
    found = await city.gateway.get(f"{ELDERCARE}{path}/{place_id}", headers=headers)
    assert found.status_code == 200, (path, found.text)
    return found.json()


async def test_places_written_while_placenames_is_down_are_standardised_by_the_job(city):
    house = await a_baizhang_house(city)
    await city.stop("placenames")
    written = f"鄞州区天童南路{house['house_number']}号"
    pending = {}
    for make in PLACES:
        path, body = make(address=written, area_code=BAIZHANG)
        response = await post(city, YINZHOU_STAFF, (path, body))
        assert response.status_code == 201, (path, response.text)
        assert response.json()["address_status"] == "pending" and response.json()["area_code"] == BAIZHANG
        pending[path] = response.json()["id"]
    await city.start("placenames")
    await run_jobs(city.apps["eldercare"], eldercare_tasks)
    for path, place_id in pending.items():
        record = await read(city, path, place_id)
        assert_standard(record, house)
        assert record["area_code"] == BAIZHANG_COMMUNITY and record["address_written"] == written
