"""The token endpoint refuses in RFC 6749 §5.2's words, which OAuth2 client libraries read; and it never
commits less than the refusal needs (a reused refresh token still revokes its family)."""

import base64

from gateway.seed import DEMO_PASSWORD, dev_client_secret

TOKEN = "/api/auth/v1/token"


def oauth_error(response, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["error"] == error and set(body) == {"error", "error_description"}, body
    return body["error_description"]


async def a_token_is_issued(auth_gateway) -> None:
    """The right credentials still get a token: a refusal before left nothing behind."""
    ok = await auth_gateway.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": "eldercare",
            "client_secret": dev_client_secret("eldercare"),
        },
    )
    assert ok.status_code == 200, ok.text


async def test_wrong_client_credentials_are_invalid_client_with_a_basic_challenge(auth_gateway):
    wrong = await auth_gateway.post(
        TOKEN, data={"grant_type": "client_credentials", "client_id": "eldercare", "client_secret": "wrong"}
    )
    oauth_error(wrong, 401, "invalid_client")
    assert wrong.headers["www-authenticate"].startswith("Basic")
    basic = base64.b64encode(b"eldercare:wrong").decode()
    oauth_error(
        await auth_gateway.post(
            TOKEN, data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
        ),
        401,
        "invalid_client",
    )
    oauth_error(
        await auth_gateway.post(
            TOKEN, data={"grant_type": "client_credentials"}, headers={"Authorization": "Basic !!!"}
        ),
        401,
        "invalid_client",
    )
    oauth_error(await auth_gateway.post(TOKEN, data={"grant_type": "client_credentials"}), 401, "invalid_client")
    # The right ones still work right after.
    await a_token_is_issued(auth_gateway)


async def test_a_client_id_with_a_nul_or_too_long_is_an_invalid_request_and_the_next_token_is_issued(auth_gateway):
    """PostgreSQL refuses a NUL in text: the id used to reach the database and fail there (a 500)."""
    basic = {"Authorization": "Basic " + base64.b64encode(b"elder\x00care:secret").decode()}
    long_basic = {"Authorization": "Basic " + base64.b64encode(b"e" * 65 + b":secret").decode()}
    for data, headers in (
        ({"grant_type": "client_credentials", "client_id": "elder\x00care", "client_secret": "secret"}, {}),
        ({"grant_type": "client_credentials"}, basic),
        ({"grant_type": "client_credentials"}, long_basic),
    ):
        refused = await auth_gateway.post(TOKEN, data=data, headers=headers)
        assert oauth_error(refused, 400, "invalid_request").startswith("client_id:")
    await a_token_is_issued(auth_gateway)


async def test_an_unknown_grant_type_is_unsupported_and_a_missing_one_an_invalid_request(auth_gateway):
    oauth_error(
        await auth_gateway.post(TOKEN, data={"grant_type": "password", "username": "a"}), 400, "unsupported_grant_type"
    )
    assert "grant_type" in oauth_error(
        await auth_gateway.post(TOKEN, data={"client_id": "eldercare"}), 400, "invalid_request"
    )


async def test_json_sent_to_the_token_endpoint_is_told_the_content_type_it_takes(auth_gateway):
    description = oauth_error(
        await auth_gateway.post(TOKEN, json={"grant_type": "client_credentials"}), 400, "invalid_request"
    )
    assert "application/x-www-form-urlencoded" in description and "application/json" in description


async def test_a_bad_or_spent_refresh_token_is_invalid_grant(auth_gateway):
    oauth_error(await auth_gateway.post(TOKEN, data={"grant_type": "refresh_token"}), 400, "invalid_request")
    oauth_error(
        await auth_gateway.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": "nope"}),
        400,
        "invalid_grant",
    )
    signed_in = await auth_gateway.post(
        "/api/auth/v1/staff-sign-ins", json={"username": "city-demo", "password": DEMO_PASSWORD}
    )
    first = signed_in.json()["refresh_token"]
    spent = await auth_gateway.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": first})
    assert spent.status_code == 200, spent.text
    second = spent.json()["refresh_token"]
    oauth_error(
        await auth_gateway.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": first}),
        400,
        "invalid_grant",
    )
    # The reuse was remembered (committed despite the refusal): the family is revoked, the newer token too.
    oauth_error(
        await auth_gateway.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": second}),
        400,
        "invalid_grant",
    )
