"""Standard addresses (一址通) on eldercare's elders and assistance's households, through the gateway.

A record's place is a standard address of the placenames registry, given by its code or as free text that
placenames standardises; its division (`area_code`, which area-scoped access rests on) and its position follow
from it. While placenames is down, records are accepted as pending and a job standardises them later.
"""

from __future__ import annotations

import itertools
import os

from services.assistance.jobs import tasks as assistance_tasks
from services.eldercare.elders.models import Elder
from services.eldercare.jobs import tasks as eldercare_tasks
from shared.addresses import AddressTable, Placenames, standardise_pending
from shared.areas import CITY_CODE
from shared.divisions import division_code, tree
from tests.addresses.conftest import ASSISTANCE, ELDERCARE, HAISHU, PLACENAMES, YINZHOU, City, staff_of
from tests.jobs import run_jobs

CITY_STAFF = staff_of(CITY_CODE, "staff:city-test")
YINZHOU_STAFF = staff_of(YINZHOU, "staff:yinzhou-test")
HAISHU_STAFF = staff_of(HAISHU, "staff:haishu-test")
BAIZHANG = division_code("百丈街道")
# A community of 百丈街道, as the division tree has it: the area a standard address there derives.
BAIZHANG_COMMUNITY = min(
    d.code for d in tree().by_code.values() if d.current and d.level == "village" and d.parent == BAIZHANG
)
_numbers = itertools.count(7000 + os.getpid() % 1000 * 2)
_people = itertools.count(1)


def house_number() -> str:
    return str(next(_numbers))


def elder_id_number() -> str:
    """A valid ID number of a woman born in March 1945, unique within the run."""
    n = next(_people)
    body = f"330212194503{n % 28 + 1:02d}{n // 28 % 100:02d}2"  # an even 17th digit: a woman
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    return body + check


async def road_id(city: City, name: str, district: str) -> int:
    found = await city.gateway.get(f"{PLACENAMES}/names/resolve", params={"name": name, "district_code": district})
    assert found.status_code == 200, found.text
    return found.json()[0]["id"]


async def issue(city: City, road: str, district: str, number: str, **parts) -> dict:
    """A standard address issued by the city's staff."""
    issued = await city.gateway.post(
        f"{PLACENAMES}/addresses",
        headers=city.bearer(CITY_STAFF),
        json={"district_code": district, "road_id": await road_id(city, road, district), "house_number": number}
        | parts,
    )
    assert issued.status_code == 201, issued.text
    return issued.json()


async def register_elder(city: City, principal, **address):
    return await city.gateway.post(
        f"{ELDERCARE}/elders",
        headers=city.bearer(principal),
        json={"id_number": elder_id_number(), "name": "王阿娣"} | address,
    )


async def record_household(city: City, principal, **address):
    return await city.gateway.post(
        f"{ASSISTANCE}/households",
        headers=city.bearer(principal),
        json={
            "members": [
                {
                    "id_number": elder_id_number(),
                    "name": "陈根发",
                    "relationship": "applicant",
                    "labour_capacity": "none",
                }
            ]
        }
        | address,
    )


async def a_baizhang_house(city: City) -> dict:
    """A house on 天童南路 in 鄞州区, filed under a community of 百丈街道, with its position."""
    return await issue(
        city,
        "天童南路",
        YINZHOU,
        house_number(),
        township_code=BAIZHANG,
        community_code=BAIZHANG_COMMUNITY,
        latitude=29.851,
        longitude=121.562,
    )


def assert_standard(record: dict, address: dict) -> None:
    assert record["address_status"] == "standard"
    assert (record["address_code"], record["address"]) == (address["code"], address["full_name"])
    assert record["area_code"] == BAIZHANG_COMMUNITY
    assert (record["latitude"], record["longitude"]) == (address["latitude"], address["longitude"])


