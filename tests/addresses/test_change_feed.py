"""placenames' change feed reaching the addresses stored by eldercare and assistance (shared/changefeed.py).

Each service's follower reads the feed through the real gateway with its own client credentials, as its worker
process does, and applies each page with its cursor in one transaction of its own database. A follower stopped
half-way and started again resumes from the stored cursor and applies nothing twice; a change served again is
skipped; two followers racing on one cursor apply each change once.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import itertools
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.database import FEED_CURSORS as ASSISTANCE_CURSORS
from services.assistance.database import Base as AssistanceBase
from services.eldercare.database import FEED_CURSORS as ELDERCARE_CURSORS
from services.eldercare.database import Base as EldercareBase
from services.placenames import seed as placenames_seed
from services.placenames.addresses.models import Address, AddressLineage
from services.placenames.divisions.models import Division
from services.placenames.names.models import NameEvent, PlaceName
from services.placenames.scopes import CHANGES_READ
from shared.changefeed import Follower
from shared.identity import Principal
from shared.peer import PeerRejected
from tests.addresses.conftest import ASSISTANCE, ELDERCARE, PLACENAMES, YINZHOU, City
from tests.addresses.test_standard_addresses import (
    BAIZHANG,
    BAIZHANG_COMMUNITY,
    CITY_STAFF,
    YINZHOU_STAFF,
    record_household,
    register_elder,
)
from tests.conftest import service_database

WITHIN_S = 5.0  # "within seconds": a follower polls every second in production, every 50 ms here
_roads = itertools.count(os.getpid() % 1000 * 100)

PARTNER = Principal(subject="partner:test", kind="partner", scopes=frozenset({CHANGES_READ}))
CONSUMERS = {"eldercare": (EldercareBase, ELDERCARE_CURSORS), "assistance": (AssistanceBase, ASSISTANCE_CURSORS)}


def follower_of(city: City, service: str) -> Follower:
    """The service's follower as its worker makes it (through the gateway, as the service), polling quickly."""
    app = city.apps[service]
    base, cursors = CONSUMERS[service]
    follower = Follower.of_service(app.state.settings, app.state.database, base, cursors)
    follower.poll_s = 0.05
    return follower


class Running:
    """A follower's loop as a task of the test, stopped (or cancelled half-way) when the test says."""

    def __init__(self, follower: Follower):
        self.follower, self.stop = follower, asyncio.Event()
        self.task = asyncio.create_task(follower.run(self.stop))

    async def end(self, *, cancel: bool = False) -> None:
        if cancel:
            self.task.cancel()  # a kill: whatever page it was applying is rolled back
        self.stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.follower.aclose()


@pytest.fixture
async def feed_city(city: City, backend, db_dir) -> AsyncIterator[City]:
    """The city, and afterwards the registry as it was: the names the test made or renamed, their decisions and
    the addresses' lineage go (the city fixture removes the addresses)."""
    database = await service_database("placenames", backend, db_dir)
    async with AsyncSession(database.engine) as session:
        last_name = await session.scalar(select(PlaceName.id).order_by(PlaceName.id.desc()).limit(1))
    yield city
    async with AsyncSession(database.engine) as session:
        await session.execute(delete(AddressLineage))
        await session.execute(delete(Address))  # before the names they lie on (the city fixture would, after)
        await session.execute(delete(NameEvent))
        await session.execute(update(PlaceName).where(PlaceName.id > last_name).values(replaced_by_id=None))
        await session.execute(delete(PlaceName).where(PlaceName.id > last_name))
        await session.commit()


async def new_road(city: City) -> int:
    """A standard road of the test's own, in 鄞州区: renaming it disturbs no other test."""
    made = await city.gateway.post(
        f"{PLACENAMES}/names",
        headers=city.bearer(CITY_STAFF),
        json={"name": f"甬馈{next(_roads)}路", "kind": "road", "district_code": YINZHOU, "status": "standard"},
    )
    assert made.status_code == 201, made.text
    return made.json()["id"]


async def house_on(city: City, road: int, number: str, **parts) -> dict:
    issued = await city.gateway.post(
        f"{PLACENAMES}/addresses",
        headers=city.bearer(CITY_STAFF),
        json={
            "district_code": YINZHOU,
            "township_code": BAIZHANG,
            "community_code": BAIZHANG_COMMUNITY,
            "road_id": road,
            "house_number": number,
            "latitude": 29.851,
            "longitude": 121.562,
        }
        | parts,
    )
    assert issued.status_code == 201, issued.text
    return issued.json()


