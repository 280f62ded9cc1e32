"""Granting rights: a principal grants only the scopes it holds, and areas within its own; every grant is
recorded for auditors; a refused grant writes nothing."""

import pyotp
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from gateway.auth.models import Grant, OAuthClient, StaffUser
from gateway.auth.service import digest
from gateway.principals import STAFF_SCOPES, issue_token
from gateway.scopes import CLIENTS_WRITE, STAFF_WRITE
from gateway.seed import DEMO_PASSWORD
from shared.db import utcnow
from shared.identity import Principal
from tests.gateway.test_auth import TOKEN, bearer, client_token, staff_tokens

CLIENTS = "/api/auth/v1/clients"
STAFF = "/api/auth/v1/staff-accounts"
GRANTS = "/api/auth/v1/grants"
PII_AUDIT = "eldercare.pii_reads:read"  # an auditor's scope: city staff do not hold it
PARTNER_ONLY = "assistance.signals:write"  # a partner's scope no member of staff holds
PARTNER = {"client_id": "medical-insurance", "name": "市医疗保障局", "kind": "partner"}


async def count(gateway, model, *where) -> int:
    async with gateway.app.local_app.state.database.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


async def grants_seen_by_auditor(gateway, target: str) -> list[dict]:
    auditor = bearer(await staff_tokens(gateway, "auditor-demo"))
    response = await gateway.get(GRANTS, params={"target": target}, headers=auditor)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def refused(response) -> bool:
    return response.status_code == 403 and response.headers["content-type"] == "application/problem+json"


async def test_staff_cannot_register_a_client_with_a_scope_they_do_not_hold(auth_gateway):
    city = bearer(await staff_tokens(auth_gateway, "city-demo"))
    escalation = await auth_gateway.post(CLIENTS, json=PARTNER | {"scopes": [PII_AUDIT]}, headers=city)
    assert refused(escalation) and PII_AUDIT in escalation.json()["detail"]
    mixed = await auth_gateway.post(
        CLIENTS, json=PARTNER | {"scopes": ["assistance.policies:read", PII_AUDIT]}, headers=city
    )
    assert refused(mixed)
    assert await count(auth_gateway, OAuthClient, OAuthClient.client_id == "medical-insurance") == 0
    assert await count(auth_gateway, Grant) == 0

    created = await auth_gateway.post(
        CLIENTS,
        json=PARTNER | {"scopes": ["assistance.policies:read"]},
        headers=city | {"X-Request-ID": "register-medical-insurance"},
    )
    assert created.status_code == 201, created.text
    token = await client_token(auth_gateway, "medical-insurance", created.json()["client_secret"])
    assert token.json()["scope"] == "assistance.policies:read"
    [grant] = await grants_seen_by_auditor(auth_gateway, "client:medical-insurance")
    assert {k: grant[k] for k in ("actor", "action", "scopes", "request_id")} == {
        "actor": "staff:city-demo",
        "action": "client.create",
        "scopes": ["assistance.policies:read"],
        "request_id": "register-medical-insurance",
    }
    assert grant["at"]


async def test_a_secret_is_rotated_only_by_someone_holding_all_the_clients_scopes(auth_gateway):
    city = bearer(await staff_tokens(auth_gateway, "city-demo"))
    # A partner department that sends assistance its signals holds a partner's scope city staff do not: a new
    # secret for it would hand that right to whoever asked for the secret. (This test once seeded the partner
    # with an auditor's scope, the audit of personal-data reads: the catalogue keeps that for the bureau's
    # auditors, accountable people with a password and a second factor, never a shared machine secret.)
    async with auth_gateway.app.local_app.state.database.sessionmaker() as session, session.begin():
        session.add(
            OAuthClient(
                client_id="big-data-bureau",
                name="市大数据发展管理局",
                kind="partner",
                scopes=[PARTNER_ONLY],
                secret_hash=digest("big-data-bureau-secret"),
                created_by="seed",
                created_at=utcnow(),
            )
        )
    escalation = await auth_gateway.post(f"{CLIENTS}/big-data-bureau/secret-rotations", headers=city)
    assert refused(escalation)
    async with auth_gateway.app.local_app.state.database.sessionmaker() as session:
        assert (await session.get(OAuthClient, "big-data-bureau")).previous_secret_hash is None
    assert (await client_token(auth_gateway, "big-data-bureau", "big-data-bureau-secret")).status_code == 200

    await auth_gateway.post(CLIENTS, json=PARTNER | {"scopes": ["assistance.policies:read"]}, headers=city)
    rotated = await auth_gateway.post(f"{CLIENTS}/medical-insurance/secret-rotations", headers=city)
    assert rotated.status_code == 200
    revoked = await auth_gateway.post(f"{CLIENTS}/medical-insurance/revocation", headers=city)
    assert revoked.status_code == 200
    actions = [g["action"] for g in await grants_seen_by_auditor(auth_gateway, "client:medical-insurance")]
    assert actions == ["client.revoke", "client.rotate", "client.create"]
    assert await count(auth_gateway, Grant, Grant.target == "client:big-data-bureau") == 0


