"""Status lookups: another service asks which programmes a person receives (eldercare prices meals with it)."""

import asyncio
import datetime as dt

from sqlalchemy import text

from services.assistance import seed
from services.assistance.database import id_number_index
from services.assistance.programmes import service as programmes
from shared import clock
from shared.identity import Principal
from tests.assistance.helpers import born_years_ago, id_number
from tests.conftest import resident, staff

URL = "/api/assistance/v1/status-lookups"
SCOPE = "assistance.status:read"
ELDERCARE = Principal(subject="service:eldercare", kind="service", scopes=frozenset({SCOPE}))
WANG, CHEN = "330203194503150022", "330212195207080032"


async def load_seed(client):
    async with client.app.state.database.sessionmaker() as session:
        await seed.load(session)
        await session.commit()


async def lookup(client, number, principal=ELDERCARE):
    return await client.post(URL, json={"id_number": number}, headers=client.as_(principal))


async def test_the_eldercare_demo_elders_have_their_programmes(client):
    await load_seed(client)
    wang = await lookup(client, WANG)
    assert wang.status_code == 200, wang.text
    assert wang.json() == {
        "id_number_masked": "330203********0022",
        "as_of": clock.today().isoformat(),
        "programmes": [{"code": "dibao", "since": "2022-03-01"}],
    }
    chen = (await lookup(client, CHEN, staff("330203", SCOPE))).json()
    assert chen["programmes"] == [{"code": "tekun", "since": "2021-07-01"}]
    # Someone the service has never heard of: an empty list, not a 404.
    nobody = await lookup(client, "330212194001220031")
    assert nobody.status_code == 200 and nobody.json()["programmes"] == []
    assert WANG not in wang.text


async def test_only_current_enrolments_count(client):
    person = id_number(born_years_ago(70))
    today = clock.today()
    async with client.app.state.database.sessionmaker() as session:
        ended = await programmes.enrol(
            session,
            id_number=person,
            household_id=None,
            programme="dibao",
            since_on=today - dt.timedelta(days=400),
            monthly_fen=1,
            basis="test",
        )
        ended.until_on = today
        await programmes.enrol(
            session,
            id_number=person,
            household_id=None,
            programme="disability_care_subsidy",
            since_on=today + dt.timedelta(days=1),
            monthly_fen=1,
            basis="test",
        )  # not yet
        await programmes.enrol(
            session,
            id_number=person,
            household_id=None,
            programme="dibao",
            since_on=today - dt.timedelta(days=30),
            monthly_fen=1,
            basis="test",
        )
        await programmes.enrol(
            session,
            id_number=person,
            household_id=None,
            programme="disability_living_subsidy",
            since_on=today,
            monthly_fen=1,
            basis="test",
        )
        await session.commit()
    response = await lookup(client, person)
    assert response.json()["programmes"] == [
        {"code": "dibao", "since": (today - dt.timedelta(days=30)).isoformat()},
        {"code": "disability_living_subsidy", "since": today.isoformat()},
    ]


async def test_only_services_and_staff_with_the_scope_may_look_up(client):
    assert (await client.post(URL, json={"id_number": WANG})).status_code == 401
    no_scope = await lookup(client, WANG, Principal(subject="service:x", kind="service"))
    assert no_scope.status_code == 403 and SCOPE in no_scope.json()["detail"]
    for principal in (
        resident("resident:13800000001", SCOPE),
        Principal(subject="partner:yibao", kind="partner", scopes=frozenset({SCOPE})),
    ):
        response = await lookup(client, WANG, principal)
        assert response.status_code == 403, principal.kind


async def test_bad_id_numbers_are_422_naming_the_field(client):
    for bad in ("330203194503150023", "33020319450315002", "330203194513150022", "abc"):
        response = await lookup(client, bad)
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["field"] == "id_number"
    extra = await client.post(URL, json={"id_number": WANG, "name": "王"}, headers=client.as_(ELDERCARE))
    assert extra.status_code == 422


async def test_a_lookup_is_an_index_probe_not_a_scan(client, backend):
    """Lookups stay fast at city scale (p99 ≤ 20 ms) because they read one index by the blind index of the ID
    number, never the whole table (and never decrypt a row to compare it)."""
    query = programmes.lookup_query(id_number_index(WANG), dt.date(2024, 1, 1))
    async with client.app.state.database.sessionmaker() as session:
        sql = str(query.compile(dialect=(await session.connection()).dialect, compile_kwargs={"literal_binds": True}))
        if backend == "postgresql":
            await session.execute(text("SET LOCAL enable_seqscan = off"))  # small tables would be scanned anyway
            plan = "\n".join(r[0] for r in await session.execute(text("EXPLAIN " + sql)))
        else:
            plan = "\n".join(str(r[-1]) for r in await session.execute(text("EXPLAIN QUERY PLAN " + sql)))
    assert "ix_enrolments_id_number_current" in plan or "uq_enrolments_current" in plan, plan
    assert "id_number_index" in sql and WANG not in sql


async def test_one_current_enrolment_per_person_and_programme(committed_client):
    person = id_number(born_years_ago(66))
    database = committed_client.app.state.database

    async def try_enrol():
        async with database.sessionmaker() as session:
            try:
                await programmes.enrol(
                    session,
                    id_number=person,
                    household_id=None,
                    programme="tekun",
                    since_on=clock.today(),
                    monthly_fen=187000,
                    basis="test",
                )
                await session.commit()
                return True
            except Exception:
                await session.rollback()
                return False

    results = await asyncio.gather(*(try_enrol() for _ in range(10)))
    assert results.count(True) == 1
    response = await lookup(committed_client, person)
    assert response.json()["programmes"] == [{"code": "tekun", "since": clock.today().isoformat()}]
