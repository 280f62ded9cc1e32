"""Whole-city screening as a job of the worker process: enqueued by the API, progress, leads per area, resume after
a dead worker, failure reported, cancel."""

import asyncio
import datetime as dt

import pytest
from sqlalchemy import delete, func, select

from services.assistance import seed
from services.assistance.discovery import batch, flows, runner, screenings
from services.assistance.discovery.models import Screening, ScreeningChunk
from services.assistance.discovery.schemas import ScreeningIn
from services.assistance.eligibility import service as eligibility
from services.assistance.households.models import Household, Member
from services.assistance.jobs import tasks
from services.assistance.leads.models import Lead
from services.assistance.policies.models import PolicyVersion
from services.assistance.programmes import service as programmes
from shared import clock
from shared.jobs import Worker
from tests.assistance.helpers import household, member
from tests.conftest import staff
from tests.jobs import run_jobs
from tools.data.assistance_generate import generate

API = "/api/assistance/v1"
RUN = "assistance.screenings:run"
CITY = staff("330200", RUN, subject="staff:city")
YINZHOU = staff("330212", RUN, subject="staff:yinzhou")
JOBS = staff("330200", "assistance.jobs:read", "assistance.jobs:write", subject="staff:city-jobs")
HOUSEHOLDS = 400


async def city(client, households=HOUSEHOLDS):
    """A generated city with some eligible households already receiving their programme."""
    database = client.app.state.database
    today = clock.today()
    async with database.sessionmaker() as session:
        await seed.load_policies(session)
        await generate(session, households, as_of=today, seed=3)
        params = await eligibility.parameters(session, "330200", today)
        hits = await batch.eligible(session, params, today)
        receiving = [h for h in hits if h.programme == "dibao"][:20]
        for hit in receiving:
            applicant = await session.scalar(
                select(Member.id_number).where(
                    Member.household_id == hit.household_id, Member.relationship == "applicant"
                )
            )
            await programmes.enrol(
                session,
                id_number=applicant,
                household_id=hit.household_id,
                programme="dibao",
                since_on=today - dt.timedelta(days=30),
                monthly_fen=1,
                basis="test",
            )
        await session.commit()
    expected = {(h.household_id, h.programme, h.member_id) for h in hits} - {
        (h.household_id, h.programme, h.member_id) for h in receiving
    }
    return expected


async def screened(client, screening_id, principal=CITY) -> dict:
    """The worker runs what is due (as `python -m services.assistance.worker` does); then the screening, read."""
    await run_jobs(client.app, tasks)
    return await screening_of(client, screening_id, principal)


async def screening_of(client, screening_id, principal=CITY) -> dict:
    return (await client.get(f"{API}/screenings/{screening_id}", headers=client.as_(principal))).json()


async def job_of(client, job_id) -> dict:
    return (await client.get(f"{API}/jobs/{job_id}", headers=client.as_(JOBS))).json()


async def all_leads(client, screening_id, principal=CITY, **params):
    leads, cursor = [], None
    while True:
        query = {"limit": 100, **params} | ({"cursor": cursor} if cursor else {})
        page = (
            await client.get(f"{API}/screenings/{screening_id}/leads", params=query, headers=client.as_(principal))
        ).json()
        leads += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return leads


