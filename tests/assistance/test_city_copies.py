"""A city grown by copies in SQL (the benchmark's 5 M households) is a city of new families with the same figures:
new ids in one range, new people (blind indexes) whose ID numbers still decrypt, their incomes and assets their
own, and a screening finds as many leads in each copy as in the households copied."""

import collections
import datetime as dt

import pytest
from sqlalchemy import func, select, text

from services.assistance import seed
from services.assistance.assessment.models import Asset, Income
from services.assistance.discovery import batch
from services.assistance.eligibility import service as eligibility
from services.assistance.households.models import Household, Member
from tools.data.assistance_generate import copy_households, generate

pytestmark = pytest.mark.postgresql_only  # the copies are made in PostgreSQL's SQL; the bench is PostgreSQL's

AS_OF = dt.date(2024, 2, 29)


async def test_copies_are_new_families_with_the_same_figures(client):
    async with client.app.state.database.sessionmaker() as session:
        await seed.load_policies(session)
        await generate(session, 300, as_of=AS_OF, seed=11)
        assert await copy_households(session, 1000) == 300  # at most what it holds: one whole copy
        assert await copy_households(session, 250) == 250  # then part of the 600 now held
        await session.commit()

        households = list(await session.scalars(select(Household).order_by(Household.id)))
        assert [h.id for h in households] == list(range(1, 851))  # one range of ids, as the chunks read them
        members = list(await session.scalars(select(Member).order_by(Member.id)))
        assert len({m.id_number_index for m in members}) == len(members)  # each one a person of their own
        by_household = collections.defaultdict(list)
        for member in members:
            by_household[member.household_id].append(member)

        def figures(household_id):
            return [(m.id_number, m.birth_on, m.relationship) for m in by_household[household_id]]

        for original, copy in ((1, 301), (300, 600), (1, 601), (250, 850)):
            assert figures(copy) == figures(original)  # the ID numbers decrypt, the same as the original's

        incomes = list(await session.scalars(select(Income)))
        assets = list(await session.scalars(select(Asset)))
        members_of = {m.id: m.household_id for m in members}
        assert all(members_of[i.member_id] == i.household_id for i in incomes)
        assert all(a.member_id is None or members_of[a.member_id] == a.household_id for a in assets)
        for rows in (incomes, assets):
            held = collections.Counter(row.household_id for row in rows)
            assert [held[h + 300] for h in range(1, 301)] == [held[h] for h in range(1, 301)]
            assert [held[h + 600] for h in range(1, 251)] == [held[h] for h in range(1, 251)]

        # The screening's statement finds each copy's hits exactly where it finds the original's.
        params = await eligibility.parameters(session, "330212", AS_OF)
        hits = {(h.household_id, h.programme) for h in await batch.eligible(session, params, AS_OF)}
        first = {(household, programme) for household, programme in hits if household <= 300}
        assert first, "the generated households hit no programme: nothing compared"
        assert {(h + 300, p) for h, p in first} == {(h, p) for h, p in hits if 300 < h <= 600}
        assert {(h + 600, p) for h, p in first if h <= 250} == {(h, p) for h, p in hits if h > 600}

        # Whatever is recorded next gets ids past the copies'.
        for model in (Household, Member, Income, Asset):
            table = model.__table__.name
            top = await session.scalar(select(func.max(model.id)))
            assert await session.scalar(text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))")) == top + 1