async def rename(city: City, name_id: int, new_name: str) -> int:
    renamed = await city.gateway.post(
        f"{PLACENAMES}/names/{name_id}/events",
        headers=city.bearer(CITY_STAFF),
        json={
            "kind": "renaming",
            "new_name": new_name,
            "decision_document": "甬政地名〔2026〕1号",
            "decided_on": "2026-12-01",
        },
    )
    assert renamed.status_code == 201, renamed.text
    return renamed.json()["result_id"]


async def elder_of(city: City, elder_id: int) -> dict:
    return (await city.gateway.get(f"{ELDERCARE}/elders/{elder_id}", headers=city.bearer(YINZHOU_STAFF))).json()


async def household_of(city: City, household_id: int) -> dict:
    response = await city.gateway.get(f"{ASSISTANCE}/households/{household_id}", headers=city.bearer(YINZHOU_STAFF))
    return response.json()


async def eventually(
    read: Callable[[], Awaitable[dict]], check: Callable[[dict], bool], within: float = WITHIN_S
) -> float:
    """Seconds until `check(await read())` holds; fails after `within`."""
    started = time.monotonic()
    while True:
        record = await read()
        if check(record):
            return time.monotonic() - started
        assert time.monotonic() - started < within, f"not within {within} s: {record}"
        await asyncio.sleep(0.05)


async def cursor_of(city: City, service: str) -> tuple[int, int]:
    """(position, applied) of the service's stored cursor."""
    _, cursors = CONSUMERS[service]
    async with city.apps[service].state.database.sessionmaker() as session:
        row = (await session.execute(select(cursors.c.position, cursors.c.applied))).one()
    return row.position, row.applied


async def feed_end(city: City) -> int:
    """The feed's last seq, as a partner department reads it."""
    page = await city.gateway.get(
        f"{PLACENAMES}/changes", params={"after": 0, "limit": 1}, headers=city.bearer(PARTNER)
    )
    assert page.status_code == 200, page.text
    return page.json()["last_seq"]


async def test_a_rename_reaches_an_elder_and_a_household_within_seconds_across_a_restart(feed_city):
    city = feed_city
    road = await new_road(city)
    house = await house_on(city, road, "18")
    elder = await register_elder(city, YINZHOU_STAFF, address_code=house["code"])
    household = await record_household(city, YINZHOU_STAFF, address_code=house["code"])
    assert elder.status_code == household.status_code == 201, (elder.text, household.text)
    elder_id, household_id = elder.json()["id"], household.json()["id"]
    eldercare, assistance = Running(follower_of(city, "eldercare")), Running(follower_of(city, "assistance"))
    try:
        renamed_road = await rename(city, road, f"甬馈{next(_roads)}路")
        new_text = (await city.gateway.get(f"{PLACENAMES}/addresses/{house['code']}")).json()["full_name"]
        assert new_text != house["full_name"]
        took = [
            await eventually(lambda: elder_of(city, elder_id), lambda e: e["address"] == new_text),
            await eventually(lambda: household_of(city, household_id), lambda h: h["address"] == new_text),
        ]
        for record in (await elder_of(city, elder_id), await household_of(city, household_id)):
            # Same code, same division, same position: only the standard text changed.
            assert (record["address_code"], record["area_code"], record["address_status"]) == (
                house["code"],
                BAIZHANG_COMMUNITY,
                "standard",
            )
            assert (record["latitude"], record["longitude"]) == (29.851, 121.562)
        assert max(took) < WITHIN_S

        # Eldercare's worker is killed; the road is renamed again meanwhile.
        await eldercare.end(cancel=True)
        first = eldercare.follower
        again = await rename(city, renamed_road, f"甬馈{next(_roads)}路")
        assert again
        newest = (await city.gateway.get(f"{PLACENAMES}/addresses/{house['code']}")).json()["full_name"]
        await eventually(lambda: household_of(city, household_id), lambda h: h["address"] == newest)
        assert (await elder_of(city, elder_id))["address"] == new_text  # nobody follows for eldercare now

        # A new worker resumes from the stored cursor.
        eldercare = Running(follower_of(city, "eldercare"))
        await eventually(lambda: elder_of(city, elder_id), lambda e: e["address"] == newest)
        end = await feed_end(city)
        await eventually(lambda: cursor_of(city, "eldercare"), lambda c: c[0] == end)
        position, applied = await cursor_of(city, "eldercare")
        # Every change up to the feed's end applied exactly once, split between the two followers.
        assert applied == position == end == first.applied + eldercare.follower.applied
    finally:
        await eldercare.end()
        await assistance.end()


