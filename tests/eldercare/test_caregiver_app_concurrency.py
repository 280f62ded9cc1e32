"""Racing for one pairing code, one account pairing to several caregivers at once, and a burst of guesses."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from services.eldercare.homecare.models import Caregiver, CaregiverPairing
from tests.eldercare.test_caregiver_app import account, code_for, issue, redeem
from tests.eldercare.test_homecare import API, add_caregiver
from tests.races import next_request_succeeds


async def test_two_redemptions_of_one_code_one_wins(committed_client):
    client = committed_client
    caregiver = await add_caregiver(client)
    for round_ in range(3):
        code = await code_for(client, caregiver["id"])
        accounts = [account(100 + 10 * round_ + n) for n in range(4)]
        responses = await asyncio.gather(*(redeem(client, a, code) for a in accounts))
        statuses = [r.status_code for r in responses]
        assert sorted(statuses) == [201, 400, 400, 400], [r.text for r in responses]
        winner = accounts[statuses.index(201)]
        async with client.app.state.database.sessionmaker() as session:
            subject = await session.scalar(select(Caregiver.app_subject).where(Caregiver.id == caregiver["id"]))
            redeemed_by = await session.scalar(
                select(CaregiverPairing.redeemed_by)
                .where(CaregiverPairing.caregiver_id == caregiver["id"], CaregiverPairing.redeemed_at.is_not(None))
                .order_by(CaregiverPairing.id.desc())
                .limit(1)
            )
        assert subject == winner.subject == redeemed_by
    # One who lost pairs with another caregiver by that caregiver's own code.
    loser = accounts[statuses.index(400)]
    other = await add_caregiver(client)
    await next_request_succeeds(redeem(client, loser, await code_for(client, other["id"])))


async def test_one_account_redeeming_two_caregivers_codes_at_once_ends_paired_to_one(committed_client):
    client = committed_client
    caregivers = [await add_caregiver(client) for _ in range(3)]
    codes = [await code_for(client, c["id"]) for c in caregivers]
    me = account(200)
    responses = await asyncio.gather(*(redeem(client, me, code) for code in codes))
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}, [r.text for r in responses]
    async with client.app.state.database.sessionmaker() as session:
        paired = list(await session.scalars(select(Caregiver.id).where(Caregiver.app_subject == me.subject)))
    assert len(paired) == 1
    mine = (await client.get(f"{API}/my-caregiver", headers=client.as_(me))).json()
    assert [mine["caregiver_id"]] == paired
    # A caregiver left unpaired by the race pairs with another account.
    unpaired = next(c["id"] for c in caregivers if c["id"] not in paired)
    await next_request_succeeds(redeem(client, account(201), await code_for(client, unpaired)))


async def test_a_burst_of_guesses_from_one_account_tries_no_more_than_the_limit(committed_client):
    client = committed_client
    guesser = account(300)
    responses = await asyncio.gather(
        *(redeem(client, guesser, f"ABCD-{n:04d}".replace("0", "A").replace("1", "B")) for n in range(12))
    )
    statuses = sorted(r.status_code for r in responses)
    limit = client.app.state.settings.caregiver_pairing_attempts_per_hour
    assert statuses == [400] * limit + [429] * (12 - limit), [r.text for r in responses]
    caregiver = await add_caregiver(client)
    await next_request_succeeds(redeem(client, account(301), await code_for(client, caregiver["id"])))


async def test_codes_issued_at_once_leave_one_that_works(committed_client):
    client = committed_client
    caregiver = await add_caregiver(client)
    responses = await asyncio.gather(*(issue(client, caregiver["id"]) for _ in range(6)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}, [r.text for r in responses]
    async with client.app.state.database.sessionmaker() as session:
        open_codes = await session.scalar(
            select(func.count())
            .select_from(CaregiverPairing)
            .where(
                CaregiverPairing.caregiver_id == caregiver["id"],
                CaregiverPairing.redeemed_at.is_(None),
                CaregiverPairing.revoked_at.is_(None),
            )
        )
    assert open_codes == 1
    answers = [
        await redeem(client, account(400 + n), r.json()["code"])
        for n, r in enumerate(responses)
        if r.status_code == 201
    ]
    assert sorted(a.status_code for a in answers) == [201] + [400] * (len(answers) - 1)
