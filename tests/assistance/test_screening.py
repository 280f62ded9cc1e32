"""Whole-city screening as a background job: progress, leads per area, resume after a restart, failure reported."""

import asyncio
import datetime as dt

from sqlalchemy import delete, func, select

from services.assistance import seed
from services.assistance.discovery import batch, runner, screenings
from services.assistance.discovery.models import Screening
from services.assistance.discovery.schemas import ScreeningIn
from services.assistance.eligibility import service as eligibility
from services.assistance.households.models import Household, Member
from services.assistance.leads.models import Lead
from services.assistance.main import create_app
from services.assistance.policies.models import PolicyVersion
from services.assistance.programmes import service as programmes
from shared import clock
from tests.assistance.helpers import household, member
from tests.conftest import settings_for, staff
from tools.data.assistance_generate import generate

API = "/api/assistance/v1"
RUN = "assistance.screenings:run"
CITY = staff("330200", RUN, subject="staff:city")
YINZHOU = staff("330212", RUN, subject="staff:yinzhou")
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
            applicant = await session.scalar(select(Member.id_number).where(
                Member.household_id == hit.household_id, Member.relationship == "applicant"))
            await programmes.enrol(session, id_number=applicant, household_id=hit.household_id, programme="dibao",
                                   since_on=today - dt.timedelta(days=30), monthly_fen=1, basis="test")
        await session.commit()
    expected = {(h.household_id, h.programme, h.member_id) for h in hits} - {
        (h.household_id, h.programme, h.member_id) for h in receiving}
    return expected


async def wait_done(client, screening_id, principal=CITY, timeout=30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        body = (await client.get(f"{API}/screenings/{screening_id}", headers=client.as_(principal))).json()
        if body["state"] in ("done", "failed") or asyncio.get_running_loop().time() > deadline:
            return body
        await asyncio.sleep(0.05)


async def all_leads(client, screening_id, principal=CITY, **params):
    leads, cursor = [], None
    while True:
        query = {"limit": 100, **params} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"{API}/screenings/{screening_id}/leads", params=query,
                                 headers=client.as_(principal))).json()
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
    done = await wait_done(client, started.json()["id"])
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
    assert all({k: r[k] for k in rule} == rule and r["counted_members"] >= 1 and r["standard_fen"] > 0
               and len(r["facts_digest"]) == 64 for r in households)
    # Per area: a district's staff see their own leads only; the `area` filter narrows further.
    yinzhou = await all_leads(client, done["id"], YINZHOU)
    assert yinzhou and all(x["area_code"].startswith("330212") for x in yinzhou)
    assert len(yinzhou) == sum(1 for x in leads if x["area_code"].startswith("330212"))
    street = yinzhou[0]["area_code"][:9]
    narrowed = await all_leads(client, done["id"], YINZHOU, area=street)
    assert narrowed and all(x["area_code"].startswith(street) for x in narrowed)
    # A district screening covers its own households only, and another district cannot read it.
    own = await client.post(f"{API}/screenings", json={}, headers=client.as_(YINZHOU))
    done_own = await wait_done(client, own.json()["id"], YINZHOU)
    assert done_own["leads_count"] == len(yinzhou)
    haishu = staff("330203", RUN)
    assert (await client.get(f"{API}/screenings/{own.json()['id']}", headers=client.as_(haishu))).status_code == 404
    assert (await client.get(f"{API}/screenings/{own.json()['id']}/leads",
                             headers=client.as_(haishu))).status_code == 404