async def test_a_client_gains_only_scopes_the_changer_holds(auth_gateway):
    city = bearer(await staff_tokens(auth_gateway, "city-demo"))
    await auth_gateway.post(CLIENTS, json=PARTNER | {"scopes": ["assistance.policies:read"]}, headers=city)
    widened = await auth_gateway.put(
        f"{CLIENTS}/medical-insurance/scopes", json={"scopes": ["assistance.policies:read", PII_AUDIT]}, headers=city
    )
    assert refused(widened)
    async with auth_gateway.app.local_app.state.database.sessionmaker() as session:
        assert (await session.get(OAuthClient, "medical-insurance")).scopes == ["assistance.policies:read"]

    changed = await auth_gateway.put(
        f"{CLIENTS}/medical-insurance/scopes", json={"scopes": ["eldercare.indicators:read"]}, headers=city
    )
    assert changed.status_code == 200 and changed.json()["scopes"] == ["eldercare.indicators:read"]
    [latest, _] = await grants_seen_by_auditor(auth_gateway, "client:medical-insurance")
    assert latest["action"] == "client.scopes" and latest["scopes"] == ["eldercare.indicators:read"]
    unknown = await auth_gateway.put(f"{CLIENTS}/medical-insurance/scopes", json={"scopes": ["x:y"]}, headers=city)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "scopes"


STAFF_ONLY = ["auth.clients:write", "privacy.requests:answer", "eldercare.pii:read"]  # city staff hold them all


def names_scopes(response, *scopes: str) -> bool:
    if response.status_code != 422 or response.headers["content-type"] != "application/problem+json":
        return False
    [error] = response.json()["errors"]
    return error["field"] == "scopes" and all(s in error["message"] for s in scopes)


@pytest.mark.parametrize("kind", ["partner", "service"])
async def test_a_client_is_never_given_a_scope_the_catalogue_keeps_for_staff(auth_gateway, kind):
    """City staff hold client administration, the answering of personal-data requests and clear ID numbers;
    none of them may become a machine's, whose secret anyone holding it uses with no area, password or second
    factor. The grantor holding the scope is not enough: the catalogue's holders must include the client's kind."""
    city = bearer(await staff_tokens(auth_gateway, "city-demo"))
    for scope in STAFF_ONLY:
        body = PARTNER | {"kind": kind, "scopes": ["placenames.parse:use", scope]}
        assert names_scopes(await auth_gateway.post(CLIENTS, json=body, headers=city), scope), scope
    assert await count(auth_gateway, OAuthClient, OAuthClient.client_id == "medical-insurance") == 0
    assert await count(auth_gateway, Grant) == 0

    created = await auth_gateway.post(
        CLIENTS, json=PARTNER | {"kind": kind, "scopes": ["placenames.parse:use"]}, headers=city
    )
    assert created.status_code == 201, created.text
    widened = await auth_gateway.put(
        f"{CLIENTS}/medical-insurance/scopes", json={"scopes": ["placenames.parse:use", *STAFF_ONLY]}, headers=city
    )
    assert names_scopes(widened, *STAFF_ONLY)
    async with auth_gateway.app.local_app.state.database.sessionmaker() as session:
        assert (await session.get(OAuthClient, "medical-insurance")).scopes == ["placenames.parse:use"]
    token = await client_token(auth_gateway, "medical-insurance", created.json()["client_secret"])
    assert token.json()["scope"] == "placenames.parse:use"
    assert [g["action"] for g in await grants_seen_by_auditor(auth_gateway, "client:medical-insurance")] == [
        "client.create"
    ]


