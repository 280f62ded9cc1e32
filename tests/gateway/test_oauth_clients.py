"""A partner department's ordinary OAuth2 library (authlib) gets tokens from the gateway and reads its refusals."""

import warnings

import authlib.deprecate  # noqa: F401  (it turns its warnings on as it is imported: before they are set aside)
import httpx
import pytest

from gateway.seed import DEMO_PASSWORD, dev_client_secret

with warnings.catch_warnings():
    # authlib 1.9 prefers the httpx2 package and warns when it falls back to httpx, which the suite uses.
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

TOKEN = "http://gateway/api/auth/v1/token"


def library_client(gateway, secret: str, method: str, client_id: str = "eldercare") -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=client_id,
        client_secret=secret,
        token_endpoint_auth_method=method,
        transport=httpx.ASGITransport(app=gateway.app),
        timeout=60,
    )


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_a_client_credentials_token_by_either_way_of_sending_the_secret(auth_gateway, method):
    async with library_client(auth_gateway, dev_client_secret("eldercare"), method) as client:
        token = await client.fetch_token(TOKEN, grant_type="client_credentials")
    assert token["token_type"] == "bearer" and token["expires_in"] == 900
    principal, _ = auth_gateway.app.authenticator.principal(token["access_token"])
    assert principal.subject == "service:eldercare"


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_a_wrong_secret_is_the_library_s_invalid_client(auth_gateway, method):
    async with library_client(auth_gateway, "wrong", method) as client:
        with pytest.raises(OAuthError) as refused:
            await client.fetch_token(TOKEN, grant_type="client_credentials")
    assert refused.value.error == "invalid_client" and refused.value.description


async def test_a_spent_refresh_token_is_the_library_s_invalid_grant(auth_gateway):
    signed_in = await auth_gateway.post(
        "/api/auth/v1/staff-sign-ins", json={"username": "city-demo", "password": DEMO_PASSWORD}
    )
    first = signed_in.json()["refresh_token"]
    async with library_client(auth_gateway, "", "none", client_id="staff-app") as client:
        renewed = await client.refresh_token(TOKEN, refresh_token=first)
        assert renewed["refresh_token"] != first
        with pytest.raises(OAuthError) as refused:
            await client.refresh_token(TOKEN, refresh_token=first)
    assert refused.value.error == "invalid_grant"