async def test_a_standard_address_code_gives_the_record_its_text_division_and_position(city):
    house = await a_baizhang_house(city)
    registered = await register_elder(city, YINZHOU_STAFF, address_code=house["code"])
    assert registered.status_code == 201, registered.text
    assert_standard(registered.json(), house)
    # The record is filed under the derived community: staff of the street see it, by their area.
    street = staff_of(BAIZHANG, "staff:baizhang-test")
    listed = await city.gateway.get(f"{ELDERCARE}/elders", headers=city.bearer(street))
    assert [e["id"] for e in listed.json()["items"]] == [registered.json()["id"]]

    retired_or_unknown = await register_elder(city, YINZHOU_STAFF, address_code="3302129999999999")
    assert retired_or_unknown.status_code == 422
    assert retired_or_unknown.json()["errors"][0]["field"] == "address_code"


async def test_free_text_is_standardised_through_placenames(city):
    house = await a_baizhang_house(city)
    written = f"浙江省宁波市鄞州区天童南路{house['house_number']}号"
    recorded = await record_household(city, YINZHOU_STAFF, address=written)
    assert recorded.status_code == 201, recorded.text
    household = recorded.json()
    assert_standard(household, house)
    assert household["address_written"] == written
    registered = await register_elder(city, YINZHOU_STAFF, address=written, area_code=YINZHOU)
    assert registered.status_code == 201, registered.text
    assert_standard(registered.json(), house)
    # area_code is no longer typed: given, it must agree with the address.
    disagreeing = await register_elder(city, YINZHOU_STAFF, address=written, area_code=division_code("下应街道"))
    assert disagreeing.status_code == 422 and disagreeing.json()["errors"][0]["field"] == "area_code"


async def test_ambiguous_text_is_refused_with_the_ranked_candidates(city):
    number = house_number()
    jiangbei = await issue(city, "新河路", division_code("江北区"), number)
    yinzhou = await issue(city, "新河路", YINZHOU, number)
    refused = await register_elder(city, CITY_STAFF, address=f"宁波市新河路{number}号")
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["errors"][0]["field"] == "address" and "ambiguous" in problem["detail"]
    assert {c["code"] for c in problem["candidates"]} == {jiangbei["code"], yinzhou["code"]}
    assert all(c["reasons"] and 0 <= c["confidence"] <= 1 for c in problem["candidates"])
    # The caller picks one by its code.
    chosen = await register_elder(city, CITY_STAFF, address_code=problem["candidates"][0]["code"])
    assert chosen.status_code == 201, chosen.text


async def test_text_that_cannot_be_placed_is_refused_naming_the_part(city):
    refused = await record_household(city, YINZHOU_STAFF, address="鄞州区天同南路88号")
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["errors"][0]["field"] == "address" and "天同南路" in problem["errors"][0]["message"]
    neither = await record_household(city, YINZHOU_STAFF)
    assert neither.status_code == 422 and neither.json()["errors"][0]["field"] == "address"


async def test_an_address_outside_the_callers_area_is_forbidden(city):
    house = await a_baizhang_house(city)
    for attempt in (
        await register_elder(city, HAISHU_STAFF, address_code=house["code"]),
        await record_household(city, HAISHU_STAFF, address=f"鄞州区天童南路{house['house_number']}号"),
    ):
        assert attempt.status_code == 403, attempt.text
    nothing = await city.gateway.get(f"{ELDERCARE}/elders", headers=city.bearer(CITY_STAFF))
    assert nothing.json()["items"] == []


async def test_while_placenames_is_down_records_are_pending_and_the_job_standardises_them(city):
    house = await a_baizhang_house(city)
    written = f"鄞州区天童南路{house['house_number']}号"
    await city.stop("placenames")
    elder = await register_elder(city, YINZHOU_STAFF, address=written)
    household = await record_household(city, YINZHOU_STAFF, address=written, area_code=BAIZHANG)
    assert elder.status_code == household.status_code == 201, (elder.text, household.text)
    elder, household = elder.json(), household.json()
    assert elder["address_status"] == household["address_status"] == "pending"
    assert (elder["address"], elder["address_code"], elder["area_code"]) == (written, None, YINZHOU)
    assert household["area_code"] == BAIZHANG  # the area the caller gave stands until the address is known
    # A code cannot be checked without placenames: the caller is told to try again.
    by_code = await register_elder(city, YINZHOU_STAFF, address_code=house["code"])
    assert by_code.status_code == 503, by_code.text
    # An area no division has would hold the record where no area's staff see it, for good if never placed.
    nowhere = await record_household(city, YINZHOU_STAFF, address=written, area_code=BAIZHANG + "999")
    assert nowhere.status_code == 422 and nowhere.json()["errors"][0]["field"] == "area_code", nowhere.text

    # Still down: the job leaves them pending (nothing lost, nothing guessed).
    assert ("addresses.standardise", "succeeded") in await run_jobs(city.apps["eldercare"], eldercare_tasks)
    again = await city.gateway.get(f"{ELDERCARE}/elders/{elder['id']}", headers=city.bearer(YINZHOU_STAFF))
    assert again.json()["address_status"] == "pending"

    await city.start("placenames")
    await run_jobs(city.apps["eldercare"], eldercare_tasks)
    await run_jobs(city.apps["assistance"], assistance_tasks)
    elder = await city.gateway.get(f"{ELDERCARE}/elders/{elder['id']}", headers=city.bearer(YINZHOU_STAFF))
    household = await city.gateway.get(f"{ASSISTANCE}/households/{household['id']}", headers=city.bearer(YINZHOU_STAFF))
    for record in (elder.json(), household.json()):
        assert_standard(record, house)
        assert record["address_written"] == written


