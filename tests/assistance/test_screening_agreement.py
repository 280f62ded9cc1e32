"""The set-based screening and the single-household rules agree on a generated city, edge cases included."""

import collections
import dataclasses
import datetime as dt

from sqlalchemy import select

from services.assistance import seed
from services.assistance.assessment.models import Asset, Income
from services.assistance.discovery import batch
from services.assistance.discovery.models import Screening
from services.assistance.eligibility import rules
from services.assistance.eligibility import service as eligibility
from services.assistance.households.models import Household, Member
from services.assistance.leads.models import Lead
from services.assistance.programmes import service as programmes
from shared.db import utcnow
from shared.programmes import PROGRAMMES
from tools.data.assistance_generate import Thresholds, generate

AS_OF = dt.date(2024, 2, 29)  # a leap day: birthdays on 29 February and age cutoffs are edge cases too
HOUSEHOLDS = 10_000


def single_path_hits(households, members, incomes, assets, params):
    """Every household through `rules.evaluate`, exactly as an eligibility check builds its facts (its incomes over
    the assessment period of `params`)."""
    by_household = collections.defaultdict(lambda: ([], [], []))
    for m in members:
        by_household[m.household_id][0].append(m)
    for i in incomes:
        if i.period_from <= AS_OF:
            by_household[i.household_id][1].append(i)
    for a in assets:
        if a.source_on <= AS_OF:
            by_household[a.household_id][2].append(a)
    hits = set()
    for household in households:
        ms, incs, ass = by_household[household.id]
        facts = eligibility.facts_from_rows(
            household.area_code[:6], ms, incs, ass, as_of=AS_OF, period_months=rules.income_months(params)
        )
        result = rules.evaluate(facts, params, AS_OF)
        for programme in result.programmes:
            if programme.persons is None:
                if programme.eligible:
                    hits.add((household.id, programme.code, None))
            else:
                hits.update((household.id, programme.code, int(p.key)) for p in programme.persons if p.eligible)
    return hits


async def batch_hits_and_rows(session, params):
    """The screening's hits, and the rows the single path reads, from one session."""
    batch_hits = {(h.household_id, h.programme, h.member_id) for h in await batch.eligible(session, params, AS_OF)}
    rows = [list(await session.scalars(select(model))) for model in (Household, Member, Income, Asset)]
    return batch_hits, rows


async def test_batch_and_single_paths_agree_on_ten_thousand_households(client):
    async with client.app.state.database.sessionmaker() as session:
        await seed.load_policies(session)
        await generate(session, HOUSEHOLDS, as_of=AS_OF, seed=7)
        params = await eligibility.parameters(session, "330212", AS_OF)
        batch_hits, (households, members, incomes, assets) = await batch_hits_and_rows(session, params)
    assert len(households) == HOUSEHOLDS
    single_hits = single_path_hits(households, members, incomes, assets, params)
    assert batch_hits == single_hits, (sorted(batch_hits - single_hits)[:5], sorted(single_hits - batch_hits)[:5])
    # The generated city really exercises the rules: every programme is hit, and many households sit on an edge.
    found = collections.Counter(code for _, code, _ in single_hits)
    assert set(found) == set(PROGRAMMES), found
    assert found["dibao"] > 500 and found["dibao_marginal"] > 500
    totals = collections.Counter()
    on_edge = 0
    for i in incomes:  # those of the month the seed's one-month assessment period covers
        in_period = rules.months_in_period(i.period_from, i.months, AS_OF, 1)
        totals[i.household_id] += 0 if i.exempt or not in_period else i.monthly_fen
    standard = params["dibao_standard"].value
    counted = collections.Counter(m.household_id for m in members)
    on_edge = sum(1 for hid, total in totals.items() if abs(total - standard * counted[hid]) <= 30_001)
    assert on_edge > 100


async def test_batch_and_single_paths_agree_with_a_district_deduction_and_asset_limits(client):
    """The seed has no employment cost deduction and no asset limits (no source gives them); a district may enter
    cited ones, and both paths apply them."""
    async with client.app.state.database.sessionmaker() as session:
        await seed.load_policies(session)
        await generate(session, 2_000, as_of=AS_OF, seed=17, thresholds=Thresholds(deduction=30_000))
        params = await eligibility.parameters(session, "330212", AS_OF)
        assert params["employment_cost_deduction"].value == 0 and not set(rules.ASSET_LIMITS) & set(params)
        params["employment_cost_deduction"] = dataclasses.replace(params["employment_cost_deduction"], value=30_000)
        params |= {
            code: rules.Param(code, value, "fen", 0, "a district's cited limit (test)")
            for code, value in zip(
                rules.ASSET_LIMITS, (Thresholds.assets_limit, Thresholds.vehicle_limit), strict=False
            )
        }
        batch_hits, (households, members, incomes, assets) = await batch_hits_and_rows(session, params)
    single_hits = single_path_hits(households, members, incomes, assets, params)
    assert batch_hits == single_hits, (sorted(batch_hits - single_hits)[:5], sorted(single_hits - batch_hits)[:5])
    without = single_path_hits(
        households,
        members,
        incomes,
        assets,
        params | {"employment_cost_deduction": dataclasses.replace(params["employment_cost_deduction"], value=0)},
    )
    assert without != single_hits  # the deduction really decides some households here
    unlimited = single_path_hits(
        households, members, incomes, assets, {c: p for c, p in params.items() if c not in rules.ASSET_LIMITS}
    )
    assert unlimited > single_hits  # and the limits some others