async def test_splits_merges_and_retirements_reach_stored_records(feed_city):
    city = feed_city
    road = await new_road(city)
    split_house, merged_a, merged_b, retired_house = [await house_on(city, road, n) for n in ("1", "3", "5", "7")]
    elders = {}
    for key, house in (("split", split_house), ("merged", merged_a), ("retired", retired_house)):
        registered = await register_elder(city, YINZHOU_STAFF, address_code=house["code"])
        assert registered.status_code == 201, registered.text
        elders[key] = registered.json()["id"]
    household = await record_household(city, YINZHOU_STAFF, address_code=merged_b["code"])
    household_id = household.json()["id"]

    decision = {"decided_on": "2026-12-01"}
    split = await city.gateway.post(
        f"{PLACENAMES}/addresses/{split_house['code']}/split",
        headers=city.bearer(CITY_STAFF),
        json=decision
        | {"into": [{"district_code": YINZHOU, "road_id": road, "house_number": n} for n in ("1-1", "1-2")]},
    )
    merged = await city.gateway.post(
        f"{PLACENAMES}/address-merges",
        headers=city.bearer(CITY_STAFF),
        json=decision
        | {
            "codes": [merged_a["code"], merged_b["code"]],
            "into": {"district_code": YINZHOU, "township_code": BAIZHANG, "road_id": road, "house_number": "3-5"},
        },
    )
    retired = await city.gateway.post(
        f"{PLACENAMES}/addresses/{retired_house['code']}/retire", headers=city.bearer(CITY_STAFF), json=decision
    )
    assert (split.status_code, merged.status_code, retired.status_code) == (201, 201, 200)
    [into] = merged.json()["issued"]

    followers = [follower_of(city, "eldercare"), follower_of(city, "assistance")]
    for follower in followers:
        await follower.catch_up()
        await follower.aclose()
    # Merged: both records now hold the address they were merged into, its text and its division.
    for record in (await elder_of(city, elders["merged"]), await household_of(city, household_id)):
        assert (record["address_code"], record["address"], record["area_code"], record["address_status"]) == (
            into["code"],
            into["full_name"],
            BAIZHANG,
            "standard",
        )
    # Split: which part is the person's is not known: what was written is placed again by the job.
    split_elder = await elder_of(city, elders["split"])
    assert (split_elder["address_status"], split_elder["address_code"]) == ("pending", split_house["code"])
    # Retired with no successor: staff must give the address again; the text stays for them to see.
    retired_elder = await elder_of(city, elders["retired"])
    assert (retired_elder["address_status"], retired_elder["address"]) == ("unresolved", retired_house["full_name"])
    listed = await city.gateway.get(
        f"{ELDERCARE}/elders", params={"address_status": "unresolved"}, headers=city.bearer(YINZHOU_STAFF)
    )
    assert elders["retired"] in [e["id"] for e in listed.json()["items"]]
    # Followed again (a second worker, a restart), nothing more happens.
    again = follower_of(city, "eldercare")
    assert await again.catch_up() == 0
    await again.aclose()


def _division_file_moving(path, township: str, to: str, district: str) -> None:
    """The division data file with `township` moved to `district` under the new code `to`, as in 2016."""
    with placenames_seed.CSV_PATH.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    name = next(r["name"] for r in rows if r["code"] == township)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=placenames_seed.COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row | ({"valid_to": "2026-12-01", "successor_code": to} if row["code"] == township else {}))
        writer.writerow(
            {"code": to, "name": name, "level": "township", "parent_code": district, "valid_from": "2026-12-01"}
        )


async def test_a_township_moved_to_another_district_moves_the_records_and_who_sees_them(
    feed_city, backend, db_dir, tmp_path
):
    city = feed_city
    road = await new_road(city)
    # A house in 百丈街道 itself (no community), so that its area is the township that moves.
    house = await house_on(city, road, "9", community_code=None)
    standard = await register_elder(city, YINZHOU_STAFF, address_code=house["code"])
    await city.stop("placenames")  # written while placenames is down: pending, filed under the township given
    pending = await record_household(
        city, YINZHOU_STAFF, address=f"鄞州区百丈街道某处{next(_roads)}号", area_code=BAIZHANG
    )
    await city.start("placenames")
    assert standard.status_code == pending.status_code == 201, (standard.text, pending.text)
    assert pending.json()["address_status"] == "pending"

    haishu = "330203"
    moved_to = haishu + "198"
    path = tmp_path / "divisions.csv"
    _division_file_moving(path, BAIZHANG, moved_to, haishu)
    placenames = await service_database("placenames", backend, db_dir)
    try:
        async with AsyncSession(placenames.engine) as session:
            await placenames_seed.load(session, path)
            await session.commit()
        for service in CONSUMERS:
            follower = follower_of(city, service)
            await follower.catch_up()
            await follower.aclose()
        elder = await elder_of_as(city, standard.json()["id"], haishu)
        assert (elder["address_code"], elder["area_code"]) == (house["code"], moved_to)
        assert elder["address"].startswith("宁波市海曙区")
        household = await city.gateway.get(
            f"{ASSISTANCE}/households/{pending.json()['id']}", headers=city.bearer(staff_of_area(haishu))
        )
        # Not standardised yet, but filed under the township's new code: 海曙区's staff see it now.
        assert household.status_code == 200 and household.json()["area_code"] == moved_to
    finally:  # the register as it was, for the other tests
        async with AsyncSession(placenames.engine) as session:
            await session.execute(
                update(Division).where(Division.code == BAIZHANG).values(valid_to=None, successor_code=None)
            )
            await session.execute(delete(Division).where(Division.code == moved_to))
            await session.commit()


