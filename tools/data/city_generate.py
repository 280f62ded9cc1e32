"""A synthetic city across the suite, for the cockpit, the lists and the screening to show meaningful numbers.

    ./dev seed city --households N [--seed S]      (python -m tools.data.city_generate ...)

1. placenames: its generator (services/placenames/generate.py) issues standard addresses on the real roads,
   enough rooms for every household and elder and houses for the canteens, institutions and organisations;
2. assistance: N households from its generator (tools/data/assistance_generate.py), each at one of those rooms;
3. eldercare: N × ELDERS_PER_HOUSEHOLD elders at other rooms, a canteen per CANTEEN_EVERY households and an
   institution with beds per INSTITUTION_EVERY, at houses;
4. charity: an organisation per ORGANIZATION_EVERY households, in the district of a house.

Every record sits at an address the registry issued, with its code, standard text, derived area and point
(`shared.demo_city.StandardPlace`), spread over the addresses by the same picking (`shared.demo_city.spread`).
The proportions are assumptions (neutral defaults, not figures of the domain). Each service's databases are
the ones its settings name, as for `./dev seed`. A city is loaded once: a second run refuses, naming what it
found, and changes nothing (load a new city into new databases).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import random
import sys
from dataclasses import dataclass

from sqlalchemy import func, select
from stdnum.cn import ric, uscc

from services.manage import settings_of
from shared import clock
from shared.db import Database, utcnow
from shared.demo_city import StandardPlace, spread

CREATED_BY = "city"  # who the rows say made them: how a second run finds the first
ELDERS_PER_HOUSEHOLD = 0.5  # assumption: elders registered with eldercare per household in assistance
CANTEEN_EVERY = 2_000  # assumption: households per canteen (老年食堂)
INSTITUTION_EVERY = 5_000  # assumption: households per institution (养老机构)
BEDS_PER_INSTITUTION = 40  # assumption
ORGANIZATION_EVERY = 1_000  # assumption: households per charity organisation
ROOMS_PER_HOUSE = 24  # what the placenames generator issues behind each house number (2 × 2 × 6)
ROWS_PER_HOUSE = 29  # and in all: the house, 2 buildings, 4 units, 24 rooms


@dataclass(frozen=True)
class Plan:
    households: int
    elders: int
    canteens: int
    institutions: int
    organizations: int

    @classmethod
    def of(cls, households: int) -> Plan:
        return cls(
            households,
            round(households * ELDERS_PER_HOUSEHOLD),
            max(1, households // CANTEEN_EVERY),
            max(1, households // INSTITUTION_EVERY),
            max(1, households // ORGANIZATION_EVERY),
        )

    def addresses(self, roads: int) -> int:
        """Addresses for the placenames generator to issue over `roads` roads: it gives each road the same number,
        house after house (the house, its buildings, units and rooms), so whole houses on every road, enough for
        a room per home and the houses for the venues."""
        homes_per_road = math.ceil((self.households + self.elders) / roads)
        venues_per_road = math.ceil((self.canteens + self.institutions + self.organizations) / roads)
        houses = max(math.ceil(homes_per_road / ROOMS_PER_HOUSE), venues_per_road)
        return roads * houses * ROWS_PER_HOUSE


class AlreadyLoaded(Exception):
    pass


async def already_loaded(databases: dict[str, Database]) -> list[str]:
    """What an earlier run left, per service: empty when no city was loaded."""
    from services.assistance.households.models import Household
    from services.charity.organizations.models import Organization
    from services.eldercare.elders.models import Elder

    found = []
    for service, column in (
        ("assistance", Household.created_by),
        ("eldercare", Elder.registered_by),
        ("charity", Organization.registered_by),
    ):
        async with databases[service].sessionmaker() as session:
            count = await session.scalar(select(func.count()).where(column == CREATED_BY))
        if count:
            found.append(f"{service}: {count:,} rows made by an earlier ./dev seed city")
    return found


async def issue_addresses(database: Database, plan: Plan, seed: int) -> tuple[list[StandardPlace], list[StandardPlace]]:
    """(rooms, houses) the placenames generator issued for this city; rooms take their building's point."""
    from services.placenames import seed as demo
    from services.placenames.addresses.models import Address
    from services.placenames.generate import ROAD_KINDS, generate
    from services.placenames.names.models import PlaceName

    async with database.sessionmaker() as session, session.begin():
        await demo.load(session)  # the registry's roads, as the generator loads them
    async with database.sessionmaker() as session:
        before = await session.scalar(select(func.max(Address.id))) or 0
        roads = await session.scalar(
            select(func.count()).where(PlaceName.status == "standard", PlaceName.kind.in_(ROAD_KINDS))
        )
    await generate(database, plan.addresses(roads), seed)
    async with database.sessionmaker() as session:
        rows = (
            await session.execute(
                select(
                    Address.code,
                    Address.full_name,
                    Address.district_code,
                    Address.township_code,
                    Address.community_code,
                    Address.latitude,
                    Address.longitude,
                    Address.level,
                    Address.road_id,
                    Address.house_number,
                    Address.building,
                )
                .where(Address.id > before, Address.status == "current")
                .order_by(Address.id)
            )
        ).all()
    points = {(r.road_id, r.house_number, r.building): (r.latitude, r.longitude) for r in rows if r.latitude}
    rooms, houses = [], []
    for r in rows:
        lat, lon = points.get((r.road_id, r.house_number, r.building), (r.latitude, r.longitude))
        place = StandardPlace(r.code, r.full_name, r.district_code, r.township_code, r.community_code, lat, lon)
        if r.level == "room":
            rooms.append(place)
        elif r.level == "house":
            houses.append(place)
    return rooms, houses


