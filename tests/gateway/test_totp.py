"""Staff second factor (TOTP): set up, confirm, then required at sign-in; a code works once."""

import time

import pyotp
from sqlalchemy import String, select

from gateway.auth.models import StaffUser
from gateway.seed import DEMO_PASSWORD

SIGN_IN = "/api/auth/v1/staff-sign-ins"


async def signed_in(gateway, username="city-demo", **extra):
    return await gateway.post(SIGN_IN, json={"username": username, "password": DEMO_PASSWORD, **extra})


async def enrol(gateway) -> tuple[pyotp.TOTP, int]:
    """Sets up and confirms a second factor for city-demo: the secret, and the time of the code that confirmed it."""
    headers = {"Authorization": "Bearer " + (await signed_in(gateway)).json()["access_token"]}
    started = await gateway.post("/api/auth/v1/staff/totp", headers=headers)
    assert started.status_code == 200, started.text
    assert started.json()["otpauth_uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(started.json()["secret"])
    wrong = f"{(int(totp.now()) + 1) % 10**6:06d}"
    assert (
        await gateway.post("/api/auth/v1/staff/totp/confirmation", json={"code": wrong}, headers=headers)
    ).status_code == 422
    confirmed_at = int(time.time())
    code = totp.at(confirmed_at)
    confirmed = await gateway.post("/api/auth/v1/staff/totp/confirmation", json={"code": code}, headers=headers)
    assert confirmed.status_code == 204
    return totp, confirmed_at


async def test_once_enabled_sign_in_needs_a_fresh_code(auth_gateway):
    totp, confirmed_at = await enrol(auth_gateway)
    without = await signed_in(auth_gateway)
    assert without.status_code == 401 and "TOTP" in without.json()["detail"]
    # The confirmation spent its step: the same code cannot be used again to sign in. (Its own code, not
    # totp.now(): a 30-second step may have begun since, whose code is rightly accepted.)
    replayed = await signed_in(auth_gateway, totp=totp.at(confirmed_at))
    assert replayed.status_code == 401 and "already used" in replayed.json()["detail"]
    next_code = totp.at(confirmed_at + 30)  # the step after it: within the allowed drift for the next minute
    assert (await signed_in(auth_gateway, totp=next_code)).status_code == 200
    assert (await signed_in(auth_gateway, totp=next_code)).status_code == 401
    # Others without a second factor sign in as before.
    assert (await signed_in(auth_gateway, "yinzhou-demo")).status_code == 200


async def test_wrong_codes_count_towards_lock_out(auth_gateway):
    await enrol(auth_gateway)
    for _ in range(5):
        await signed_in(auth_gateway, totp="999999")
    totp_user_locked = await signed_in(auth_gateway)
    assert "try again later" in totp_user_locked.json()["detail"]


async def test_the_secret_is_encrypted_at_rest(auth_gateway):
    totp, _ = await enrol(auth_gateway)
    async with auth_gateway.app.local_app.state.database.sessionmaker() as session:
        stored = await session.scalar(
            select(StaffUser.totp_secret.cast(String)).where(StaffUser.username == "city-demo")
        )
    assert stored.startswith("v1:") and totp.secret not in stored


async def test_only_staff_set_up_a_second_factor(auth_gateway):
    from tests.gateway.conftest import bearer

    resident = bearer("resident", auth_gateway.settings)
    assert (await auth_gateway.post("/api/auth/v1/staff/totp", headers=resident)).status_code == 403
    assert (await auth_gateway.post("/api/auth/v1/staff/totp")).status_code == 401


async def test_a_second_factor_that_is_on_is_replaced_only_with_the_password(auth_gateway):
    """Starting a set-up turns the factor that is on off until the new one is confirmed: with a bearer token alone
    (15 minutes, or a refresh token left on a shared computer) anyone could remove the second factor, or put their
    own phone in its place and lock its owner out of it."""
    totp, confirmed_at = await enrol(auth_gateway)
    session = await signed_in(auth_gateway, totp=totp.at(confirmed_at + 30))
    headers = {"Authorization": "Bearer " + session.json()["access_token"]}
    for body in (None, {"current_password": "not-the-password"}):
        taken = await auth_gateway.post("/api/auth/v1/staff/totp", headers=headers, json=body)
        assert taken.status_code == 422 and taken.json()["errors"][0]["field"] == "current_password", taken.text
    async with auth_gateway.app.local_app.state.database.sessionmaker() as db:
        user = await db.scalar(select(StaffUser).where(StaffUser.username == "city-demo"))
        assert user.totp_enabled_at is not None and user.totp_secret == totp.secret and user.failed_sign_ins == 1
    assert (await signed_in(auth_gateway)).status_code == 401  # still needs its code

    replaced = await auth_gateway.post(
        "/api/auth/v1/staff/totp", headers=headers, json={"current_password": DEMO_PASSWORD}
    )
    assert replaced.status_code == 200 and replaced.json()["secret"] != totp.secret