async def test_a_city_screening_lists_those_eligible_but_not_receiving_per_area(committed_client):
    client = committed_client
    expected = await city(client)
    started = await client.post(f"{API}/screenings", json={}, headers=client.as_(CITY))
    assert started.status_code == 202, started.text
    assert started.json()["total_households"] == HOUSEHOLDS
    done = await screened(client, started.json()["id"])
    assert (done["state"], done["progress_percent"], done["processed_households"]) == ("done", 100.0, HOUSEHOLDS)
    leads = await all_leads(client, done["id"])
    assert {(x["household_id"], x["programme"], x["member_id"]) for x in leads} == expected
    assert done["leads_count"] == len(leads) == len(expected)
    # The reasons: which rule on which day; for a household programme also the counted members, the standard and
    # the facts digest (never the income, issue 7).
    rule = {"rule": "eligibility.rules.evaluate", "as_of": clock.today().isoformat()}
    assert all(x["reasons"] == rule for x in leads if x["member_id"] is not None)
    households = [x["reasons"] for x in leads if x["member_id"] is None]
    assert households and all(list(r) == [*rule, "counted_members", "standard_fen", "facts_digest"] for r in households)
    assert all(
        {k: r[k] for k in rule} == rule
        and r["counted_members"] >= 1
        and r["standard_fen"] > 0
        and len(r["facts_digest"]) == 64
        for r in households
    )
    # Per area: a district's staff see their own leads only; the `area` filter narrows further.
    yinzhou = await all_leads(client, done["id"], YINZHOU)
    assert yinzhou and all(x["area_code"].startswith("330212") for x in yinzhou)
    assert len(yinzhou) == sum(1 for x in leads if x["area_code"].startswith("330212"))
    street = yinzhou[0]["area_code"][:9]
    narrowed = await all_leads(client, done["id"], YINZHOU, area=street)
    assert narrowed and all(x["area_code"].startswith(street) for x in narrowed)
    # A district screening covers its own households only, and another district cannot read it.
    own = await client.post(f"{API}/screenings", json={}, headers=client.as_(YINZHOU))
    done_own = await screened(client, own.json()["id"], YINZHOU)
    assert done_own["leads_count"] == len(yinzhou)
    haishu = staff("330203", RUN)
    assert (await client.get(f"{API}/screenings/{own.json()['id']}", headers=client.as_(haishu))).status_code == 404
    assert (
        await client.get(f"{API}/screenings/{own.json()['id']}/leads", headers=client.as_(haishu))
    ).status_code == 404


async def test_the_api_only_enqueues_the_screening_and_a_worker_runs_it(committed_client, monkeypatch):
    client = committed_client
    monkeypatch.setenv("ASSISTANCE_SCREENING_CHUNK", "100")
    expected = await city(client)
    started = (await client.post(f"{API}/screenings", json={}, headers=client.as_(CITY))).json()
    await asyncio.sleep(0.2)  # were anything started in this process, it would have begun by now
    queued = await screening_of(client, started["id"])
    assert (queued["state"], queued["processed_households"], queued["attempts"]) == ("queued", 0, 0)
    job = await job_of(client, started["job_id"])
    assert (job["task"], job["status"], job["progress"], job["attempts"]) == ("screening.run", "queued", 0, 0)
    assert ("screening.run", "succeeded") in await run_jobs(client.app, tasks)
    done = await screening_of(client, started["id"])
    assert (done["state"], done["processed_households"], done["attempts"]) == ("done", HOUSEHOLDS, 1)
    assert done["leads_count"] == len(expected)
    job = await job_of(client, started["job_id"])
    assert (job["status"], job["progress"], job["result"]) == ("succeeded", 100, {"screening_id": started["id"]})


class KilledAfterItsFirstChunk(Worker):
    """A worker process killed as it reports the progress of its job's first committed chunk."""

    async def renew(self, job_id, *, progress=None):
        await super().renew(job_id, progress=progress)
        if progress is not None:
            raise asyncio.CancelledError  # what stopping the process does to the job in hand


async def test_a_screening_whose_worker_died_is_resumed_by_another_without_duplicates(
    committed_client, monkeypatch, moved_clock
):
    client = committed_client
    monkeypatch.setenv("ASSISTANCE_SCREENING_CHUNK", "100")
    monkeypatch.setenv("ASSISTANCE_SCREENING_WORKERS", "1")  # no helper: the screening's own job is resumed
    monkeypatch.setenv("ASSISTANCE_SCREENING_CHUNKS_IN_FLIGHT", "1")  # on PostgreSQL too: the dead worker committed one
    expected = await city(client)
    started = (await client.post(f"{API}/screenings", json={}, headers=client.as_(CITY))).json()
    dying = KilledAfterItsFirstChunk(client.app.state.database, tasks, name="dying", lease=dt.timedelta(minutes=1))
    job = await dying.claim()
    with pytest.raises(asyncio.CancelledError):
        await dying.run_one(job)
    half = await screening_of(client, started["id"])
    assert (half["state"], half["processed_households"], half["progress_percent"]) == ("running", 100, 25.0)
    running = await job_of(client, started["job_id"])
    assert (running["status"], running["progress"], running["attempts"]) == ("running", 25, 1)
    # Nobody takes the job while its lease holds; once it has run out, the next worker resumes it.
    assert "screening.run" not in [task for task, _ in await run_jobs(client.app, tasks)]
    moved_clock(dt.timedelta(minutes=2))
    done = await screened(client, started["id"])
    assert (done["state"], done["attempts"], done["processed_households"]) == ("done", 2, HOUSEHOLDS)
    assert (await job_of(client, started["job_id"]))["status"] == "succeeded"
    leads = await all_leads(client, started["id"])
    found = {(x["household_id"], x["programme"], x["member_id"]) for x in leads}
    assert len(leads) == len(found) == done["leads_count"]
    assert {(x["household_id"], x["programme"], x["member_id"]) for x in leads} == expected