async def load_households(database: Database, homes: list[StandardPlace], seed: int) -> None:
    from tools.data.assistance_generate import generate

    async with database.sessionmaker() as session, session.begin():
        await generate(session, len(homes), as_of=clock.today(), seed=seed, places=homes, created_by=CREATED_BY)


def _id_number(rng: random.Random, district: str, age_from: int, age_to: int, used: set[str]) -> str:
    today = clock.today()
    while True:
        birth = today - dt.timedelta(days=rng.randint(age_from * 365 + 1, age_to * 365))
        base = f"{district}{birth:%Y%m%d}{rng.randrange(1000):03d}"
        number = base + ric.calc_check_digit(base + "0")
        if number not in used:
            used.add(number)
            return number


async def load_eldercare(
    database: Database, homes: list[StandardPlace], venues: list[StandardPlace], plan: Plan, seed: int
) -> None:
    from services.eldercare.beds.models import Bed, Institution
    from services.eldercare.elders.models import Elder, elder_id_number_index
    from services.eldercare.meals.models import Canteen
    from services.eldercare.meals.schemas import DEFAULT_CUTOFFS
    from services.eldercare.meals.service import cutoff_minutes_of
    from shared.idnumbers import parse_id_number

    rng, now, used = random.Random(seed), utcnow(), set()
    cutoffs = {meal: cutoff_minutes_of(c) for meal, c in DEFAULT_CUTOFFS.items()}
    async with database.sessionmaker() as session, session.begin():
        for start in range(0, len(homes), 1000):
            for n, place in enumerate(homes[start : start + 1000], start + 1):
                person = parse_id_number(_id_number(rng, place.district_code, 60, 99, used))
                session.add(
                    Elder(
                        id_number=person.value,
                        id_number_index=elder_id_number_index(person.value),
                        name=f"老人{n}",
                        sex=person.sex,
                        birth_on=person.birth_date,
                        phone=None,
                        lives_alone=rng.random() < 0.3,
                        emergency_contacts=[],
                        registered_by=CREATED_BY,
                        created_at=now,
                        **place.columns(Elder),
                    )
                )
            await session.flush()
        canteens, institutions = venues[: plan.canteens], venues[plan.canteens : plan.canteens + plan.institutions]
        for n, place in enumerate(canteens, 1):
            session.add(
                Canteen(
                    name=f"城市食堂{n}",
                    kind="canteen",
                    delivery_area_codes=[place.area_code],
                    cutoff_minutes=cutoffs,
                    is_active=True,
                    created_by=CREATED_BY,
                    created_at=now,
                    **place.columns(Canteen),
                )
            )
        for n, place in enumerate(institutions, 1):
            institution = Institution(
                name=f"城市养老院{n}",
                ownership=rng.choice(("public", "private")),
                star_rating=rng.randint(1, 5),
                created_by=CREATED_BY,
                created_at=now,
                **place.columns(Institution),
            )
            session.add(institution)
            await session.flush()
            session.add_all(
                Bed(
                    institution_id=institution.id,
                    label=f"C-{b:03d}",
                    bed_type=rng.choice(("nursing", "nursing", "general", "dementia")),
                    in_service=True,
                    created_at=now,
                )
                for b in range(1, BEDS_PER_INSTITUTION + 1)
            )
        await session.flush()