async def test_a_screening_interrupted_by_a_restart_resumes_without_duplicates(committed_client):
    client = committed_client
    expected = await city(client)
    database = client.app.state.database
    async with database.sessionmaker() as session:
        screening = await screenings.create_screening(session, CITY, ScreeningIn())
        await session.commit()
    # The first process takes the job, screens one chunk and dies.
    await runner.run(database, screening.id, chunk=100, stale_after=dt.timedelta(seconds=30), max_chunks=1)
    half = (await client.get(f"{API}/screenings/{screening.id}", headers=client.as_(CITY))).json()
    assert (half["state"], half["processed_households"], half["progress_percent"]) == ("running", 100, 25.0)
    # A new process starts: it takes over the job once its heartbeat is stale, and finishes it.
    settings = client.app.state.settings.model_copy(update={"screening_stale_after_s": 0.0, "screening_chunk": 100})
    restarted = create_app(settings)
    async with restarted.router.lifespan_context(restarted):
        done = await wait_done(client, screening.id)
    assert (done["state"], done["attempts"], done["processed_households"]) == ("done", 2, HOUSEHOLDS)
    leads = await all_leads(client, screening.id)
    assert len(leads) == len({(x["household_id"], x["programme"], x["member_id"]) for x in leads})
    assert {(x["household_id"], x["programme"], x["member_id"]) for x in leads} == expected


async def test_a_screening_that_cannot_finish_reports_failed(committed_client):
    client = committed_client
    await city(client, households=50)
    database = client.app.state.database
    async with database.sessionmaker() as session:
        screening = await screenings.create_screening(session, CITY, ScreeningIn())
        # The rules it needs disappear before it runs (a botched data repair): it must say so, not vanish.
        await session.execute(delete(PolicyVersion).where(PolicyVersion.code == "dibao_standard"))
        await session.commit()
    await runner.run(database, screening.id, chunk=100, stale_after=dt.timedelta(seconds=30))
    failed = (await client.get(f"{API}/screenings/{screening.id}", headers=client.as_(CITY))).json()
    assert failed["state"] == "failed" and "dibao_standard" in failed["error"]
    async with database.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Lead)) == 0
        assert (await session.get(Screening, screening.id)).finished_at is not None


async def test_bad_screenings(committed_client):
    client = committed_client
    async with client.app.state.database.sessionmaker() as session:
        await seed.load_policies(session)
        await session.commit()
    early = await client.post(f"{API}/screenings", json={"as_of": "2019-01-01"}, headers=client.as_(CITY))
    assert early.status_code == 422 and early.json()["errors"][0]["field"] == "as_of"
    outside = await client.post(f"{API}/screenings", json={"area_code": "330203"}, headers=client.as_(YINZHOU))
    assert outside.status_code == 403
    assert (await client.post(f"{API}/screenings", json={}, headers=client.as_(staff("330200")))).status_code == 403
    assert (await client.get(f"{API}/screenings/99999", headers=client.as_(CITY))).status_code == 404


async def test_chunks_in_flight_together_write_every_lead_once_and_checkpoint_in_order(committed_client, monkeypatch):
    """On PostgreSQL several chunks run at once (runner.PARALLEL_CHUNKS); their checkpoints still move in order, and
    a chunk that fails takes the chunks in flight after it down too: nothing beyond the checkpoint is kept."""
    client = committed_client
    expected = await city(client)
    database = client.app.state.database
    async with database.sessionmaker() as session:
        whole = await screenings.create_screening(session, CITY, ScreeningIn())
        broken = await screenings.create_screening(session, CITY, ScreeningIn())
        await session.commit()
    await runner.run(database, whole.id, chunk=30, stale_after=dt.timedelta(seconds=30))
    done = (await client.get(f"{API}/screenings/{whole.id}", headers=client.as_(CITY))).json()
    assert (done["state"], done["processed_households"]) == ("done", HOUSEHOLDS), done
    leads = await all_leads(client, whole.id)
    assert len(leads) == len(expected) == done["leads_count"]
    assert {(x["household_id"], x["programme"], x["member_id"]) for x in leads} == expected

    # A fault in the fifth chunk (a crash of its transaction, not of the database).
    async with database.sessionmaker() as session:
        fifth_after = sorted(await session.scalars(select(Household.id)))[4 * 30 - 1]
    load_incomes = batch.load_incomes

    async def failing_fifth(session, as_of, *, after_id=0, until_id=None):
        if after_id == fifth_after:
            raise RuntimeError("chunk lost")
        return await load_incomes(session, as_of, after_id=after_id, until_id=until_id)

    monkeypatch.setattr(batch, "load_incomes", failing_fifth)
    await runner.run(database, broken.id, chunk=30, stale_after=dt.timedelta(seconds=30))
    async with database.sessionmaker() as session:
        failed = await session.get(Screening, broken.id)
        kept = list(await session.execute(select(Lead.household_id, Lead.programme, Lead.member_id)
                                          .where(Lead.screening_id == broken.id)))
    assert failed.state == "failed" and "chunk lost" in failed.error
    assert failed.last_household_id == fifth_after  # four chunks checkpointed, in order, then none
    assert failed.processed_households == 4 * 30 and failed.leads_count == len(kept)
    assert {tuple(k) for k in kept} == {e for e in expected if e[0] <= failed.last_household_id}


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
    await runner.run(database, job.id, chunk=30, stale_after=dt.timedelta(seconds=30))
    leads = await all_leads(client, job.id)
    assert {(x["household_id"], x["programme"], x["member_id"]) for x in leads} == expected
    assert most["load_incomes"] == 1
    if database.dialect == "postgresql":
        assert most["write_leads"] == runner.WRITING_CHUNKS and any(overlapped)
    else:
        assert most["write_leads"] == 1 and not any(overlapped)