async def test_a_running_screening_cancelled_stops_after_its_chunk_and_says_so(committed_client, monkeypatch):
    client = committed_client
    monkeypatch.setenv("ASSISTANCE_SCREENING_CHUNK", "50")
    await city(client)
    started = (await client.post(f"{API}/screenings", json={}, headers=client.as_(CITY))).json()
    asked = []

    class CancelledWhileRunning(Worker):
        """Staff cancel the job through the API once its first chunk is committed."""

        async def renew(self, job_id, *, progress=None):
            if progress is not None and not asked:
                asked.append(await client.post(f"{API}/jobs/{job_id}/cancel", headers=client.as_(JOBS)))
            await super().renew(job_id, progress=progress)

    worker = CancelledWhileRunning(client.app.state.database, tasks, name="w", lease=dt.timedelta(minutes=10))
    assert await worker.run_one(await worker.claim()) == "cancelled"
    assert (asked[0].json()["status"], asked[0].json()["cancel_requested"]) == ("running", True)
    stopped = await screening_of(client, started["id"])
    assert (stopped["state"], stopped["error"]) == ("failed", screenings.CANCELLED)
    assert 0 < stopped["processed_households"] < HOUSEHOLDS and stopped["finished_at"] is not None
    assert stopped["leads_count"] == len(await all_leads(client, started["id"]))
    assert (await job_of(client, started["job_id"]))["status"] == "cancelled"
    assert "screening.run" not in [task for task, _ in await run_jobs(client.app, tasks)]  # nothing resumes it


async def test_a_queued_screening_cancelled_never_runs_and_says_so(committed_client):
    client = committed_client
    await city(client, households=50)
    started = (await client.post(f"{API}/screenings", json={}, headers=client.as_(CITY))).json()
    cancelled = await client.post(f"{API}/jobs/{started['job_id']}/cancel", headers=client.as_(JOBS))
    assert cancelled.json()["status"] == "cancelled"
    assert not [task for task, _ in await run_jobs(client.app, tasks) if task == "screening.run"]
    stopped = await screening_of(client, started["id"])
    assert (stopped["state"], stopped["error"], stopped["processed_households"]) == ("failed", screenings.CANCELLED, 0)
    # District staff, who may start screenings, may not cancel the worker's jobs.
    again = await client.post(f"{API}/jobs/{started['job_id']}/cancel", headers=client.as_(YINZHOU))
    assert again.status_code == 403


async def test_a_screening_that_cannot_finish_is_retried_then_reports_failed(committed_client, moved_clock):
    client = committed_client
    await city(client, households=50)
    database = client.app.state.database
    async with database.sessionmaker() as session:
        started = await flows.start_screening(session, CITY, ScreeningIn())
        # The rules it needs disappear before it runs (a botched data repair): it must say so, not vanish.
        await session.execute(delete(PolicyVersion).where(PolicyVersion.code == "dibao_standard"))
        await session.commit()
    for attempt in (1, 2):
        retried = await screened(client, started.id)
        assert (retried["state"], retried["attempts"]) == ("queued", attempt) and "dibao_standard" in retried["error"]
        moved_clock(dt.timedelta(minutes=1))  # past the pause before the next attempt
    failed = await screened(client, started.id)
    assert (failed["state"], failed["attempts"]) == ("failed", 3) and "dibao_standard" in failed["error"]
    job = await job_of(client, started.job_id)
    assert job["status"] == "failed" and "dibao_standard" in job["last_error"]
    async with database.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Lead)) == 0
        assert (await session.get(Screening, started.id)).finished_at is not None