def staff_of_area(area: str):
    from tests.addresses.conftest import staff_of

    return staff_of(area, f"staff:{area}-test")


async def elder_of_as(city: City, elder_id: int, area: str) -> dict:
    response = await city.gateway.get(f"{ELDERCARE}/elders/{elder_id}", headers=city.bearer(staff_of_area(area)))
    assert response.status_code == 200, response.text
    return response.json()


async def test_racing_followers_and_changes_served_twice_are_applied_once(feed_city):
    city = feed_city
    road = await new_road(city)
    houses = [await house_on(city, road, str(n)) for n in range(20, 26)]
    elder_ids = []
    for house in houses:
        registered = await register_elder(city, YINZHOU_STAFF, address_code=house["code"])
        elder_ids.append(registered.json()["id"])
    await rename(city, road, f"甬馈{next(_roads)}路")
    end = await feed_end(city)

    def served_twice(follower: Follower):
        """The feed as an at-least-once transport may deliver it: each page again with the changes before it."""
        fetch = follower.fetch

        async def again(after: int, limit: int) -> dict:
            page = await fetch(max(0, after - 3), limit)
            return page

        follower.fetch = again
        follower.page = 4  # small pages: the two followers meet on the cursor many times
        return follower

    racers = [served_twice(follower_of(city, "eldercare")) for _ in range(3)]
    await asyncio.gather(*(racer.catch_up() for racer in racers))
    for racer in racers:
        await racer.aclose()
    position, applied = await cursor_of(city, "eldercare")
    assert position == applied == end == sum(racer.applied for racer in racers)
    for elder_id, house in zip(elder_ids, houses, strict=True):
        renamed = (await city.gateway.get(f"{PLACENAMES}/addresses/{house['code']}")).json()["full_name"]
        assert (await elder_of(city, elder_id))["address"] == renamed
    # After the race the next ordinary request still works.
    assert (await register_elder(city, YINZHOU_STAFF, address_code=houses[0]["code"])).status_code == 201


async def test_a_cursor_the_feed_refuses_stops_the_follower_without_harm(feed_city):
    city = feed_city
    follower = follower_of(city, "eldercare")
    await follower.catch_up()
    end = await feed_end(city)
    _, cursors = CONSUMERS["eldercare"]
    async with city.apps["eldercare"].state.database.sessionmaker() as session, session.begin():
        # As if placenames' database had been restored from an older backup: our cursor is beyond its feed.
        await session.execute(update(cursors).values(position=end + 100))
    with pytest.raises(PeerRejected) as refused:
        await follower.step()
    assert refused.value.status_code == 400 and "cursor-not-issued" in refused.value.body
    running = Running(follower)  # the loop logs the refusal and keeps trying, it does not exit
    await asyncio.sleep(0.3)
    assert not running.task.done()
    await running.end()
    assert (await cursor_of(city, "eldercare"))[0] == end + 100  # untouched, for an operator to decide


@pytest.mark.parametrize("service", ["eldercare", "assistance", "charity"])
def test_every_table_with_standard_addresses_is_standardised_and_followed(service):
    """A model carrying the address columns but missing from the service's job would keep pending addresses
    pending for ever; one its worker does not import would miss the feed's changes."""
    import importlib
    import pkgutil

    from shared.changefeed import address_tables

    package = importlib.import_module(f"services.{service}")
    for module in pkgutil.walk_packages(package.__path__, f"services.{service}."):
        if ".migrations" not in module.name and not module.name.endswith(("__main__", ".worker")):
            importlib.import_module(module.name)
    base = importlib.import_module(f"services.{service}.database").Base
    jobs = importlib.import_module(f"services.{service}.jobs")
    every = {(t.model, t.name) for t in address_tables(base)}
    assert every, "the service stores no standard address?"
    assert {(t.model, t.name) for t in jobs.ADDRESS_TABLES} == every