async def test_batch_and_single_paths_agree_over_a_longer_assessment_period(client):
    """A district's cited assessment period of several months: both paths average the incomes over the same months
    (an income that ended before them counts for none, one that straddles them for its months in it), rounding
    down the same way; and the period really decides households, against the one month the seed ships."""
    async with client.app.state.database.sessionmaker() as session:
        await seed.load_policies(session)
        await generate(session, 2_000, as_of=AS_OF, seed=19)
        one_month = await eligibility.parameters(session, "330212", AS_OF)
        assert one_month[rules.INCOME_PERIOD].value == 1
        rows = None
        for months in (12, 5):
            params = one_month | {
                rules.INCOME_PERIOD: rules.Param(rules.INCOME_PERIOD, months, "months", 0, "a district's rule (test)")
            }
            batch_hits, rows = await batch_hits_and_rows(session, params)
            single_hits = single_path_hits(*rows, params)
            assert batch_hits == single_hits, (
                months,
                sorted(batch_hits - single_hits)[:5],
                sorted(single_hits - batch_hits)[:5],
            )
            assert single_hits != single_path_hits(*rows, one_month)


async def test_batch_ranges_cover_every_household_once(client):
    """Chunks by id range (as the screening job runs them) add up to the whole city."""
    async with client.app.state.database.sessionmaker() as session:
        await seed.load_policies(session)
        await generate(session, 600, as_of=AS_OF, seed=11)
        params = await eligibility.parameters(session, "330212", AS_OF)
        whole = await batch.eligible(session, params, AS_OF)
        ids = sorted(await session.scalars(select(Household.id)))
        pieces = []
        for start in range(0, len(ids), 250):
            chunk = ids[start : start + 250]
            pieces += await batch.eligible(session, params, AS_OF, after_id=chunk[0] - 1, until_id=chunk[-1])
        area = await batch.eligible(session, params, AS_OF, area_prefix="330212")
    key = lambda h: (h.household_id, h.programme, h.member_id or 0)  # noqa: E731
    assert sorted(whole, key=key) == sorted(pieces, key=key)
    assert {key(h) for h in area} == {key(h) for h in whole if h.area_code.startswith("330212")}


async def test_the_leads_the_job_writes_are_the_batch_hits_with_their_figures(client):
    """The screening job writes its leads in the database (INSERT … SELECT): the same targets as `eligible`, less
    what is already received, with the figures `eligible` reports, chunk by chunk as the job runs."""
    async with client.app.state.database.sessionmaker() as session:
        await seed.load_policies(session)
        await generate(session, 1_500, as_of=AS_OF, seed=13)
        params = await eligibility.parameters(session, "330212", AS_OF)
        hits = await batch.eligible(session, params, AS_OF)
        received = next(h for h in hits if h.programme == "dibao")
        applicant = await session.scalar(
            select(Member.id_number).where(
                Member.household_id == received.household_id, Member.relationship == "applicant"
            )
        )
        await programmes.enrol(
            session,
            id_number=applicant,
            household_id=received.household_id,
            programme="dibao",
            since_on=AS_OF - dt.timedelta(days=1),
            monthly_fen=1,
            basis="test",
        )
        screening = Screening(
            state="running",
            as_of=AS_OF,
            area_code="330200",
            until_household_id=0,
            total_households=0,
            processed_households=0,
            last_household_id=0,
            leads_count=0,
            attempts=1,
            requested_by="test",
            created_at=utcnow(),
        )
        session.add(screening)
        await session.flush()
        ids = sorted(await session.scalars(select(Household.id)))
        written = 0
        for start in range(0, len(ids), 400):
            chunk = ids[start : start + 400]
            await batch.load_incomes(
                session,
                AS_OF,
                period_months=rules.income_months(params),
                after_id=chunk[0] - 1,
                until_id=chunk[-1],
            )
            written += await batch.write_leads(
                session,
                screening.id,
                params,
                AS_OF,
                utcnow(),
                area_prefix="",
                after_id=chunk[0] - 1,
                until_id=chunk[-1],
            )
        leads = list(await session.scalars(select(Lead).where(Lead.screening_id == screening.id)))
    expected = {(h.household_id, h.programme, h.member_id): h for h in hits if h is not received}
    assert written == len(leads) == len(expected)
    assert {(x.household_id, x.programme, x.member_id) for x in leads} == set(expected)
    for lead in leads:
        hit = expected[(lead.household_id, lead.programme, lead.member_id)]
        assert lead.reasons == {"rule": "eligibility.rules.evaluate", "as_of": AS_OF.isoformat(), **hit.figures}
        assert (lead.area_code, lead.state) == (hit.area_code, "open")
    assert any(lead.reasons.get("counted_members") for lead in leads)