async def test_bad_screenings(committed_client):
    client = committed_client
    async with client.app.state.database.sessionmaker() as session:
        await seed.load_policies(session)
        await session.commit()
    early = await client.post(f"{API}/screenings", json={"as_of": "2019-01-01"}, headers=client.as_(CITY))
    assert early.status_code == 422 and early.json()["errors"][0]["field"] == "as_of"
    # A day to come listed people for who they will be then (in 2199 everyone alive is 60 or over): no screening.
    ahead = (clock.today() + dt.timedelta(days=1)).isoformat()
    for day in (ahead, "2199-01-01"):
        later = await client.post(f"{API}/screenings", json={"as_of": day}, headers=client.as_(CITY))
        assert later.status_code == 422 and later.json()["errors"][0]["field"] == "as_of", later.text
    async with client.app.state.database.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Screening)) == 0
    outside = await client.post(f"{API}/screenings", json={"area_code": "330203"}, headers=client.as_(YINZHOU))
    assert outside.status_code == 403
    assert (await client.post(f"{API}/screenings", json={}, headers=client.as_(staff("330200")))).status_code == 403
    assert (await client.get(f"{API}/screenings/99999", headers=client.as_(CITY))).status_code == 404


async def test_chunks_in_flight_together_write_every_lead_once_and_a_failed_one_keeps_nothing(
    committed_client, monkeypatch
):
    """On PostgreSQL several chunks run at once (`in_flight`), each committing on its own; a chunk that
    fails fails the screening, is given back, and the chunks in flight beside it roll back: what is kept is
    exactly the leads of the chunks marked done, counted on the screening."""
    client = committed_client
    expected = await city(client)
    database = client.app.state.database
    async with database.sessionmaker() as session:
        whole = await screenings.create_screening(session, CITY, ScreeningIn())
        broken = await screenings.create_screening(session, CITY, ScreeningIn())
        await session.commit()
    await runner.run(database, whole.id, chunk=30, in_flight=4)
    done = (await client.get(f"{API}/screenings/{whole.id}", headers=client.as_(CITY))).json()
    assert (done["state"], done["processed_households"]) == ("done", HOUSEHOLDS), done
    leads = await all_leads(client, whole.id)
    assert len(leads) == len(expected) == done["leads_count"]
    assert {(x["household_id"], x["programme"], x["member_id"]) for x in leads} == expected

    # A fault in the fifth chunk (a crash of its transaction, not of the database).
    async with database.sessionmaker() as session:
        fifth_after = sorted(await session.scalars(select(Household.id)))[4 * 30 - 1]
    load_incomes = batch.load_incomes

    async def failing_fifth(session, as_of, *, after_id=0, until_id=None, **kwargs):
        if after_id == fifth_after:
            raise RuntimeError("chunk lost")
        return await load_incomes(session, as_of, after_id=after_id, until_id=until_id, **kwargs)

    monkeypatch.setattr(batch, "load_incomes", failing_fifth)
    with pytest.raises(RuntimeError, match="chunk lost"):
        await runner.run(database, broken.id, chunk=30, in_flight=4)
    async with database.sessionmaker() as session:
        failed = await session.get(Screening, broken.id)
        kept = list(
            await session.execute(
                select(Lead.household_id, Lead.programme, Lead.member_id).where(Lead.screening_id == broken.id)
            )
        )
        chunks = list(
            await session.scalars(
                select(ScreeningChunk).where(ScreeningChunk.screening_id == broken.id).order_by(ScreeningChunk.id)
            )
        )
    assert failed.state == "failed" and "chunk lost" in failed.error
    fifth = next(c for c in chunks if c.after_id == fifth_after)
    assert fifth.state == "queued"  # given back: the next attempt takes it at once
    done_chunks = [c for c in chunks if c.state == "done"]
    if database.dialect == "sqlite":
        assert [c.after_id for c in done_chunks] == [c.after_id for c in chunks[:4]]  # one at a time, in order
    assert failed.processed_households == sum(c.households for c in done_chunks)
    assert failed.leads_count == len(kept) == sum(c.leads for c in done_chunks)
    assert {tuple(k) for k in kept} == {e for e in expected if any(c.after_id < e[0] <= c.last_id for c in done_chunks)}


