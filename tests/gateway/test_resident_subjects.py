"""One subject per resident, whichever way they sign in: the demo phone signing in by SMS sees the demo elders
through the gateway, the same person by WeChat (linked once with an SMS code) and by dev token is the same
subject, and accounts made before keep the subject the services' records name."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import text, update

from gateway.auth.models import OneTimeCode
from gateway.principals import DEMO_PRINCIPALS
from services.eldercare import seed as eldercare_seed
from services.eldercare.main import create_app as create_eldercare
from shared import migrations
from shared.db import Database, make_engine
from shared.demo import DEMO_RESIDENT_PHONE, DEMO_RESIDENT_SUBJECT
from tests.conftest import service_database, settings_for
from tests.gateway.conftest import gateway_client
from tests.gateway.test_code_sign_in import with_sender
from tests.gateway.test_wechat_sign_in import fake_wechat, use_wechat  # noqa: F401  (a fixture)
from tests.shared.loopback import free_port, serve_in_background

AUTH = "/api/auth/v1"
ELDERS = "/api/eldercare/v1/elders"


@pytest.fixture
async def demo_suite(backend, db_dir):
    """The gateway in front of eldercare holding its demo data, both rolled back afterwards."""
    database = await service_database("eldercare", backend, db_dir)
    async with database.engine.connect() as connection:
        transaction = await connection.begin()
        eldercare = create_eldercare(settings_for("eldercare", database.url))
        eldercare.state.database = Database(database.url, bind=connection)
        async with eldercare.state.database.sessionmaker() as session, session.begin():
            await eldercare_seed.load(session)
        port = free_port()
        server, task = await serve_in_background(eldercare, port)
        try:
            gateway_database = await service_database("gateway", backend, db_dir)
            async for gateway in gateway_client(gateway_database, upstream_eldercare=f"http://127.0.0.1:{port}"):
                yield gateway
        finally:
            server.should_exit = True
            await task
            await transaction.rollback()


async def sms_code(gateway, sender, phone: str = DEMO_RESIDENT_PHONE) -> str:
    # One code a minute per phone: the earlier ones are made a minute older.
    async with gateway.app.local_app.state.database.sessionmaker() as session, session.begin():
        await session.execute(update(OneTimeCode).values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)))
    asked = await gateway.post(f"{AUTH}/code-requests", json={"phone": phone})
    assert asked.status_code == 202, asked.text
    assert sender.sent[-1][0] == phone
    return sender.sent[-1][1]


def subject_of(gateway, response) -> str:
    assert response.status_code == 200, response.text
    principal, _ = gateway.app.authenticator.principal(response.json()["access_token"])
    return principal.subject


async def elders_seen(gateway, response) -> set[str]:
    listed = await gateway.get(ELDERS, headers={"Authorization": f"Bearer {response.json()['access_token']}"})
    assert listed.status_code == 200, listed.text
    return {elder["area_code"] for elder in listed.json()["items"]}


# 王阿娣 (中山社区, 鼓楼街道) and 陈根发 (潜龙社区, 百丈街道), the demo resident's two: the areas of their addresses
# in the demo city, as placenames' registry has them
DEMO_ELDERS = {row["place"].area_code for row in eldercare_seed.ELDERS if row["carers"]}


async def test_the_demo_phone_signs_in_by_sms_and_sees_the_demo_elders(demo_suite):
    sender = with_sender(demo_suite)
    code = await sms_code(demo_suite, sender)
    signed_in = await demo_suite.post(f"{AUTH}/code-sign-ins", json={"phone": DEMO_RESIDENT_PHONE, "code": code})
    subject = subject_of(demo_suite, signed_in)
    assert subject == DEMO_RESIDENT_SUBJECT == DEMO_PRINCIPALS["resident"].subject
    assert DEMO_RESIDENT_PHONE not in subject
    assert await elders_seen(demo_suite, signed_in) == DEMO_ELDERS
    # A refresh keeps the person.
    refreshed = await demo_suite.post(
        f"{AUTH}/token", data={"grant_type": "refresh_token", "refresh_token": signed_in.json()["refresh_token"]}
    )
    assert subject_of(demo_suite, refreshed) == subject


async def test_wechat_linked_once_by_sms_code_is_the_same_person(demo_suite, fake_wechat):  # noqa: F811
    base_url, _ = fake_wechat
    use_wechat(demo_suite, base_url)
    sender = with_sender(demo_suite)
    wechat = f"{AUTH}/wechat-sign-ins"
    linked = await demo_suite.post(
        wechat, json={"code": "good-demo", "phone": DEMO_RESIDENT_PHONE, "sms_code": await sms_code(demo_suite, sender)}
    )
    assert subject_of(demo_suite, linked) == DEMO_RESIDENT_SUBJECT
    assert await elders_seen(demo_suite, linked) == DEMO_ELDERS
    # From then on WeChat alone signs the same person in, and SMS still does.
    by_wechat = await demo_suite.post(wechat, json={"code": "good-demo"})
    assert subject_of(demo_suite, by_wechat) == DEMO_RESIDENT_SUBJECT
    by_sms = await demo_suite.post(
        f"{AUTH}/code-sign-ins", json={"phone": DEMO_RESIDENT_PHONE, "code": await sms_code(demo_suite, sender)}
    )
    assert subject_of(demo_suite, by_sms) == DEMO_RESIDENT_SUBJECT

    # A WeChat user who signed in alone first is another account: linking it to the demo phone is refused,
    # and the code is not spent by the refusal.
    stranger = subject_of(demo_suite, await demo_suite.post(wechat, json={"code": "good-stranger"}))
    assert stranger != DEMO_RESIDENT_SUBJECT and stranger.startswith("resident:")
    code = await sms_code(demo_suite, sender)
    refused = await demo_suite.post(
        wechat, json={"code": "good-stranger", "phone": DEMO_RESIDENT_PHONE, "sms_code": code}
    )
    assert refused.status_code == 409 and "already linked" in refused.json()["detail"]
    again = await demo_suite.post(f"{AUTH}/code-sign-ins", json={"phone": DEMO_RESIDENT_PHONE, "code": code})
    assert subject_of(demo_suite, again) == DEMO_RESIDENT_SUBJECT

    # A new WeChat user linking a new phone: one account, reached both ways.
    other_phone = "13912340000"
    fresh = await demo_suite.post(
        wechat,
        json={"code": "good-fresh", "phone": other_phone, "sms_code": await sms_code(demo_suite, sender, other_phone)},
    )
    fresh_subject = subject_of(demo_suite, fresh)
    assert fresh_subject not in (DEMO_RESIDENT_SUBJECT, stranger) and other_phone not in fresh_subject
    by_phone = await demo_suite.post(
        f"{AUTH}/code-sign-ins", json={"phone": other_phone, "code": await sms_code(demo_suite, sender, other_phone)}
    )
    assert subject_of(demo_suite, by_phone) == fresh_subject
    assert await elders_seen(demo_suite, fresh) == set()


async def test_a_phone_without_its_code_is_refused_naming_the_field(auth_gateway):
    for body, field in (
        ({"code": "good-x", "phone": DEMO_RESIDENT_PHONE}, "sms_code"),
        ({"code": "good-x", "sms_code": "123456"}, "phone"),
    ):
        refused = await auth_gateway.post(f"{AUTH}/wechat-sign-ins", json=body)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == [field]


async def test_the_dev_token_resident_sees_the_demo_elders(demo_suite):
    token = await demo_suite.post(f"{AUTH}/dev-tokens", json={"principal": "resident"})
    assert subject_of(demo_suite, token) == DEMO_RESIDENT_SUBJECT
    assert await elders_seen(demo_suite, token) == DEMO_ELDERS


BEFORE = "b7d2e4f6a8c1"  # the gateway's revision before residents stored their subject


def test_accounts_made_before_keep_the_subject_the_services_records_name(scratch_database):
    url = scratch_database("gateway_subjects")
    migrations.upgrade("gateway", url, BEFORE)

    async def run(*statements: str) -> list:
        engine = make_engine(url)
        try:
            async with engine.begin() as connection:
                return [
                    (await connection.execute(text(s))).all()
                    if s.startswith("SELECT")
                    else await connection.execute(text(s))
                    for s in statements
                ]
        finally:
            await engine.dispose()

    asyncio.run(
        run(
            "INSERT INTO residents (id, phone_index, phone_masked, created_at) "
            "VALUES (7, 'p7', '138****0007', '2026-01-01 00:00:00')",
            "INSERT INTO residents (id, wechat_index, created_at) VALUES (8, 'w8', '2026-01-01 00:00:00')",
        )
    )
    migrations.upgrade("gateway", url)
    (rows,) = asyncio.run(run("SELECT id, subject FROM residents ORDER BY id"))
    assert [tuple(r) for r in rows] == [(7, "resident:7"), (8, "resident:8")]
    with pytest.raises(Exception, match=r"(?i)unique"):
        asyncio.run(
            run(
                "INSERT INTO residents (subject, wechat_index, created_at) "
                "VALUES ('resident:7', 'w9', '2026-01-01 00:00:00')"
            )
        )
    migrations.downgrade("gateway", url, BEFORE)
    migrations.upgrade("gateway", url)