async def test_text_the_job_cannot_place_is_unresolved_and_listed_for_staff_to_give_again(city):
    number = house_number()
    await issue(city, "新河路", division_code("江北区"), number)
    await issue(city, "新河路", YINZHOU, number)
    await city.stop("placenames")
    ambiguous = await register_elder(city, CITY_STAFF, address=f"宁波市新河路{number}号", area_code=YINZHOU)
    assert ambiguous.status_code == 201 and ambiguous.json()["address_status"] == "pending"
    await city.start("placenames")
    await run_jobs(city.apps["eldercare"], eldercare_tasks)

    listed = await city.gateway.get(
        f"{ELDERCARE}/elders", params={"address_status": "unresolved"}, headers=city.bearer(YINZHOU_STAFF)
    )
    [unresolved] = listed.json()["items"]
    assert unresolved["id"] == ambiguous.json()["id"] and unresolved["address"] == f"宁波市新河路{number}号"

    house = await a_baizhang_house(city)
    fixed = await city.gateway.put(
        f"{ELDERCARE}/elders/{unresolved['id']}/address",
        headers=city.bearer(YINZHOU_STAFF),
        json={"address_code": house["code"]},
    )
    assert fixed.status_code == 200, fixed.text
    assert_standard(fixed.json(), house)
    left = await city.gateway.get(
        f"{ELDERCARE}/elders", params={"address_status": "unresolved"}, headers=city.bearer(YINZHOU_STAFF)
    )
    assert left.json()["items"] == []


class EditWhileAsked(Placenames):
    """placenames as it is, except that while it is asked about a record, staff give that record's address
    again: the interleaving the job's conditional update is there for."""

    def __init__(self, peer, edit):
        super().__init__(peer)
        self.edit = edit

    async def place(self, text, *, field="address"):
        await self.edit()
        return await super().place(text, field=field)


async def test_an_edit_made_while_the_job_asks_placenames_is_not_overwritten(city):
    old = await a_baizhang_house(city)
    new = await a_baizhang_house(city)
    await city.stop("placenames")
    pending = await register_elder(city, YINZHOU_STAFF, address=f"鄞州区天童南路{old['house_number']}号")
    elder_id = pending.json()["id"]
    await city.start("placenames")

    async def staff_give_the_new_address():
        edited = await city.gateway.put(
            f"{ELDERCARE}/elders/{elder_id}/address",
            headers=city.bearer(YINZHOU_STAFF),
            json={"address_code": new["code"]},
        )
        assert edited.status_code == 200, edited.text

    app = city.apps["eldercare"]
    placenames = Placenames.for_service(app.state.settings)
    try:
        report = await standardise_pending(
            app.state.database,
            EditWhileAsked(placenames.peer, staff_give_the_new_address),
            [AddressTable(Elder, "elders")],
        )
    finally:
        await placenames.aclose()
    assert report["elders"] == {"standard": 0, "unresolved": 0, "changed_meanwhile": 1}
    now = await city.gateway.get(f"{ELDERCARE}/elders/{elder_id}", headers=city.bearer(YINZHOU_STAFF))
    assert_standard(now.json(), new)
