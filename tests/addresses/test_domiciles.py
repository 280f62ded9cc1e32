"""Standard addresses of charity's organisations (their domicile, 住所), through the gateway."""

from __future__ import annotations

import itertools

from stdnum.cn import uscc

from services.charity.jobs import tasks as charity_tasks
from tests.addresses.conftest import CHARITY, HAISHU, City, staff_of
from tests.addresses.test_standard_addresses import YINZHOU_STAFF, a_baizhang_house, assert_standard
from tests.jobs import run_jobs

YINZHOU = YINZHOU_STAFF.area
_serial = itertools.count(1)


def organisation(district: str = YINZHOU, **address) -> dict:
    body = f"53{district}MJ{next(_serial):07d}"
    return {
        "name": "鄞州区百丈街道慈善促进会",
        "unified_social_credit_code": body + uscc.calc_check_digit(body),
        "registered_on": "2018-05-01",
        "district_code": district,
        "contact_name": "周海波",
        "contact_phone": "13805741234",
    } | address


async def register(city: City, principal, body: dict):
    return await city.gateway.post(f"{CHARITY}/organizations", headers=city.bearer(principal), json=body)


async def test_a_domicile_is_a_standard_address_in_the_organisations_district(city):
    house = await a_baizhang_house(city)
    by_code = await register(city, YINZHOU_STAFF, organisation(address_code=house["code"]))
    assert by_code.status_code == 201, by_code.text
    assert_standard(by_code.json(), house)
    by_text = await register(city, YINZHOU_STAFF, organisation(address=f"鄞州区天童南路{house['house_number']}号"))
    assert by_text.status_code == 201, by_text.text
    assert_standard(by_text.json(), house)
    # Registered in 海曙区 by its staff, but domiciled in 鄞州区: outside their area.
    elsewhere = await register(
        city, staff_of(HAISHU, "staff:haishu-test"), organisation(HAISHU, address_code=house["code"])
    )
    assert elsewhere.status_code == 403, elsewhere.text


async def test_a_domicile_written_while_placenames_is_down_is_standardised_by_the_job(city):
    house = await a_baizhang_house(city)
    await city.stop("placenames")
    written = f"鄞州区天童南路{house['house_number']}号"
    pending = await register(city, YINZHOU_STAFF, organisation(address=written))
    assert pending.status_code == 201, pending.text
    assert (pending.json()["address_status"], pending.json()["area_code"]) == ("pending", YINZHOU)
    await city.start("placenames")
    await run_jobs(city.apps["charity"], charity_tasks)
    now = await city.gateway.get(f"{CHARITY}/organizations/{pending.json()['id']}")
    assert_standard(now.json(), house)
    assert now.json()["address_written"] == written
