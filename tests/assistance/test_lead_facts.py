"""Leads keep no income (issue 7): a facts digest instead, the same whether SQL (either backend) or Python computes
it, and the migration that rewrote the leads written before."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from sqlalchemy import BigInteger, select, text

from services.assistance.discovery.facts import facts_digest, facts_digest_sql, facts_key
from shared import migrations
from tests.assistance.test_leads import (
    API,
    COMMUNITY,
    add_income,
    closure,
    household_with_leads,
    load_policies,
    screening_leads,
    working_couple,
)
from tests.assistance.test_pii_at_rest import _execute
from tests.conftest import staff

CHECKER = staff("330212001005", "assistance.eligibility:check")
FACTS = [(1, 0, 118_500), (2, 80_000, 118_500), (3, 354_999, 118_500), (12, 9_999_999_999, 1), (0, 0, 0)]


async def test_sql_and_python_compute_the_same_digest(client):
    async with client.app.state.database.sessionmaker() as session:
        for n, income, standard in FACTS:
            in_sql = await session.scalar(select(facts_digest_sql(n, income, standard)))
            assert in_sql == facts_digest(n, income, standard)
        # Over columns as the screening computes it (integers from a table, not parameters).
        rows = " UNION ALL ".join(
            f"SELECT {n} AS n, {income} AS total, {standard} AS standard" for n, income, standard in FACTS
        )
        figures = (
            text(f"SELECT * FROM ({rows}) AS f").columns(n=BigInteger, total=BigInteger, standard=BigInteger).subquery()
        )
        computed = (
            await session.execute(
                select(
                    figures.c.n,
                    figures.c.total,
                    figures.c.standard,
                    facts_digest_sql(figures.c.n, figures.c.total, figures.c.standard),
                )
            )
        ).all()
    assert sorted((n, t, s, d) for n, t, s, d in computed) == sorted(
        (n, t, s, facts_digest(n, t, s)) for n, t, s in FACTS
    )
    # Each fact counts, and the key is the service's: a digest under another key differs.
    digests = {facts_digest(*f) for f in FACTS} | {facts_digest(2, 80_001, 118_500), facts_digest(2, 80_000, 118_501)}
    assert len(digests) == len(FACTS) + 2
    assert facts_digest(2, 80_000, 118_500, key="0" * 64) != facts_digest(2, 80_000, 118_500)
    assert len(facts_key()) == 64 and all(len(d) == 64 for d in digests)


async def test_leads_hold_no_income_figure_at_rest_nor_in_responses(committed_client):
    client = committed_client
    household_id, applicant = await working_couple(client)
    await add_income(client, household_id, applicant, "pension", 123_457)
    assert (household_id, "dibao", None) in await screening_leads(client)

    checked = await client.post(
        f"{API}/eligibility-checks", json={"household_id": household_id}, headers=client.as_(CHECKER)
    )
    assert checked.status_code == 200, checked.text
    income = checked.json()["household_monthly_income_fen"]
    assert income == 123_457  # a figure no other fact of the household happens to equal
    async with client.app.state.database.sessionmaker() as session:
        stored = (
            await session.execute(
                text("SELECT member_id, reasons FROM leads WHERE household_id = :h"), {"h": household_id}
            )
        ).all()
    assert stored
    for member_id, raw in stored:
        raw = raw if isinstance(raw, str) else json.dumps(raw)
        assert "income" not in raw and str(income) not in raw, raw
        if member_id is None:
            reasons = json.loads(raw)
            assert reasons["facts_digest"] == facts_digest(2, income, reasons["standard_fen"])
            assert reasons["counted_members"] == 2
    listed = await client.get(f"{API}/leads", params={"household_id": household_id}, headers=client.as_(COMMUNITY))
    assert listed.json()["items"] and "income" not in listed.text and str(income) not in listed.text

    # Closed on these facts: not raised again; a new income (new facts) raises it again.
    [lead] = [x for x in listed.json()["items"] if x["programme"] == "dibao" and x["member_id"] is None][:1]
    closed = await client.post(
        closure(lead["id"]), json={"outcome": "declined", "reason": "本人不愿申请"}, headers=client.as_(COMMUNITY)
    )
    assert closed.status_code == 200, closed.text
    assert (household_id, "dibao", None) not in await screening_leads(client)
    await add_income(client, household_id, applicant, "pension", 1_000)
    assert (household_id, "dibao", None) in await screening_leads(client)


async def test_a_signal_lead_closed_is_not_raised_again_by_a_screening_on_the_same_facts(committed_client):
    """The signal computes the digest in Python, the screening in SQL: they agree, so the closure holds."""
    client = committed_client
    await load_policies(client)
    household_id, leads = await household_with_leads(client)
    [dibao] = [x for x in leads if x["programme"] == "dibao"]
    assert set(dibao["reasons"]) == {"signal", "as_of", "criteria", "counted_members", "standard_fen", "facts_digest"}
    assert not any("income" in key for lead in leads for key in lead["reasons"])  # criteria codes name it, no more
    closed = await client.post(
        closure(dibao["id"]), json={"outcome": "declined", "reason": "本人不愿申请"}, headers=client.as_(COMMUNITY)
    )
    assert closed.status_code == 200, closed.text
    found = await screening_leads(client)
    assert (household_id, "dibao", None) not in found
    assert any(h == household_id for h, _, _ in found)  # the other, still open, programmes are raised


# --- the migration -------------------------------------------------------------------------------------------

BEFORE = "66201d2b18fe"  # the last revision whose leads kept the counted income


@pytest.fixture
def scratch(scratch_database) -> str:
    return scratch_database("assistance_lead_facts")


def _reasons(value) -> dict:
    return value if isinstance(value, dict) else json.loads(value)


def test_the_migration_replaces_the_stored_income_by_the_digest(scratch):
    migrations.upgrade("assistance", scratch, BEFORE)
    now = dt.datetime.now(dt.UTC)
    old = {
        "rule": "eligibility.rules.evaluate",
        "as_of": "2024-06-01",
        "counted_members": 2,
        "household_income_fen": 80_000,
        "standard_fen": 118_500,
    }
    person = {"rule": "eligibility.rules.evaluate", "as_of": "2024-06-01"}
    lead = (
        "INSERT INTO leads (id, screening_id, household_id, member_id, area_code, programme, state, reasons, "
        "created_at) VALUES (:id, 1, 1, :m, '330212001005', :p, 'open', :r, :now)"
    )
    asyncio.run(
        _execute(
            scratch,
            (
                "INSERT INTO screenings (id, state, as_of, area_code, until_household_id, total_households, "
                "processed_households, last_household_id, leads_count, attempts, requested_by, created_at) "
                "VALUES (1, 'done', :d, '330200', 1, 1, 1, 1, 2, 1, 'test', :now)",
                {"d": dt.date(2024, 6, 1), "now": now},
            ),
            (
                "INSERT INTO households (id, area_code, address, created_by, created_at) "
                "VALUES (1, '330212001005', 'x', 'test', :now)",
                {"now": now},
            ),
            (
                "INSERT INTO members (id, household_id, id_number_enc, id_number_index, name, birth_on, sex, relationship, "
                "residence, labour_capacity, schooling, full_time_student, lives_together, legal_duty_of_support, parents, "
                "in_institution, created_at) VALUES (1, 1, 'x', 'x', '某', :b, 'female', 'applicant', 'registered', "
                "'none', 'none', false, true, false, 'present', false, :now)",
                {"b": dt.date(1950, 1, 1), "now": now},
            ),
            (lead, {"id": 1, "m": None, "p": "dibao", "r": json.dumps(old), "now": now}),
            (lead, {"id": 2, "m": 1, "p": "tekun", "r": json.dumps(person), "now": now}),
        )
    )

    migrations.upgrade("assistance", scratch)
    rows = asyncio.run(_execute(scratch, ("SELECT id, reasons FROM leads ORDER BY id", {})))[0]
    household_lead, person_lead = (_reasons(r[1]) for r in rows)
    assert household_lead == {
        "rule": "eligibility.rules.evaluate",
        "as_of": "2024-06-01",
        "counted_members": 2,
        "standard_fen": 118_500,
        "facts_digest": facts_digest(2, 80_000, 118_500),
    }
    assert person_lead == person

    migrations.downgrade("assistance", scratch, BEFORE)
    rows = asyncio.run(_execute(scratch, ("SELECT id, reasons FROM leads ORDER BY id", {})))[0]
    # The figure is gone for good: the old shape comes back with no value.
    assert [_reasons(r[1]) for r in rows] == [old | {"household_income_fen": None}, person]
