"""A synthetic city for tests and benchmarks: Ningbo's districts, realistic household sizes, incomes and assets
near every threshold of the rules (the 低保 standard, 2× for 低保边缘, the asset and vehicle limits, the ages 16, 18
and 60), disabilities, orphans, students and exclusions.

    ./dev seed assistance --households N [--seed S]   add N households to the service's database
    python -m tools.data.assistance_generate N [--seed S]

Rows are built as plain dicts and written with executemany, so a million households take minutes, not hours.
The same generator feeds the agreement test (batch path vs single path) and bench/assistance.py. It builds data
for tests and benchmarks, so it lives beside them rather than in the service's package.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.cn import ric

from services.assistance.assessment.models import (
    AMOUNT_PURPOSE,
    MONTHLY_PURPOSE,
    Asset,
    Income,
)
from services.assistance.assessment.schemas import EXEMPT_ITEMS
from services.assistance.database import id_number_index
from services.assistance.households.models import Household, Member
from services.assistance.settings import AssistanceSettings
from shared import clock
from shared.addresses import pending_address
from shared.db import Database, utcnow
from shared.demo_city import StandardPlace
from shared.divisions import districts
from shared.pii import keyring
from tools.data.bulk import insert_rows

DISTRICTS = tuple(district.code for district in districts())  # the current ten, in code order
SIZES = (1, 1, 2, 2, 2, 3, 3, 3, 4, 5)  # one- and two-person households dominate among applicants
SCHOOLING = ("primary", "junior_secondary", "senior_secondary", "vocational", "undergraduate", "postgraduate")


@dataclass
class Thresholds:
    """The figures the generator aims at (fen): the 2022 parameters in the seed, and for what the seed has no
    figure (asset limits) the values a test enters as a district's own (no source gives one)."""

    standard: int = 110_000
    multiplier: int = 2000
    deduction: int = 0  # the seed has none (no source gives one); a test may set a district's figure
    assets_limit: int = 2_640_000
    vehicle_limit: int = 5_000_000


@dataclass
class Batch:
    households: list[dict] = field(default_factory=list)
    members: list[dict] = field(default_factory=list)
    incomes: list[dict] = field(default_factory=list)
    assets: list[dict] = field(default_factory=list)


def _years_before(day: dt.date, years: int, days: int = 0) -> dt.date:
    try:
        base = day.replace(year=day.year - years)
    except ValueError:
        base = dt.date(day.year - years, 2, 28)
    return base - dt.timedelta(days=days)


