"""Signing in: client credentials for partners and services, staff passwords, refresh-token rotation."""

import asyncio
import base64
import datetime as dt

from sqlalchemy import update

from gateway.auth.models import OAuthClient
from gateway.seed import DEMO_PASSWORD, dev_client_secret
from shared.scopes import scopes_held_by

TOKEN = "/api/auth/v1/token"


async def client_token(gateway, client_id: str, secret: str):
    return await gateway.post(
        TOKEN, data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    )


async def staff_tokens(gateway, username: str, password: str = DEMO_PASSWORD):
    return await gateway.post("/api/auth/v1/staff-sign-ins", json={"username": username, "password": password})


def bearer(response) -> dict[str, str]:
    return {"Authorization": "Bearer " + response.json()["access_token"]}


async def test_a_service_gets_a_short_lived_token_carrying_its_scopes(auth_gateway):
    response = await client_token(auth_gateway, "eldercare", dev_client_secret("eldercare"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900 and body["refresh_token"] is None
    assert set(body["scope"].split()) == scopes_held_by("service")
    principal, _ = auth_gateway.app.authenticator.principal(body["access_token"])
    assert principal.kind == "service" and principal.subject == "service:eldercare"
    # HTTP Basic is the form RFC 6749 prefers.
    basic = base64.b64encode(f"eldercare:{dev_client_secret('eldercare')}".encode()).decode()
    response = await auth_gateway.post(
        TOKEN, data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    assert response.status_code == 200


async def test_wrong_or_missing_client_credentials_are_401(auth_gateway):
    for client_id, secret in (("eldercare", "wrong"), ("nobody", "x"), ("eldercare", "")):
        response = await client_token(auth_gateway, client_id, secret)
        assert response.status_code == 401 and response.json()["error"] == "invalid_client"  # RFC 6749 §5.2
    unsupported = await auth_gateway.post(TOKEN, data={"grant_type": "password", "username": "a"})
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"


async def test_partner_clients_are_registered_rotated_and_revoked_by_city_staff(auth_gateway):
    city = bearer(await staff_tokens(auth_gateway, "city-demo"))
    district = bearer(await staff_tokens(auth_gateway, "yinzhou-demo"))
    body = {
        "client_id": "medical-insurance",
        "name": "市医疗保障局",
        "kind": "partner",
        "scopes": ["assistance.policies:read"],
    }
    assert (await auth_gateway.post("/api/auth/v1/clients", json=body)).status_code == 401
    assert (await auth_gateway.post("/api/auth/v1/clients", json=body, headers=district)).status_code == 403
    unknown = await auth_gateway.post(
        "/api/auth/v1/clients", json=body | {"scopes": ["everything:write"]}, headers=city
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "scopes"

    created = await auth_gateway.post("/api/auth/v1/clients", json=body, headers=city)
    assert created.status_code == 201, created.text
    first_secret = created.json()["client_secret"]
    assert (await auth_gateway.post("/api/auth/v1/clients", json=body, headers=city)).status_code == 409
    token = await client_token(auth_gateway, "medical-insurance", first_secret)
    assert token.status_code == 200 and token.json()["scope"] == "assistance.policies:read"

    rotated = await auth_gateway.post("/api/auth/v1/clients/medical-insurance/secret-rotations", headers=city)
    second_secret = rotated.json()["client_secret"]
    assert second_secret != first_secret and rotated.json()["client"]["previous_secret_valid_until"]
    # Both work during the grace period; the old one stops when it ends.
    assert (await client_token(auth_gateway, "medical-insurance", second_secret)).status_code == 200
    assert (await client_token(auth_gateway, "medical-insurance", first_secret)).status_code == 200
    async with auth_gateway.app.local_app.state.database.sessionmaker() as session, session.begin():
        await session.execute(
            update(OAuthClient)
            .where(OAuthClient.client_id == "medical-insurance")
            .values(previous_secret_valid_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    assert (await client_token(auth_gateway, "medical-insurance", first_secret)).status_code == 401

    revoked = await auth_gateway.post("/api/auth/v1/clients/medical-insurance/revocation", headers=city)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    assert (await client_token(auth_gateway, "medical-insurance", second_secret)).status_code == 401


async def test_staff_sign_in_gives_their_area_and_role(auth_gateway):
    response = await staff_tokens(auth_gateway, "baizhang-demo")
    assert response.status_code == 200 and response.json()["refresh_token"]
    principal, _ = auth_gateway.app.authenticator.principal(response.json()["access_token"])
    assert principal.kind == "staff" and principal.area == "330212008"  # 百丈街道, as placenames has it
    assert "eldercare.elders:read" in principal.scopes and "assistance.policies:write" not in principal.scopes
    city, _ = auth_gateway.app.authenticator.principal(
        (await staff_tokens(auth_gateway, "city-demo")).json()["access_token"]
    )
    assert "assistance.policies:write" in city.scopes


async def test_wrong_passwords_lock_the_account_and_unknown_users_look_the_same(auth_gateway):
    unknown = await staff_tokens(auth_gateway, "no-such-user", "x")
    wrong = await staff_tokens(auth_gateway, "yinzhou-demo", "wrong")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["detail"] == wrong.json()["detail"]
    for _ in range(4):  # five failures in all
        await staff_tokens(auth_gateway, "yinzhou-demo", "wrong")
    locked = await staff_tokens(auth_gateway, "yinzhou-demo")  # the right password, too late
    assert locked.status_code == 401 and "try again later" in locked.json()["detail"]
    assert (await staff_tokens(auth_gateway, "city-demo")).status_code == 200  # others unaffected


async def test_refresh_tokens_rotate_and_a_reused_one_revokes_the_family(auth_gateway):
    signed_in = (await staff_tokens(auth_gateway, "yinzhou-demo")).json()
    first = signed_in["refresh_token"]
    renewed = await auth_gateway.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": first})
    assert renewed.status_code == 200
    second = renewed.json()["refresh_token"]
    assert second != first and renewed.json()["access_token"]
    # Someone replays the first token: it fails, and so does the honest holder's newer one.
    replay = await auth_gateway.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": first})
    assert replay.status_code == 400 and "already used" in replay.json()["error_description"]
    after = await auth_gateway.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": second})
    assert after.status_code == 400 and after.json()["error"] == "invalid_grant"


async def test_sign_out_ends_the_refresh_chain(auth_gateway):
    refresh = (await staff_tokens(auth_gateway, "city-demo")).json()["refresh_token"]
    assert (await auth_gateway.post("/api/auth/v1/sign-outs", json={"refresh_token": refresh})).status_code == 204
    response = await auth_gateway.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": refresh})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_concurrent_spends_of_one_refresh_token_let_at_most_one_through(committed_auth_gateway):
    gateway = committed_auth_gateway
    refresh = (await staff_tokens(gateway, "yinzhou-demo")).json()["refresh_token"]
    responses = await asyncio.gather(
        *(gateway.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": refresh}) for _ in range(10))
    )
    assert sum(r.status_code == 200 for r in responses) <= 1
    assert all(r.status_code == 200 or r.json()["error"] == "invalid_grant" for r in responses)
    # After the race, an ordinary sign-in and refresh of the same account still work.
    again = (await staff_tokens(gateway, "yinzhou-demo")).json()["refresh_token"]
    assert (await gateway.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": again})).status_code == 200


async def test_concurrent_wrong_passwords_all_count_towards_lock_out(committed_auth_gateway):
    gateway = committed_auth_gateway
    await asyncio.gather(*(staff_tokens(gateway, "baizhang-demo", "wrong") for _ in range(5)))
    assert (await staff_tokens(gateway, "baizhang-demo")).status_code == 401