async def load_charity(database: Database, venues: list[StandardPlace], seed: int) -> None:
    from services.charity.organizations.models import Organization

    rng, now = random.Random(seed), utcnow()
    async with database.sessionmaker() as session, session.begin():
        for n, place in enumerate(venues, 1):
            base = f"52{place.district_code}MJ{n:07d}"  # 5: registered by civil affairs; 2: a social service body
            registered_on = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(3650))
            charity = rng.random() < 0.4  # recognised as a charity (慈善组织) when registered
            session.add(
                Organization(
                    name=f"城市公益服务中心{n}",
                    unified_social_credit_code=base + uscc.calc_check_digit(base),
                    registered_on=registered_on,
                    district_code=place.district_code,
                    is_charity=charity,
                    recognised_on=registered_on if charity else None,
                    contact_name=f"联系人{n}",
                    contact_phone=f"138{rng.randrange(10**8):08d}",
                    registered_by=CREATED_BY,
                    created_at=now,
                    **place.columns(Organization),
                )
            )


async def load_city(households: int, seed: int, databases: dict[str, Database] | None = None) -> Plan:
    """Load the city; raises AlreadyLoaded, having written nothing, when an earlier run loaded one."""
    own = databases is None
    databases = databases or {
        service: Database(settings_of(service).database_url)
        for service in ("placenames", "assistance", "eldercare", "charity")
    }
    try:
        if found := await already_loaded(databases):
            raise AlreadyLoaded("; ".join(found))
        plan = Plan.of(households)
        rooms, houses = await issue_addresses(databases["placenames"], plan, seed)
        homes = spread(rooms, plan.households + plan.elders, seed)
        venues = spread(houses, plan.canteens + plan.institutions + plan.organizations, seed + 1)
        await load_households(databases["assistance"], homes[: plan.households], seed)
        await load_eldercare(databases["eldercare"], homes[plan.households :], venues, plan, seed)
        await load_charity(databases["charity"], venues[plan.canteens + plan.institutions :], seed)
        return plan
    finally:
        if own:
            for database in databases.values():
                await database.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./dev seed city", description=__doc__.split("\n")[0])
    parser.add_argument("--households", type=int, required=True, help="households in assistance (1–2,000,000)")
    parser.add_argument("--seed", type=int, default=2022)
    args = parser.parse_args(argv)
    if not 1 <= args.households <= 2_000_000:
        parser.error("--households must be 1 to 2,000,000")
    try:
        plan = asyncio.run(load_city(args.households, args.seed))
    except AlreadyLoaded as error:
        sys.exit(
            f"./dev seed city: a synthetic city is already loaded ({error}); nothing was changed. "
            "Load a new city into new databases."
        )
    print(
        f"city: {plan.households:,} households, {plan.elders:,} elders, {plan.canteens} canteens, "
        f"{plan.institutions} institutions, {plan.organizations} organisations, at standard addresses of "
        "placenames"
    )


if __name__ == "__main__":
    main()