async def test_an_operator_holding_every_scope_still_gives_a_client_only_its_kinds(auth_gateway):
    """`manage bootstrap` acts with every declared scope; the scopes no one holds (the gateway's own
    `*.subject_data:*`) and a staff scope are still not a service client's."""
    from gateway.auth import service
    from gateway.bootstrap import actor
    from shared.errors import InvalidInput

    async with auth_gateway.app.local_app.state.database.sessionmaker() as session:
        for scope in ("eldercare.subject_data:erase", "auth.staff:write"):
            with pytest.raises(InvalidInput, match=scope):
                await service.create_client(
                    session, actor("test"), client_id="x-service", name="x", kind="service", scopes=[scope]
                )
        await session.rollback()


async def test_a_client_given_a_staff_scope_before_the_catalogue_was_checked_does_not_carry_it(auth_gateway):
    async with auth_gateway.app.local_app.state.database.sessionmaker() as session, session.begin():
        session.add(
            OAuthClient(
                client_id="early-partner",
                name="早期合作部门",
                kind="partner",
                scopes=["assistance.policies:read", "auth.clients:write", PII_AUDIT],
                secret_hash=digest("early-partner-secret"),
                created_by="seed",
                created_at=utcnow(),
            )
        )
    token = await client_token(auth_gateway, "early-partner", "early-partner-secret")
    assert token.status_code == 200 and token.json()["scope"] == "assistance.policies:read"
    principal, _ = auth_gateway.app.authenticator.principal(token.json()["access_token"])
    assert principal.scopes == {"assistance.policies:read"}
    partner = bearer(token)
    assert refused(
        await auth_gateway.post(CLIENTS, json=PARTNER | {"scopes": ["assistance.policies:read"]}, headers=partner)
    )


async def test_district_staff_cannot_register_a_client_whose_rights_reach_the_whole_city(auth_gateway):
    principal = Principal(
        subject="staff:yinzhou-admin", kind="staff", area="330212", scopes=STAFF_SCOPES | {CLIENTS_WRITE}
    )
    district = {"Authorization": "Bearer " + issue_token(principal, auth_gateway.settings.token_secret, 600)}
    assert "eldercare.elders:read" in principal.scopes
    response = await auth_gateway.post(CLIENTS, json=PARTNER | {"scopes": ["eldercare.elders:read"]}, headers=district)
    assert refused(response) and "whole city" in response.json()["detail"]
    assert await count(auth_gateway, OAuthClient, OAuthClient.client_id == "medical-insurance") == 0


async def test_only_auditors_read_the_grants(auth_gateway):
    for username in ("city-demo", "yinzhou-demo"):
        assert refused(await auth_gateway.get(GRANTS, headers=bearer(await staff_tokens(auth_gateway, username))))
    assert (await auth_gateway.get(GRANTS)).status_code == 401


def district_staff_admin(gateway) -> dict[str, str]:
    """Staff of 鄞州区 who may administer staff accounts: only within 330212 and their own scopes."""
    principal = Principal(
        subject="staff:yinzhou-admin", kind="staff", area="330212", scopes=STAFF_SCOPES | {STAFF_WRITE}
    )
    return {"Authorization": "Bearer " + issue_token(principal, gateway.settings.token_secret, 600)}


def account(username: str, role: str, area: str) -> dict:
    return {
        "username": username,
        "display_name": username,
        "password": "a-long-password-1",
        "role": role,
        "area_code": area,
    }


async def test_staff_accounts_get_only_roles_and_areas_within_the_creators_own(auth_gateway):
    admin = district_staff_admin(auth_gateway)
    for body in (
        account("haishu-street", "street", "330203001"),  # another district
        account("yinzhou-city", "city", "330200"),  # above the creator's area
        account("yinzhou-auditor", "auditor", "330212"),
    ):  # an auditor's scopes are not theirs
        assert refused(await auth_gateway.post(STAFF, json=body, headers=admin)), body
    assert (
        await auth_gateway.post(
            STAFF,
            json=account("x-street", "street", "330212001"),
            headers=bearer(await staff_tokens(auth_gateway, "yinzhou-demo")),
        )
    ).status_code == 403  # no staff administration scope at all
    assert await count(auth_gateway, StaffUser, StaffUser.created_at.is_not(None)) == 4  # the demo accounts only
    assert await count(auth_gateway, Grant) == 0

    created = await auth_gateway.post(STAFF, json=account("baizhang-li", "street", "330212001"), headers=admin)
    assert created.status_code == 201, created.text
    signed_in = await staff_tokens(auth_gateway, "baizhang-li", "a-long-password-1")
    principal, _ = auth_gateway.app.authenticator.principal(signed_in.json()["access_token"])
    assert principal.area == "330212001" and STAFF_WRITE not in principal.scopes
    [grant] = await grants_seen_by_auditor(auth_gateway, "staff:baizhang-li")
    assert grant["action"] == "staff.create" and grant["area_code"] == "330212001"
    assert grant["actor"] == "staff:yinzhou-admin"