async def test_chunks_in_flight_take_turns_decrypting_and_writing(committed_client, monkeypatch):
    """One chunk at a time reads and decrypts its incomes (this process's work), at most WRITING_CHUNKS write
    leads (the database's), and the next chunk decrypts while others write: the pipeline that keeps both cores
    busy. On SQLite one chunk runs at a time."""
    client = committed_client
    expected = await city(client)
    database = client.app.state.database
    busy = {"load_incomes": 0, "write_leads": 0}
    most = dict(busy)
    overlapped = []

    def counted(name):
        original = getattr(batch, name)

        async def wrapper(*args, **kwargs):
            busy[name] += 1
            most[name] = max(most[name], busy[name])
            overlapped.append(busy["load_incomes"] and busy["write_leads"])
            try:
                if name == "write_leads":
                    await asyncio.sleep(0.02)  # a write that takes a while, as at city scale
                return await original(*args, **kwargs)
            finally:
                busy[name] -= 1

        monkeypatch.setattr(batch, name, wrapper)

    counted("load_incomes")
    counted("write_leads")
    async with database.sessionmaker() as session:
        job = await screenings.create_screening(session, CITY, ScreeningIn())
        await session.commit()
    await runner.run(database, job.id, chunk=30, in_flight=4)
    leads = await all_leads(client, job.id)
    assert {(x["household_id"], x["programme"], x["member_id"]) for x in leads} == expected
    assert most["load_incomes"] == 1
    if database.dialect == "postgresql":
        assert most["write_leads"] == runner.WRITING_CHUNKS and any(overlapped)
    else:
        assert most["write_leads"] == 1 and not any(overlapped)


APPLYING = (
    "assistance.households:read",
    "assistance.households:write",
    "assistance.applications:read",
    "assistance.applications:write",
)
BAIZHANG_COMMUNITY = staff("330212001005", *APPLYING, RUN, subject="staff:baizhang-sq")
BAIZHANG_STREET = staff("330212001", *APPLYING, subject="staff:baizhang")


async def in_public_notice(client, household_id: int, programme: str, member_id: int | None = None) -> dict:
    """An application taken through 受理, 入户调查 and 初审 into 公示 by the community and the street."""

    async def act(principal, path, body):
        response = await client.post(f"{API}{path}", json=body, headers=client.as_(principal))
        assert response.status_code in (200, 201), response.text
        return response.json()

    application = await act(
        BAIZHANG_COMMUNITY,
        "/applications",
        {"household_id": household_id, "programme": programme, "member_id": member_id},
    )
    await act(
        BAIZHANG_COMMUNITY,
        f"/applications/{application['id']}/investigation",
        {"visited_on": clock.today().isoformat(), "findings": "入户核实，无收入"},
    )
    await act(
        BAIZHANG_STREET,
        f"/applications/{application['id']}/preliminary-review",
        {"passed": True, "reasons": "符合条件"},
    )
    noticed = await act(BAIZHANG_STREET, f"/applications/{application['id']}/public-notice", {})
    assert noticed["state"] == "publicised"
    return noticed


async def test_a_household_whose_application_is_in_public_notice_is_not_listed_by_the_screening(committed_client):
    client = committed_client
    async with client.app.state.database.sessionmaker() as session:
        await seed.load_policies(session)
        await session.commit()

    async def elderly_couple():
        created = await client.post(
            f"{API}/households",
            headers=client.as_(BAIZHANG_COMMUNITY),
            json=household(member(age=75, labour_capacity="none"), member("spouse", age=72, labour_capacity="none")),
        )
        assert created.status_code == 201, created.text
        return created.json()["id"], [m["id"] for m in created.json()["members"]]

    applied, (husband, wife) = await elderly_couple()
    other, _ = await elderly_couple()
    await in_public_notice(client, applied, "dibao")
    await in_public_notice(client, applied, "tekun", member_id=husband)

    started = await client.post(f"{API}/screenings", json={}, headers=client.as_(BAIZHANG_COMMUNITY))
    assert started.status_code == 202, started.text
    done = await screened(client, started.json()["id"], BAIZHANG_COMMUNITY)
    assert done["state"] == "done", done
    found = {
        (x["household_id"], x["programme"], x["member_id"])
        for x in await all_leads(client, done["id"], BAIZHANG_COMMUNITY)
    }
    # No income, both over 60: 低保 and 特困 for each. The household in 公示 for 低保, and the husband for 特困, are
    # in the review chain already: no lead for those. His wife has not applied for 特困: she is still a lead.
    assert (applied, "dibao", None) not in found and (applied, "tekun", husband) not in found
    assert (applied, "tekun", wife) in found
    assert {(other, "dibao", None), (other, "tekun")} <= {x if x[1] == "dibao" else x[:2] for x in found}
    assert done["leads_count"] == len(found)
