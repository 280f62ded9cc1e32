"""Where charity projects are carried out (项目实施地点): each site at a standard address, through the gateway."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from services.charity.jobs import tasks as charity_tasks
from services.charity.projects import service as projects
from tests.addresses.conftest import CHARITY, HAISHU, City, staff_of
from tests.addresses.test_domiciles import organisation, register
from tests.addresses.test_standard_addresses import (
    BAIZHANG_COMMUNITY,
    YINZHOU_STAFF,
    a_baizhang_house,
    assert_standard,
    house_number,
    issue,
)
from tests.charity.factories import days
from tests.jobs import run_jobs

HAISHU_STAFF = staff_of(HAISHU, "staff:haishu-test")
_sites = itertools.count(1)


async def a_project(city: City) -> dict:
    """A draft project of an organisation domiciled in 鄞州区 (a directed fundraising: no qualification needed)."""
    house = await a_baizhang_house(city)
    org = await register(city, YINZHOU_STAFF, organisation(address_code=house["code"]))
    assert org.status_code == 201, org.text
    made = await city.gateway.post(
        f"{CHARITY}/projects",
        headers=city.bearer(YINZHOU_STAFF),
        json={
            "organization_id": org.json()["id"],
            "title": "社区老人助餐计划",
            "summary": "为社区独居老人提供午餐",
            "beneficiaries": "百丈街道独居老人",
            "public_fundraising": False,
            "target_fen": 500_000,
            "starts_on": days(10),
            "ends_on": days(100),
            "budget_lines": [{"name": "餐费补贴", "amount_fen": 500_000}],
        },
    )
    assert made.status_code == 201, made.text
    return made.json()


async def add_site(city: City, project_id: int, principal=YINZHOU_STAFF, **body):
    return await city.gateway.post(
        f"{CHARITY}/projects/{project_id}/sites",
        headers=city.bearer(principal),
        json={"name": f"百丈街道社区活动中心{next(_sites)}"} | body,
    )


async def sites_of(city: City, project_id: int) -> list[dict]:
    listed = await city.gateway.get(f"{CHARITY}/projects/{project_id}/sites", headers=city.bearer(YINZHOU_STAFF))
    assert listed.status_code == 200, listed.text
    return listed.json()


async def test_a_site_is_a_standard_address_with_its_division_derived(city):
    project = await a_project(city)
    house = await a_baizhang_house(city)
    by_code = await add_site(city, project["id"], address_code=house["code"])
    assert by_code.status_code == 201, by_code.text
    assert_standard(by_code.json(), house)
    by_text = await add_site(city, project["id"], address=f"鄞州区天童南路{house['house_number']}号")
    assert by_text.status_code == 201, by_text.text
    assert_standard(by_text.json(), house)
    assert by_text.json()["area_code"] == BAIZHANG_COMMUNITY  # derived, never typed
    assert [s["id"] for s in await sites_of(city, project["id"])] == [by_code.json()["id"], by_text.json()["id"]]

    # A site outside the caller's area: 403, and nothing is stored.
    haishu_house = await issue(city, "中山西路", HAISHU, house_number())
    outside = await add_site(city, project["id"], address_code=haishu_house["code"])
    assert outside.status_code == 403, outside.text
    # Text that cannot be placed names the part; neither field, or both, is a 422 on `address`.
    unplaceable = await add_site(city, project["id"], address="鄞州区不存在的路99999号")
    assert unplaceable.status_code == 422, unplaceable.text
    neither = await add_site(city, project["id"])
    assert neither.status_code == 422 and neither.json()["errors"][0]["field"] == "address", neither.text
    assert len(await sites_of(city, project["id"])) == 2

    # Another district's staff cannot see the project at all.
    hidden = await add_site(city, project["id"], HAISHU_STAFF, address_code=house["code"])
    assert hidden.status_code == 404, hidden.text


async def test_a_name_twice_a_closed_project_and_removal(city):
    project = await a_project(city)
    house = await a_baizhang_house(city)
    first = await add_site(city, project["id"], name="百丈街道老年食堂", address_code=house["code"])
    assert first.status_code == 201, first.text
    again = await add_site(city, project["id"], name="百丈街道老年食堂", address_code=house["code"])
    assert again.status_code == 409, again.text
    assert again.json()["resource"].endswith(f"/sites/{first.json()['id']}")
    removed = await city.gateway.delete(
        f"{CHARITY}/projects/{project['id']}/sites/{first.json()['id']}", headers=city.bearer(YINZHOU_STAFF)
    )
    assert removed.status_code == 204, removed.text
    assert await sites_of(city, project["id"]) == []
    gone = await city.gateway.delete(
        f"{CHARITY}/projects/{project['id']}/sites/{first.json()['id']}", headers=city.bearer(YINZHOU_STAFF)
    )
    assert gone.status_code == 404, gone.text


async def test_a_site_written_while_placenames_is_down_is_standardised_by_the_job(city):
    project = await a_project(city)
    house = await a_baizhang_house(city)
    await city.stop("placenames")
    written = f"鄞州区天童南路{house['house_number']}号"
    pending = await add_site(city, project["id"], address=written)
    assert pending.status_code == 201, pending.text
    assert pending.json()["address_status"] == "pending"
    assert pending.json()["area_code"] == YINZHOU_STAFF.area  # the caller's own area until it is placed
    await city.start("placenames")
    await run_jobs(city.apps["charity"], charity_tasks)
    (site,) = await sites_of(city, project["id"])
    assert_standard(site, house)
    assert site["address_written"] == written


async def test_an_unresolved_site_is_given_again(city):
    project = await a_project(city)
    house = await a_baizhang_house(city)
    await city.stop("placenames")
    pending = await add_site(city, project["id"], address="鄞州区不存在的路99999号")
    await city.start("placenames")
    await run_jobs(city.apps["charity"], charity_tasks)
    (site,) = await sites_of(city, project["id"])
    assert site["address_status"] == "unresolved"
    given = await city.gateway.put(
        f"{CHARITY}/projects/{project['id']}/sites/{pending.json()['id']}/address",
        headers=city.bearer(YINZHOU_STAFF),
        json={"address_code": house["code"]},
    )
    assert given.status_code == 200, given.text
    assert_standard(given.json(), house)


async def test_concurrent_sites_keep_names_unique_and_the_ceiling(city, monkeypatch):
    """Many adds at once, on one project: one site per name, never more sites than the ceiling, and the next
    ordinary request still works."""
    monkeypatch.setattr(projects, "MAX_SITES", 4)
    project = await a_project(city)
    house = await a_baizhang_house(city)
    same = await asyncio.gather(
        *(add_site(city, project["id"], name="百丈街道老年食堂", address_code=house["code"]) for _ in range(8))
    )
    assert sorted(r.status_code for r in same) == [201] + [409] * 7, [r.text for r in same]
    distinct = await asyncio.gather(
        *(add_site(city, project["id"], name=f"助餐点{n}", address_code=house["code"]) for n in range(10))
    )
    assert sorted(r.status_code for r in distinct) == [201] * 3 + [409] * 7, [r.text for r in distinct]
    assert len(await sites_of(city, project["id"])) == 4
    after = await city.gateway.get(f"{CHARITY}/projects/{project['id']}", headers=city.bearer(YINZHOU_STAFF))
    assert after.status_code == 200, after.text


@pytest.mark.parametrize("field", ["name"])
async def test_bad_input_is_a_422_naming_the_field(city, field):
    project = await a_project(city)
    bad = await add_site(city, project["id"], name="x", address="天童南路1号")
    assert bad.status_code == 422, bad.text
    assert bad.json()["errors"][0]["field"] == field
    missing = await add_site(city, 10**9, address="天童南路1号")
    assert missing.status_code == 404, missing.text