APPLYING = ("assistance.households:read", "assistance.households:write", "assistance.applications:read",
            "assistance.applications:write")
BAIZHANG_COMMUNITY = staff("330212001001", *APPLYING, RUN, subject="staff:baizhang-sq")
BAIZHANG_STREET = staff("330212001", *APPLYING, subject="staff:baizhang")


async def in_public_notice(client, household_id: int, programme: str, member_id: int | None = None) -> dict:
    """An application taken through 受理, 入户调查 and 初审 into 公示 by the community and the street."""
    async def act(principal, path, body):
        response = await client.post(f"{API}{path}", json=body, headers=client.as_(principal))
        assert response.status_code in (200, 201), response.text
        return response.json()
    application = await act(BAIZHANG_COMMUNITY, "/applications",
                            {"household_id": household_id, "programme": programme, "member_id": member_id})
    await act(BAIZHANG_COMMUNITY, f"/applications/{application['id']}/investigation",
              {"visited_on": clock.today().isoformat(), "findings": "入户核实，无收入"})
    await act(BAIZHANG_STREET, f"/applications/{application['id']}/preliminary-review",
              {"passed": True, "reasons": "符合条件"})
    noticed = await act(BAIZHANG_STREET, f"/applications/{application['id']}/public-notice", {})
    assert noticed["state"] == "publicised"
    return noticed


async def test_a_household_whose_application_is_in_public_notice_is_not_listed_by_the_screening(committed_client):
    client = committed_client
    async with client.app.state.database.sessionmaker() as session:
        await seed.load_policies(session)
        await session.commit()
    async def elderly_couple():
        created = await client.post(f"{API}/households", headers=client.as_(BAIZHANG_COMMUNITY), json=household(
            member(age=75, labour_capacity="none"), member("spouse", age=72, labour_capacity="none")))
        assert created.status_code == 201, created.text
        return created.json()["id"], [m["id"] for m in created.json()["members"]]

    applied, (husband, wife) = await elderly_couple()
    other, _ = await elderly_couple()
    await in_public_notice(client, applied, "dibao")
    await in_public_notice(client, applied, "tekun", member_id=husband)

    started = await client.post(f"{API}/screenings", json={}, headers=client.as_(BAIZHANG_COMMUNITY))
    assert started.status_code == 202, started.text
    done = await wait_done(client, started.json()["id"], BAIZHANG_COMMUNITY)
    assert done["state"] == "done", done
    found = {(x["household_id"], x["programme"], x["member_id"])
             for x in await all_leads(client, done["id"], BAIZHANG_COMMUNITY)}
    # No income, both over 60: 低保 and 特困 for each. The household in 公示 for 低保, and the husband for 特困, are
    # in the review chain already: no lead for those. His wife has not applied for 特困: she is still a lead.
    assert (applied, "dibao", None) not in found and (applied, "tekun", husband) not in found
    assert (applied, "tekun", wife) in found
    assert {(other, "dibao", None), (other, "tekun")} <= {x if x[1] == "dibao" else x[:2] for x in found}
    assert done["leads_count"] == len(found)