async def test_a_staff_area_is_a_current_division_of_the_city(auth_gateway):
    admin = district_staff_admin(auth_gateway)
    for area in ("330212099", "330212008999"):  # within the creator's district, but no division has that code
        role = "street" if len(area) == 9 else "community_worker"
        response = await auth_gateway.post(STAFF, json=account(f"nowhere-{len(area)}", role, area), headers=admin)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "area_code", area
    city = bearer(await staff_tokens(auth_gateway, "city-demo"))
    retired = await auth_gateway.post(STAFF, json=account("jiangdong", "district", "330204"), headers=city)  # 江东区
    assert retired.status_code == 422 and "330204" in retired.json()["errors"][0]["message"]
    moved = await auth_gateway.patch(f"{STAFF}/baizhang-demo", json={"area_code": "330204001"}, headers=city)
    assert moved.status_code == 422  # 江东区's 百丈街道 before 2016: today's is 330212008
    assert await count(auth_gateway, Grant) == 0


async def test_a_city_account_is_the_city_bureaus_and_a_district_account_a_districts(auth_gateway):
    """A `city` role holds the bureau's scopes (staff and client administration, the answering of personal-data
    requests, every job), which reach the whole city whatever the account's area says: a `city` account of
    鄞州区 was taken (both codes are six digits), a district's staff answering every resident's requests."""
    city = bearer(await staff_tokens(auth_gateway, "city-demo"))
    for body in (account("yinzhou-boss", "city", "330212"), account("all-districts", "district", "330200")):
        response = await auth_gateway.post(STAFF, json=body, headers=city)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "area_code", response.text
    promoted = await auth_gateway.patch(f"{STAFF}/yinzhou-demo", json={"role": "city"}, headers=city)
    assert promoted.status_code == 422 and promoted.json()["errors"][0]["field"] == "area_code"
    assert await count(auth_gateway, StaffUser, StaffUser.username.in_(["yinzhou-boss", "all-districts"])) == 0
    assert await count(auth_gateway, Grant) == 0
    created = await auth_gateway.post(STAFF, json=account("yinzhou-head", "district", "330212"), headers=city)
    assert created.status_code == 201, created.text

    # One made before the rule: its tokens carry a district's scopes, not the bureau's.
    async with auth_gateway.app.local_app.state.database.sessionmaker() as session, session.begin():
        await session.execute(update(StaffUser).where(StaffUser.username == "yinzhou-demo").values(role="city"))
    signed_in = await staff_tokens(auth_gateway, "yinzhou-demo")
    principal, _ = auth_gateway.app.authenticator.principal(signed_in.json()["access_token"])
    assert principal.area == "330212" and principal.scopes == STAFF_SCOPES
    assert not {"privacy.requests:answer", CLIENTS_WRITE, STAFF_WRITE} & principal.scopes


async def test_staff_roles_and_areas_change_only_within_the_changers_reach(auth_gateway):
    admin = district_staff_admin(auth_gateway)
    moved_out = await auth_gateway.patch(f"{STAFF}/baizhang-demo", json={"area_code": "330203001"}, headers=admin)
    promoted = await auth_gateway.patch(
        f"{STAFF}/baizhang-demo", json={"role": "city", "area_code": "330200"}, headers=admin
    )
    assert refused(moved_out) and refused(promoted)
    # An account above the changer's area is out of reach altogether (no demoting one's superiors).
    assert (
        await auth_gateway.patch(f"{STAFF}/city-demo", json={"area_code": "330212"}, headers=admin)
    ).status_code == 404
    async with auth_gateway.app.local_app.state.database.sessionmaker() as session:
        users = {u.username: (u.role, u.area_code) for u in await session.scalars(select(StaffUser))}
    assert users["baizhang-demo"] == ("street", "330212008") and users["city-demo"] == ("city", "330200")

    changed = await auth_gateway.patch(
        f"{STAFF}/baizhang-demo", json={"role": "district", "area_code": "330212"}, headers=admin
    )
    assert changed.status_code == 200 and changed.json()["area_code"] == "330212"
    assert [g["action"] for g in await grants_seen_by_auditor(auth_gateway, "staff:baizhang-demo")] == ["staff.change"]