class CityGenerator:
    def __init__(
        self,
        as_of: dt.date,
        *,
        seed: int = 2022,
        first_household_id: int = 1,
        first_member_id: int = 1,
        thresholds: Thresholds | None = None,
        places: Sequence[StandardPlace] = (),
        created_by: str = "generator",
    ):
        """`places`: standard addresses of the placenames registry to put the households at, one each in
        order (`./dev seed city`); without them a household gets a made-up address in a random district."""
        self.rng = random.Random(seed)
        self.places = iter(places)
        self.created_by = created_by
        self.as_of = as_of
        self.t = thresholds or Thresholds()
        self.next_household = first_household_id
        self.next_member = first_member_id
        self.used: set[str] = set()  # blind indexes of the ID numbers already given out (or in the database)
        self.now = utcnow()
        self.this_month = as_of.replace(day=1)

    def month(self, months_later: int) -> dt.date:
        """The first day of the month `months_later` months after `as_of`'s (before it when negative)."""
        index = self.this_month.year * 12 + self.this_month.month - 1 + months_later
        return dt.date(index // 12, index % 12 + 1, 1)

    def id_number(self, district: str, birth: dt.date) -> tuple[str, str]:
        """A new valid ID number and its blind index."""
        serial = self.rng.randrange(1000)
        while True:
            base = f"{district}{birth:%Y%m%d}{serial:03d}"
            number = base + ric.calc_check_digit(base + "0")
            index = id_number_index(number)
            if index not in self.used:
                self.used.add(index)
                return number, index
            serial = (serial + 1) % 1000

    def birth(self, lo: int, hi: int) -> dt.date:
        """A birth date for an age in [lo, hi]; one in five sits on a birthday edge (exactly N years ± 1 day)."""
        age = self.rng.randint(lo, hi)
        edge = self.rng.random() < 0.2
        days = self.rng.choice((-1, 0, 1)) if edge else self.rng.randrange(365)
        return min(_years_before(self.as_of, age, days), self.as_of)  # nobody is born after the day

    def target_income(self, n: int) -> int:
        """A household total aimed at a threshold (± a fen) or spread across the range."""
        s = self.t.standard
        edges = (
            s * n,
            s * n - 1,
            s * n + 1,
            s * self.t.multiplier * n // 1000,
            s * self.t.multiplier * n // 1000 + 1,
            s * self.t.multiplier * n // 1000 - 1,
            0,
        )
        if self.rng.random() < 0.4:
            return self.rng.choice(edges)
        return self.rng.randrange(0, 3 * s * n + 1)

    def household(self, batch: Batch) -> None:
        hid = self.next_household
        self.next_household += 1
        place = next(self.places, None)
        if place is None:
            district = self.rng.choice(DISTRICTS)
            area = f"{district}{self.rng.randint(1, 12):03d}{self.rng.randint(1, 20):03d}"
            address = pending_address(f"{district} 测试路{hid}号", area)
        else:
            district, address = place.district_code, place.columns()
        batch.households.append(dict(id=hid, **address, created_by=self.created_by, created_at=self.now))
        size = self.rng.choice(SIZES)
        people = [self._person(hid, district, "applicant", self.birth(18, 90))]
        for _ in range(size - 1):
            relationship = self.rng.choice(("spouse", "child", "child", "parent", "grandchild", "sibling"))
            if relationship == "child":
                birth = self.birth(0, 30)
            elif relationship == "parent":
                birth = self.birth(55, 95)
            elif relationship == "grandchild":
                birth = self.birth(0, 17)
            else:
                birth = self.birth(18, 90)
            people.append(self._person(hid, district, relationship, birth))
        batch.members.extend(people)
        # Incomes: spread the target over earners as wages (some under the deduction) and other kinds.
        target = self.target_income(len(people))
        earners = [p for p in people if self.rng.random() < 0.7] or people[:1]
        remaining = target
        for index, person in enumerate(earners):
            share = remaining if index == len(earners) - 1 else self.rng.randint(0, remaining)
            remaining -= share
            kind = self.rng.choice(("wages", "wages", "pension", "business", "property", "transfer"))
            item = {
                "wages": "wages",
                "pension": "pension",
                "business": "business",
                "property": "rent",
                "transfer": "alimony",
            }[kind]
            if kind == "wages" and self.rng.random() < 0.5:
                share += self.t.deduction  # the deduction brings it back onto the target
            # The current income's period ends with the month before `as_of`'s: the last month that has ended.
            months = self.rng.choice((1, 3, 6, 12))
            self._income(batch, hid, person["id"], kind, item, share * months, months, self.month(-months))
            if self.rng.random() < 0.2:  # a former income (a job lost) that ended before, or one not yet begun
                # ended: months before `as_of`'s that it ended (2: the month before the last); 0: begins this month
                months, ended = self.rng.choice((1, 3, 6, 12)), self.rng.choice((2, 2, 3, 6, 12, 13, 14, 25, 0, -1))
                start = self.month(-ended - months + 1) if ended > 0 else self.month(-ended)
                amount = self.rng.randint(50_000, 800_000) * months
                self._income(batch, hid, person["id"], kind, item, amount, months, start)
            if self.rng.random() < 0.15:  # an exempt item that must not count
                exempt = self.rng.choice(
                    (
                        ("transfer", "scholarship"),
                        ("pension", "residents_pension_basic"),
                        ("transfer", "special_care_pension"),
                    )
                )
                self._income(batch, hid, person["id"], *exempt, self.rng.randint(1, 200_000), 1, self.month(-1))
        n = len(people)
        if self.rng.random() < 0.3:
            edge = self.t.assets_limit * n + self.rng.choice((-1, 0, 1, -500_000, 500_000))
            self._asset(batch, hid, self.rng.choice(("deposit", "securities")), max(edge, 0))
        if self.rng.random() < 0.1:
            self._asset(batch, hid, "vehicle", self.t.vehicle_limit + self.rng.choice((-1, 0, 1)))
        if self.rng.random() < 0.05:
            self._asset(batch, hid, "housing", self.rng.randint(10_000_000, 300_000_000))

    def _person(self, hid: int, district: str, relationship: str, birth: dt.date) -> dict:
        mid = self.next_member
        self.next_member += 1
        r = self.rng.random
        grade = self.rng.choice((1, 2, 3, 4)) if r() < 0.08 else None
        student = relationship == "child" and r() < 0.4
        age_years = self.as_of.year - birth.year
        number, index = self.id_number(district, birth)
        return dict(
            # Written around the ORM (bulk), so encrypted here as the column type would.
            id=mid,
            household_id=hid,
            id_number_enc=keyring().encrypt("members.id_number", number),
            id_number_index=index,
            name=f"居民{mid}",
            birth_on=birth,
            sex=self.rng.choice(("male", "female")),
            relationship=relationship,
            residence="resident" if r() < 0.1 else "registered",
            labour_capacity=self.rng.choice(("full", "full", "full", "partial", "none")),
            disability_grade=grade,
            disability_kind=self.rng.choice(("visual", "physical", "intellectual", "mental")) if grade else None,
            schooling=self.rng.choice(SCHOOLING) if student else "none",
            full_time_student=student,
            lives_together=r() < 0.85,
            legal_duty_of_support=r() < 0.7,
            exclusion=self.rng.choice(("in_prison", "declared_missing", "religious_away_3y")) if r() < 0.03 else None,
            parents=("orphan" if r() < 0.3 else "unsupported" if r() < 0.3 else "present")
            if age_years < 19
            else "present",
            in_institution=r() < 0.3,
            created_at=self.now,
        )

    def _income(
        self, batch: Batch, hid: int, mid: int, kind: str, item: str, amount: int, months: int, period_from: dt.date
    ) -> None:
        batch.incomes.append(
            dict(  # amounts encrypted as the column type would (written around the ORM)
                household_id=hid,
                member_id=mid,
                kind=kind,
                item=item,
                amount_fen_enc=keyring().encrypt(AMOUNT_PURPOSE, str(amount)),
                months=months,
                period_from=period_from,
                monthly_fen_enc=keyring().encrypt(MONTHLY_PURPOSE, str(amount // months)),
                exempt=item in EXEMPT_ITEMS,
                source_kind=self.rng.choice(("department", "applicant")),
                source_name="生成数据",
                source_on=self.as_of - dt.timedelta(days=self.rng.randint(0, 60)),
                recorded_by="generator",
                recorded_at=self.now,
            )
        )

    def _asset(self, batch: Batch, hid: int, kind: str, value: int) -> None:
        batch.assets.append(
            dict(
                household_id=hid,
                member_id=None,
                kind=kind,
                value_fen=value,
                description="",
                source_kind="department",
                source_name="生成数据",
                source_on=self.as_of - dt.timedelta(days=self.rng.randint(0, 60)),
                recorded_by="generator",
                recorded_at=self.now,
            )
        )

    def batch(self, households: int) -> Batch:
        batch = Batch()
        for _ in range(households):
            self.household(batch)
        return batch


async def write(session: AsyncSession, batch: Batch) -> None:
    for model, rows in (
        (Household, batch.households),
        (Member, batch.members),
        (Income, batch.incomes),
        (Asset, batch.assets),
    ):
        await insert_rows(session, model.__table__, rows)


async def generate(
    session: AsyncSession,
    households: int,
    *,
    as_of: dt.date,
    seed: int = 2022,
    chunk: int = 5000,
    thresholds: Thresholds | None = None,
    places: Sequence[StandardPlace] = (),
    created_by: str = "generator",
) -> CityGenerator:
    first_household = (await session.scalar(select(func.max(Household.id))) or 0) + 1
    first_member = (await session.scalar(select(func.max(Member.id))) or 0) + 1
    generator = CityGenerator(
        as_of,
        seed=seed,
        first_household_id=first_household,
        first_member_id=first_member,
        thresholds=thresholds,
        places=places,
        created_by=created_by,
    )
    existing = await session.scalars(select(Member.id_number_index))
    generator.used.update(existing)
    done = 0
    while done < households:
        size = min(chunk, households - done)
        await write(session, generator.batch(size))
        done += size
    if session.bind.dialect.name == "postgresql":
        # Explicit ids were inserted: move the sequences past them so later inserts do not collide.
        for table in ("households", "members"):
            await session.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            )
    return generator


async def copy_households(session: AsyncSession, at_most: int) -> int:
    """Copies the households whose ids are at most `at_most`, with their members, incomes and assets, in SQL
    (PostgreSQL): a city too big to generate in Python in an evening (the generator's encryption and inserts
    take about 1 ms a household) grows by copies of the one generated. Each copy gets new ids past the current
    ones, so the households stay in one range of ids as the screening's chunks read them, and a new blind index
    for each member (the unique key of a person), so a copy is another family with the same figures. The ID
    numbers' ciphertexts stay as they were: their associated data is the column, not the row. Returns how many
    households were copied (fewer than `at_most` where ids have gaps; 0 for an empty city)."""
    if session.bind.dialect.name != "postgresql":
        raise ValueError("households are copied in PostgreSQL's SQL (sha256, encode)")
    tables = [model.__table__ for model in (Household, Member, Income, Asset)]
    tops = {t.name: await session.scalar(select(func.coalesce(func.max(t.c.id), 0))) for t in tables}
    last = min(at_most, tops["households"])
    shifted = {
        "id": lambda table: f"id + {tops[table.name]}",
        "household_id": lambda table: f"household_id + {tops['households']}",
        "member_id": lambda table: f"member_id + {tops['members']}",  # an asset's null member stays null
        # A new person: the old blind index hashed with this copy's offset (unique to the copy).
        "id_number_index": lambda table: "encode(sha256(convert_to(id_number_index || :copy, 'UTF8')), 'hex')",
    }
    copied = {}
    for table in tables:
        columns = [column.name for column in table.columns]
        values = [shifted[name](table) if name in shifted else name for name in columns]
        owner = "id" if table.name == "households" else "household_id"
        copied[table.name] = await session.execute(
            text(
                f"INSERT INTO {table.name} ({', '.join(columns)}) "
                f"SELECT {', '.join(values)} FROM {table.name} WHERE {owner} <= :last ORDER BY id"
            ),
            {"last": last, "copy": f"/copy-{tops['households']}"},
        )
    for table in tables:  # past the copies' ids, for whatever is inserted next
        await session.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT max(id) FROM {table.name}))")
        )
    return copied["households"].rowcount


async def _main(households: int, seed: int) -> None:
    settings = AssistanceSettings()
    database = Database(settings.database_url)
    try:
        async with database.sessionmaker() as session, session.begin():
            await generate(session, households, as_of=clock.today(), seed=seed)
    finally:
        await database.dispose()
    print(f"assistance: {households} synthetic households added")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tools.data.assistance_generate", description=__doc__.split("\n")[0]
    )
    # `./dev seed assistance --households N` passes the flag; `python -m ... N` works as well.
    parser.add_argument("count", type=int, nargs="?")
    parser.add_argument("--households", type=int)
    parser.add_argument("--seed", type=int, default=2022)
    args = parser.parse_args(argv)
    households = args.households or args.count
    if not households or households < 1:
        parser.error("how many households? (--households N)")
    asyncio.run(_main(households, args.seed))


if __name__ == "__main__":
    main()
