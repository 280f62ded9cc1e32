"""Residents sign in with their phone and an SMS code: expiry, tries, limits, one account per phone."""

import asyncio
import datetime as dt

from sqlalchemy import func, select, update

from gateway.auth.models import OneTimeCode, Resident
from shared.demo import DEMO_RESIDENT_SUBJECT


class RecordingSender:
    """Stands in for the SMS provider: keeps what would have been sent."""

    def __init__(self):
        self.sent: list[tuple[str, str]] = []

    async def send(self, phone: str, code: str) -> None:
        self.sent.append((phone, code))


PHONE = "13912345678"


def with_sender(gateway) -> RecordingSender:
    sender = RecordingSender()
    gateway.app.local_app.state.code_sender = sender
    return sender


async def ask(gateway, phone=PHONE):
    return await gateway.post("/api/auth/v1/code-requests", json={"phone": phone})


async def sign_in(gateway, code, phone=PHONE):
    return await gateway.post("/api/auth/v1/code-sign-ins", json={"phone": phone, "code": code})


async def test_a_resident_signs_in_with_the_code_sent_to_their_phone(auth_gateway):
    sender = with_sender(auth_gateway)
    asked = await ask(auth_gateway)
    assert asked.status_code == 202 and asked.json() == {"expires_in": 300, "resend_after": 60}
    ((phone, code),) = sender.sent
    assert phone == PHONE
    signed_in = await sign_in(auth_gateway, code)
    assert signed_in.status_code == 200 and signed_in.json()["refresh_token"]
    principal, _ = auth_gateway.app.authenticator.principal(signed_in.json()["access_token"])
    assert principal.kind == "resident" and principal.subject.startswith("resident:")
    assert PHONE not in principal.subject  # no phone number inside tokens or other services' records
    assert (await sign_in(auth_gateway, code)).status_code == 401  # a code works once

    # Signing in again later is the same account, and the phone is stored only masked and keyed.
    await asyncio.sleep(0)
    async with auth_gateway.app.local_app.state.database.sessionmaker() as session:
        await session.execute(update(OneTimeCode).values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)))
        await session.commit()
    await ask(auth_gateway)
    again = await sign_in(auth_gateway, sender.sent[-1][1])
    same, _ = auth_gateway.app.authenticator.principal(again.json()["access_token"])
    assert same.subject == principal.subject
    async with auth_gateway.app.local_app.state.database.sessionmaker() as session:
        # The seed's demo resident aside.
        stored = (await session.scalars(select(Resident).where(Resident.subject != DEMO_RESIDENT_SUBJECT))).all()
    assert [r.phone_masked for r in stored] == ["139****5678"] and PHONE not in stored[0].phone_index


async def test_five_wrong_tries_kill_the_code(auth_gateway):
    sender = with_sender(auth_gateway)
    await ask(auth_gateway)
    code = sender.sent[0][1]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        assert (await sign_in(auth_gateway, wrong)).status_code == 401
    assert (await sign_in(auth_gateway, code)).status_code == 401  # the right code, after five misses


async def test_an_expired_code_is_refused(auth_gateway):
    sender = with_sender(auth_gateway)
    await ask(auth_gateway)
    async with auth_gateway.app.local_app.state.database.sessionmaker() as session:
        await session.execute(update(OneTimeCode).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        await session.commit()
    assert (await sign_in(auth_gateway, sender.sent[0][1])).status_code == 401


async def test_codes_are_limited_per_phone(auth_gateway):
    with_sender(auth_gateway)
    assert (await ask(auth_gateway)).status_code == 202
    too_soon = await ask(auth_gateway)
    assert too_soon.status_code == 429 and too_soon.headers["retry-after"] == "60"
    assert (await ask(auth_gateway, "13912345679")).status_code == 202  # another phone is not held up


async def test_bad_phone_or_code_shapes_are_422(auth_gateway):
    with_sender(auth_gateway)
    assert (await ask(auth_gateway, "12345")).json()["errors"][0]["field"] == "phone"
    assert (await sign_in(auth_gateway, "12ab56")).json()["errors"][0]["field"] == "code"


async def test_parallel_guesses_get_at_most_five_tries(committed_auth_gateway):
    gateway = committed_auth_gateway
    sender = with_sender(gateway)
    await ask(gateway)
    code = sender.sent[0][1]
    guesses = [f"{(int(code) + i) % 10**6:06d}" for i in range(1, 30)]
    await asyncio.gather(*(sign_in(gateway, g) for g in guesses))
    async with gateway.app.local_app.state.database.sessionmaker() as session:
        attempts = await session.scalar(select(func.max(OneTimeCode.attempts)))
    assert attempts == 5
    assert (await sign_in(gateway, code)).status_code == 401