async def test_a_refresh_carries_the_accounts_rights_of_now_not_of_the_sign_in(auth_gateway):
    refresh = (await staff_tokens(auth_gateway, "yinzhou-demo")).json()["refresh_token"]
    city = bearer(await staff_tokens(auth_gateway, "city-demo"))
    narrowed = await auth_gateway.patch(
        f"{STAFF}/yinzhou-demo", json={"role": "street", "area_code": "330212001"}, headers=city
    )
    assert narrowed.status_code == 200, narrowed.text
    renewed = await auth_gateway.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": refresh})
    assert renewed.status_code == 200
    principal, _ = auth_gateway.app.authenticator.principal(renewed.json()["access_token"])
    assert principal.area == "330212001"


async def test_a_sign_in_made_with_a_one_time_password_does_not_become_the_full_role_when_the_set_up_ends(
    auth_gateway,
):
    """Someone signs in with an account's one-time password (leaked from the operator's file) before its owner:
    a token with no scope, and a refresh token. The owner then sets up a second factor and a new password. A refresh
    reads the account's rights of now, so the early refresh token came back as a city administrator's, with neither
    the new password nor the second factor; changing the password now ends every sign-in of the account."""
    async with auth_gateway.app.local_app.state.database.sessionmaker() as session, session.begin():
        await session.execute(
            update(StaffUser).where(StaffUser.username == "city-demo").values(must_set_credentials=True)
        )
    early = await staff_tokens(auth_gateway, "city-demo")
    owner = await staff_tokens(auth_gateway, "city-demo")
    assert early.json()["scope"] == "" and owner.json()["scope"] == ""
    headers = bearer(owner)
    started = await auth_gateway.post("/api/auth/v1/staff/totp", headers=headers)
    totp = pyotp.TOTP(started.json()["secret"])
    confirmed = await auth_gateway.post(
        "/api/auth/v1/staff/totp/confirmation", headers=headers, json={"code": totp.now()}
    )
    assert confirmed.status_code == 204
    change = {"current_password": DEMO_PASSWORD, "new_password": "chosen-by-the-owner-1"}
    assert (await auth_gateway.post("/api/auth/v1/staff/password", headers=headers, json=change)).status_code == 204

    for refresh in (early.json()["refresh_token"], owner.json()["refresh_token"]):
        renewed = await auth_gateway.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": refresh})
        assert renewed.status_code in (400, 401) and renewed.json()["error"] == "invalid_grant", renewed.text
    other = await staff_tokens(auth_gateway, "yinzhou-demo")  # another account's sign-in is untouched
    renewed = await auth_gateway.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": other.json()["refresh_token"]}
    )
    assert renewed.status_code == 200, renewed.text


async def test_a_control_character_in_a_query_parameter_of_the_gateways_own_routes_is_a_422_naming_it(auth_gateway):
    """The gateway's routes keep the services' rule: PostgreSQL cannot compare a NUL, and no name holds one."""
    auditor = bearer(await staff_tokens(auth_gateway, "auditor-demo"))
    response = await auth_gateway.get(f"{GRANTS}?target=client%00x", headers=auditor)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [(e["field"], e["location"]) for e in response.json()["errors"]] == [("target", "query")]


@pytest.mark.parametrize("change", ["update", "delete"])
async def test_the_grants_audit_refuses_update_and_delete(auth_gateway, change):
    city = bearer(await staff_tokens(auth_gateway, "city-demo"))
    created = await auth_gateway.post(CLIENTS, json=PARTNER | {"scopes": ["assistance.policies:read"]}, headers=city)
    assert created.status_code == 201, created.text
    statement = "UPDATE grants SET actor = 'nobody'" if change == "update" else "DELETE FROM grants"
    async with auth_gateway.app.local_app.state.database.sessionmaker() as session:
        with pytest.raises(IntegrityError, match="append-only"):
            await session.execute(text(statement))
        await session.rollback()
    [grant] = await grants_seen_by_auditor(auth_gateway, "client:medical-insurance")
    assert grant["actor"] == "staff:city-demo"
