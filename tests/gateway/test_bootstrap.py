"""`manage bootstrap` on an empty gateway database: the first city administrator, who must set up a second factor
and a new password before their tokens carry any scope, and a client per service whose secret gets it a token;
a second run changes nothing; `manage rotate-client-secret` ends the old secret."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import stat
import subprocess
import sys
import time

import pyotp
import pytest
import yaml
from sqlalchemy import delete, func, select

from gateway import bootstrap
from gateway.app import create_app
from gateway.auth.models import Grant, OAuthClient, StaffUser
from gateway.scopes import CLIENTS_WRITE, GRANTS_READ, STAFF_WRITE, load_all
from gateway.settings import GatewaySettings
from services import SERVICES
from shared.peer import PeerUnavailable
from shared.scopes import scopes_held_by
from shared.service_token import ClientCredentialsToken
from shared.settings import ROOT
from tests.gateway.conftest import bearer
from tests.shared.loopback import free_port, serve_in_background

SIGN_IN = "/api/auth/v1/staff-sign-ins"
TOKEN = "/api/auth/v1/token"
CLIENTS = "/api/auth/v1/clients"
STAFF_ACCOUNTS = "/api/auth/v1/staff-accounts"
OPERATOR_SECRET = secrets.token_urlsafe(32)
ADMIN_PASSWORD = "first-sign-in-only-2026"


async def _run(gateway, **env) -> bootstrap.Outcome:
    async with gateway.app.local_app.state.database.sessionmaker() as session, session.begin():
        return await bootstrap.bootstrap(session, admin="ops-admin", **env)


@pytest.fixture
async def empty_gateway(auth_gateway, monkeypatch):
    """The gateway with no staff account and no client (the demo rows go, inside the test's transaction)."""
    async with auth_gateway.app.local_app.state.database.sessionmaker() as session, session.begin():
        await session.execute(delete(StaffUser))
        await session.execute(delete(OAuthClient))
    monkeypatch.setenv("ELDERCARE_CLIENT_SECRET", OPERATOR_SECRET)  # one the operator made; the others are new
    monkeypatch.setenv("BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD)
    for name in SERVICES:
        if name != "eldercare":
            monkeypatch.delenv(bootstrap.secret_variable(name), raising=False)
    return auth_gateway


async def test_bootstrap_registers_each_service_whose_secret_gets_a_token_and_a_second_run_changes_nothing(
    empty_gateway,
):
    outcome = await _run(empty_gateway, env="production")
    assert set(outcome.secrets) == {bootstrap.secret_variable(n) for n in SERVICES if n != "eldercare"}
    secrets_of = outcome.secrets | {"ELDERCARE_CLIENT_SECRET": OPERATOR_SECRET}
    load_all()
    for name in SERVICES:
        token = await empty_gateway.post(
            TOKEN, data={"grant_type": "client_credentials"}, auth=(name, secrets_of[bootstrap.secret_variable(name)])
        )
        assert token.status_code == 200, token.text
        # The service scopes each service holds in dev (gateway/seed.py gives them the same).
        assert set(token.json()["scope"].split()) == scopes_held_by("service")

    async with empty_gateway.app.local_app.state.database.sessionmaker() as session:
        count = select(func.count()).select_from
        before = [await session.scalar(count(t)) for t in (StaffUser, OAuthClient, Grant)]
    again = await _run(empty_gateway, env="production")
    assert again.created == [] and again.secrets == {}
    assert "staff accounts (first: ops-admin)" in again.existing and "client charity" in again.existing
    async with empty_gateway.app.local_app.state.database.sessionmaker() as session:
        assert [await session.scalar(count(t)) for t in (StaffUser, OAuthClient, Grant)] == before
        audited = set(await session.scalars(select(Grant.target).where(Grant.actor == "operator:manage bootstrap")))
    assert audited == {"staff:ops-admin", *(f"client:{n}" for n in SERVICES)}


async def test_production_refuses_a_placeholder_secret_and_a_job_makes_none(empty_gateway, monkeypatch):
    monkeypatch.setenv("CHARITY_CLIENT_SECRET", "dev-client-secret-charity-change-me-0123456789")
    with pytest.raises(SystemExit, match="CHARITY_CLIENT_SECRET must be a real secret"):
        await _run(empty_gateway, env="production")
    with pytest.raises(SystemExit, match="ASSISTANCE_CLIENT_SECRET is not set"):  # a job makes none to print
        async with empty_gateway.app.local_app.state.database.sessionmaker() as session, session.begin():
            await bootstrap.bootstrap(session, admin="ops-admin", env="production", from_env=True)
    with pytest.raises(SystemExit, match="--admin"):
        async with empty_gateway.app.local_app.state.database.sessionmaker() as session, session.begin():
            await bootstrap.bootstrap(session, admin=None, env="test")


async def test_the_administrator_must_set_a_second_factor_and_a_new_password_before_anything_else(empty_gateway):
    await _run(empty_gateway, env="production")
    first = await empty_gateway.post(SIGN_IN, json={"username": "ops-admin", "password": ADMIN_PASSWORD})
    assert first.status_code == 200, first.text
    assert first.json()["scope"] == ""  # a token that serves nothing but the set-up
    headers = {"Authorization": "Bearer " + first.json()["access_token"]}
    refused = await empty_gateway.post(
        "/api/auth/v1/clients",
        headers=headers,
        json={"client_id": "medical-insurance", "name": "市医疗保障局", "kind": "partner", "scopes": [CLIENTS_WRITE]},
    )
    assert refused.status_code == 403
    # A refresh reads the account again: still nothing.
    refreshed = await empty_gateway.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]}
    )
    assert refreshed.status_code == 200 and refreshed.json()["scope"] == ""

    new_password = "chosen-by-the-administrator"
    change = {"current_password": ADMIN_PASSWORD, "new_password": new_password}
    early = await empty_gateway.post("/api/auth/v1/staff/password", headers=headers, json=change)
    assert early.status_code == 409 and "second factor" in early.json()["detail"]

    started = await empty_gateway.post("/api/auth/v1/staff/totp", headers=headers)
    totp = pyotp.TOTP(started.json()["secret"])
    confirmed = await empty_gateway.post(
        "/api/auth/v1/staff/totp/confirmation", headers=headers, json={"code": totp.now()}
    )
    assert confirmed.status_code == 204
    wrong = await empty_gateway.post(
        "/api/auth/v1/staff/password", headers=headers, json=change | {"current_password": "not-the-password"}
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "current_password"
    same = await empty_gateway.post(
        "/api/auth/v1/staff/password", headers=headers, json=change | {"new_password": ADMIN_PASSWORD}
    )
    assert same.status_code == 422 and same.json()["errors"][0]["field"] == "new_password"
    assert (await empty_gateway.post("/api/auth/v1/staff/password", headers=headers, json=change)).status_code == 204

    next_code = totp.at(int(time.time()) + 30)  # the confirmation spent the current step
    old = await empty_gateway.post(
        SIGN_IN, json={"username": "ops-admin", "password": ADMIN_PASSWORD, "totp": next_code}
    )
    assert old.status_code == 401
    without_code = await empty_gateway.post(SIGN_IN, json={"username": "ops-admin", "password": new_password})
    assert without_code.status_code == 401
    signed_in = await empty_gateway.post(
        SIGN_IN, json={"username": "ops-admin", "password": new_password, "totp": next_code}
    )
    assert signed_in.status_code == 200, signed_in.text
    assert {CLIENTS_WRITE, STAFF_WRITE} <= set(signed_in.json()["scope"].split())
    headers = {"Authorization": "Bearer " + signed_in.json()["access_token"]}
    staff = await empty_gateway.post(
        "/api/auth/v1/staff-accounts",
        headers=headers,
        json={
            "username": "haishu-li",
            "display_name": "海曙区民政局 李",
            "password": "a-first-password-1",
            "role": "district",
            "area_code": "330203",
        },
    )
    assert staff.status_code == 201, staff.text


async def test_the_operator_registers_a_partner_and_rescopes_a_service_with_scopes_no_staff_member_holds(
    empty_gateway,
):
    """A partner department's signals scope and a scope new to the services are held by no staff member, so no one
    can grant them through the API (a principal grants only what it holds): the operator's commands can."""
    signals = "assistance.signals:write"
    city_staff = bearer("staff-city", empty_gateway.app.local_app.state.settings)
    refused = await empty_gateway.post(
        CLIENTS,
        json={"client_id": "health-commission", "name": "卫健委", "kind": "partner", "scopes": [signals]},
        headers=city_staff,
    )
    assert refused.status_code == 403 and signals in refused.json()["detail"], refused.text  # not theirs to give

    async with empty_gateway.app.local_app.state.database.sessionmaker() as session, session.begin():
        registered = await bootstrap.register(
            session, "health-commission", kind="partner", name="卫健委", scopes=[signals]
        )
    secret = registered.secrets["HEALTH_COMMISSION_CLIENT_SECRET"]
    token = await empty_gateway.post(
        TOKEN, data={"grant_type": "client_credentials"}, auth=("health-commission", secret)
    )
    assert token.status_code == 200 and token.json()["scope"] == signals, token.text

    # The catalogue's holders bind the operator too: a staff-only scope is no partner's.
    with pytest.raises(SystemExit, match=r"may not hold: auth\.clients:write"):
        async with empty_gateway.app.local_app.state.database.sessionmaker() as session, session.begin():
            await bootstrap.register(session, "rogue", kind="partner", name="x", scopes=[CLIENTS_WRITE])

    await _run(empty_gateway, env="test")
    load_all()
    fewer = sorted(scopes_held_by("service") - {"notifications.contacts:read"})
    async with empty_gateway.app.local_app.state.database.sessionmaker() as session, session.begin():
        await bootstrap.rescope(session, "charity", fewer)  # as a client registered before the scope existed
    async with empty_gateway.app.local_app.state.database.sessionmaker() as session, session.begin():
        rescoped = await bootstrap.rescope(session, "charity", sorted(scopes_held_by("service")))
    assert rescoped.created and not rescoped.secrets
    async with empty_gateway.app.local_app.state.database.sessionmaker() as session:
        charity = await session.get(OAuthClient, "charity")
        audited = list(await session.scalars(select(Grant.actor).where(Grant.target == "client:health-commission")))
    assert "notifications.contacts:read" in charity.scopes
    assert audited == ["operator:manage register-client"]


async def test_the_operator_makes_an_auditor_whom_no_staff_member_may_make(empty_gateway):
    """An auditor's scopes (the grants audit, the register of personal-data requests) are held by no other staff:
    city staff get a 403 making one, the operator makes one on a one-time password."""
    city_staff = bearer("staff-city", empty_gateway.app.local_app.state.settings)
    body = {"username": "audit-li", "display_name": "审计 李", "password": "a-first-password-1"}
    refused = await empty_gateway.post(
        STAFF_ACCOUNTS, json=body | {"role": "auditor", "area_code": "330200"}, headers=city_staff
    )
    assert refused.status_code == 403 and GRANTS_READ in refused.json()["detail"], refused.text

    async with empty_gateway.app.local_app.state.database.sessionmaker() as session, session.begin():
        made = await bootstrap.create_staff(session, "audit-li", role="auditor", area_code="330200", name="审计 李")
    (password,) = made.secrets.values()
    first = await empty_gateway.post(SIGN_IN, json={"username": "audit-li", "password": password})
    assert first.status_code == 200 and first.json()["scope"] == "", first.text  # the set-up first, as any such
    async with empty_gateway.app.local_app.state.database.sessionmaker() as session:
        user = await session.scalar(select(StaffUser).where(StaffUser.username == "audit-li"))
        audited = await session.scalar(select(Grant.actor).where(Grant.target == "staff:audit-li"))
    assert (user.role, user.area_code, user.must_set_credentials) == ("auditor", "330200", True)
    assert audited == "operator:manage create-staff"

    for username, role, area, refusal in (
        ("audit-li", "auditor", "330200", "already exists"),
        ("yinzhou-boss", "city", "330212", "city bureau"),  # the role's level binds the operator too
        ("Bad Name", "auditor", "330200", "a username is"),
    ):
        with pytest.raises(SystemExit, match=refusal):
            async with empty_gateway.app.local_app.state.database.sessionmaker() as session, session.begin():
                await bootstrap.create_staff(session, username, role=role, area_code=area, name=username)


# As an operator runs it: a subprocess on a fresh database, ENV=production -------------------------------------


def _production_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_CLIENT_SECRET") and not k.startswith("BOOTSTRAP_")}
    return env | {
        "ENV": "production",
        "GATEWAY_DATABASE_URL": url,
        "IDENTITY_SECRET": secrets.token_hex(32),
        "GATEWAY_TOKEN_SECRET": secrets.token_hex(32),
        "PII_KEYS": json.dumps({"k1": base64.b64encode(os.urandom(32)).decode()}),
        "PII_ACTIVE_KEY": "k1",
        "PII_INDEX_KEY": secrets.token_hex(32),
    }


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "services.manage", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done


async def _tokens(url: str, credentials: dict[str, str]) -> dict[str, str | None]:
    """What each service's own token provider gets from the gateway (on this database) with these secrets."""
    app = create_app(GatewaySettings(env="test", database_url=url))
    server, task = await serve_in_background(app, port := free_port())
    try:
        got = {}
        for client_id, secret in credentials.items():
            try:
                got[client_id] = await ClientCredentialsToken(f"http://127.0.0.1:{port}", client_id, secret)()
            except PeerUnavailable:
                got[client_id] = None
        return got
    finally:
        server.should_exit = True
        await task


def test_bootstrap_and_rotation_as_commands_in_production(scratch_database, tmp_path):
    url = scratch_database("gateway")
    env = _production_env(url)
    _manage(env, "migrate", "gateway")
    secrets_file = tmp_path / "bootstrap.env"
    first = _manage(env, "bootstrap", "--admin", "ops-admin", "--secrets-file", str(secrets_file))
    assert "created the city administrator ops-admin" in first.stdout
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    written = dict(line.split("=", 1) for line in secrets_file.read_text().splitlines())
    assert set(written) == {"BOOTSTRAP_ADMIN_PASSWORD", *(bootstrap.secret_variable(n) for n in SERVICES)}
    for value in written.values():  # named in the report, never shown there
        assert value not in first.stdout + first.stderr

    second = _manage(env, "bootstrap", "--admin", "someone-else", "--secrets-file", str(tmp_path / "again.env"))
    assert second.stdout.startswith("already bootstrapped: ") and "nothing changed" in second.stdout
    assert not (tmp_path / "again.env").exists()

    client_secrets = {n: written[bootstrap.secret_variable(n)] for n in SERVICES}
    assert all(asyncio.run(_tokens(url, client_secrets)).values())

    rotated = _manage(env, "rotate-client-secret", "eldercare", "--grace", "0", "--k8s-secret", "eldercare-client")
    manifest = yaml.safe_load(rotated.stdout)
    assert manifest["kind"] == "Secret" and manifest["metadata"]["name"] == "eldercare-client"
    new_secret = manifest["stringData"]["ELDERCARE_CLIENT_SECRET"]
    assert "stops working now" in rotated.stderr
    got = asyncio.run(_tokens(url, {"eldercare": client_secrets["eldercare"], "charity": client_secrets["charity"]}))
    assert got == {"eldercare": None, "charity": got["charity"]} and got["charity"]
    assert asyncio.run(_tokens(url, {"eldercare": new_secret}))["eldercare"]

    partner_file = tmp_path / "partner.env"
    registered = _manage(
        env,
        "register-client",
        "civil-defence",
        "assistance.signals:write",
        "--name",
        "应急管理局",
        "--secrets-file",
        str(partner_file),
    )
    assert "registered the partner client civil-defence" in registered.stdout
    partner_secret = partner_file.read_text().strip().split("=", 1)[1]
    assert partner_secret not in registered.stdout and asyncio.run(_tokens(url, {"civil-defence": partner_secret}))
    rescoped = _manage(env, "client-scopes", "civil-defence", "assistance.signals:write", "assistance.policies:read")
    assert "now holds: assistance.policies:read, assistance.signals:write" in rescoped.stdout
    auditor = _manage(env, "create-staff", "audit-wang", "--name", "审计 王", "--secrets-file", str(tmp_path / "a.env"))
    assert "created the auditor audit-wang of 330200" in auditor.stdout
