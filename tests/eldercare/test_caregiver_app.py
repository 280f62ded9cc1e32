"""The caregiver app: pairing an account to a caregiver by a one-time code from staff, and the paired caregiver
seeing, checking in and checking out of only the visits assigned to them, by the staff path's rules."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import update

from services.eldercare.homecare.models import Caregiver, CaregiverPairing, CaregiverPairingAttempts
from shared import clock
from shared.db import utcnow
from tests.conftest import resident
from tests.eldercare.test_homecare import (
    API,
    HAISHU,
    HC_READ,
    HOME,
    PASSED,
    TOMORROW_9,
    V_READ,
    YINZHOU,
    add_caregiver,
    add_service,
    end_of,
    funded_account,
    move_back,
    position,
    scheduled_visit,
    start_of,
)
from tests.eldercare.test_meals import add_elder

V_ATTEND = "eldercare.visits:attend"
CODE = re.compile(r"^[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}$")


def account(n: int):
    """A caregiver's account as the gateway signs it in (SMS code): a resident-kind principal."""
    return resident(f"resident:caregiver-{n}", V_ATTEND, V_READ, HC_READ)


async def issue(client, caregiver_id: int, who=YINZHOU):
    return await client.post(f"{API}/caregivers/{caregiver_id}/app-pairings", headers=client.as_(who))


async def code_for(client, caregiver_id: int) -> str:
    response = await issue(client, caregiver_id)
    assert response.status_code == 201, response.text
    return response.json()["code"]


async def redeem(client, who, code: str):
    return await client.post(f"{API}/caregiver-pairings", headers=client.as_(who), json={"code": code})


async def paired(client, who, caregiver_id: int) -> None:
    response = await redeem(client, who, await code_for(client, caregiver_id))
    assert response.status_code == 201, response.text
    assert response.json()["caregiver_id"] == caregiver_id


async def app_visit(client, who, visit_id: int, action: str, **pos):
    return await client.post(f"{API}/my-visits/{visit_id}/{action}", headers=client.as_(who), json=position(**pos))


async def test_pair_then_see_and_attend_only_ones_own_visits(client):
    item = await add_service(client)
    elder_id, _ = await add_elder(client)
    mine, other = await add_caregiver(client), await add_caregiver(client)
    visit = await scheduled_visit(client, elder_id, item["id"], mine["id"])
    others = await scheduled_visit(client, elder_id, item["id"], other["id"], TOMORROW_9 + dt.timedelta(hours=2))
    me, colleague, stranger = account(1), account(2), account(3)

    # Before pairing the account is no one's caregiver.
    assert (await client.get(f"{API}/my-caregiver", headers=client.as_(me))).status_code == 404
    assert (await client.get(f"{API}/my-visits", headers=client.as_(me))).status_code == 404
    assert (await app_visit(client, me, visit["id"], "check-in")).status_code == 404

    # Staff of the provider's area give the code; not staff elsewhere, not a resident.
    assert (await issue(client, mine["id"], HAISHU)).status_code == 403
    assert (await issue(client, mine["id"], me)).status_code == 403
    assert (await issue(client, 999_999)).status_code == 404
    response = await issue(client, mine["id"])
    assert response.status_code == 201 and response.headers["cache-control"] == "no-store"
    code = response.json()["code"]
    assert CODE.match(code), code
    assert dt.datetime.fromisoformat(response.json()["expires_at"]) > utcnow() + dt.timedelta(hours=23)

    # Case, spaces and the hyphen do not matter.
    response = await redeem(client, me, " " + code.replace("-", "").lower() + " ")
    assert response.status_code == 201, response.text
    assert response.json()["caregiver_id"] == mine["id"] and response.json()["certificate_valid"] is True
    assert (await client.get(f"{API}/my-caregiver", headers=client.as_(me))).json()["caregiver_id"] == mine["id"]
    listed = (await client.get(f"{API}/caregivers", params={"limit": 100}, headers=client.as_(YINZHOU))).json()
    flags = {c["id"]: c["app_paired"] for c in listed["items"]}
    assert flags[mine["id"]] is True and flags[other["id"]] is False

    # Used once.
    refused = await redeem(client, colleague, code)
    assert refused.status_code == 400 and refused.json()["type"] == "/problems/pairing-code-refused"
    await paired(client, colleague, other["id"])

    # Each sees their own day.
    tomorrow = (clock.today() + dt.timedelta(days=1)).isoformat()
    day = (await client.get(f"{API}/my-visits", params={"date": tomorrow}, headers=client.as_(me))).json()
    assert [v["id"] for v in day] == [visit["id"]]
    assert day[0]["elder_name"] == "测试老人" and day[0]["address"] == "鄞州区百丈街道1号"
    assert (day[0]["home_latitude"], day[0]["home_longitude"]) == HOME and day[0]["service_name"] == "助浴"
    assert not {"id_number", "id_number_masked", "phone"} & set(day[0])
    day = (await client.get(f"{API}/my-visits", params={"date": tomorrow}, headers=client.as_(colleague))).json()
    assert [v["id"] for v in day] == [others["id"]]
    assert (await client.get(f"{API}/my-visits", headers=client.as_(me))).json() == []  # today: nothing

    # Another caregiver's visit, an unpaired account's, one that does not exist: the same 404.
    for who, visit_id in ((colleague, visit["id"]), (stranger, visit["id"]), (me, others["id"]), (me, 999_999)):
        for action in ("check-in", "check-out"):
            response = await app_visit(client, who, visit_id, action)
            assert response.status_code == 404, response.text
            assert response.json()["detail"] == f"no visit {visit_id} assigned to you"

    # The staff path's rules: no check-out without a check-in; far from home is flagged. The clock passes both
    # visits, which are attended on time.
    visit, others = await move_back(client, visit), await move_back(client, others)
    no_check_in = await app_visit(client, me, visit["id"], "check-out")
    assert no_check_in.status_code == 409 and no_check_in.json()["resource"] == f"visits/{visit['id']}"
    checked_in = await app_visit(client, me, visit["id"], "check-in", at=start_of(visit))
    assert checked_in.status_code == 200 and checked_in.json()["status"] == "checked_in"
    assert checked_in.json()["check_in_distance_m"] == 0.0
    assert (await app_visit(client, me, visit["id"], "check-in")).status_code == 409
    out = await app_visit(client, me, visit["id"], "check-out", lat=HOME[0] + 0.01, at=end_of(visit))
    assert out.status_code == 200 and out.json()["status"] == "flagged"
    assert out.json()["flags"] == ["check_out_far_from_home"]

    # The colleague's visit, verified through the app; staff still see both.
    assert (
        await app_visit(client, colleague, others["id"], "check-in", accuracy=30, at=start_of(others))
    ).status_code == 200
    out = await app_visit(client, colleague, others["id"], "check-out", at=end_of(others))
    assert out.status_code == 200 and out.json()["status"] == "verified"
    seen = await client.get(f"{API}/visits/{others['id']}", headers=client.as_(YINZHOU))
    assert seen.json()["status"] == "verified"
    # Once done, the day's list no longer says where the person lives.
    that_day = (clock.today() + dt.timedelta(days=1) - PASSED).isoformat()
    done = (await client.get(f"{API}/my-visits", params={"date": that_day}, headers=client.as_(colleague))).json()
    assert done[0]["status"] == "verified" and done[0]["address"] is None and done[0]["elder_name"] is None


async def test_wrong_expired_and_replaced_codes_get_one_answer_and_guessing_is_braked(client):
    first, second = await add_caregiver(client), await add_caregiver(client)
    me = account(11)
    old = await code_for(client, first["id"])
    new = await code_for(client, first["id"])  # replaces the old one
    expired = await code_for(client, second["id"])
    async with client.app.state.database.sessionmaker() as session, session.begin():
        await session.execute(
            update(CaregiverPairing)
            .where(CaregiverPairing.caregiver_id == second["id"])
            .values(issued_at=utcnow() - dt.timedelta(hours=25), expires_at=utcnow() - dt.timedelta(hours=1))
        )
    answers = [await redeem(client, me, c) for c in (old, expired, "ABCD-EFGH", "not a code!")]
    assert [a.status_code for a in answers] == [400] * 4
    assert len({(a.json()["type"], a.json()["detail"]) for a in answers}) == 1
    assert (await client.get(f"{API}/my-caregiver", headers=client.as_(me))).status_code == 404

    # A fifth code in the hour; then even the right one waits, and is told for how long.
    assert (await redeem(client, me, "ABCD-EFGJ")).status_code == 400
    braked = await redeem(client, me, new)
    assert braked.status_code == 429 and 0 < int(braked.headers["retry-after"]) <= 3600
    assert braked.json()["type"] == "/problems/rate-limited"
    # Another account is not braked by this one's guesses; this one is again once its hour has passed.
    assert (await redeem(client, account(12), new)).status_code == 201
    async with client.app.state.database.sessionmaker() as session, session.begin():
        await session.execute(
            update(CaregiverPairingAttempts)
            .where(CaregiverPairingAttempts.subject == me.subject)
            .values(window_started_at=utcnow() - dt.timedelta(minutes=61))
        )
    assert (await redeem(client, me, await code_for(client, second["id"]))).status_code == 201
    # Malformed bodies are 422, not counted.
    assert (
        await client.post(f"{API}/caregiver-pairings", headers=client.as_(account(13)), json={"code": "short"})
    ).status_code == 422


async def test_repairing_moves_and_staff_unpair(client):
    first, second = await add_caregiver(client), await add_caregiver(client)
    old_phone, new_phone = account(21), account(22)
    await paired(client, old_phone, first["id"])
    # A new phone: the caregiver's previous account is replaced.
    await paired(client, new_phone, first["id"])
    assert (await client.get(f"{API}/my-caregiver", headers=client.as_(old_phone))).status_code == 404
    assert (await client.get(f"{API}/my-caregiver", headers=client.as_(new_phone))).json()["caregiver_id"] == first[
        "id"
    ]
    # An account is paired to at most one caregiver: a code for another moves it.
    await paired(client, new_phone, second["id"])
    assert (await client.get(f"{API}/my-caregiver", headers=client.as_(new_phone))).json()["caregiver_id"] == second[
        "id"
    ]
    caregivers = (await client.get(f"{API}/caregivers", params={"limit": 100}, headers=client.as_(YINZHOU))).json()
    assert {c["id"]: c["app_paired"] for c in caregivers["items"]}[first["id"]] is False

    # Staff unpair (their area only); codes not yet used stop working too; safe to repeat.
    pending = await code_for(client, second["id"])
    unpair = f"{API}/caregivers/{second['id']}/app-pairing"
    assert (await client.delete(unpair, headers=client.as_(HAISHU))).status_code == 403
    assert (await client.delete(unpair, headers=client.as_(new_phone))).status_code == 403
    assert (await client.delete(unpair, headers=client.as_(YINZHOU))).status_code == 204
    assert (await client.delete(unpair, headers=client.as_(YINZHOU))).status_code == 204
    assert (await client.get(f"{API}/my-caregiver", headers=client.as_(new_phone))).status_code == 404
    assert (await redeem(client, new_phone, pending)).status_code == 400


async def test_an_expired_certificate_blocks_checking_in_through_the_app_but_not_staff(client):
    item = await add_service(client)
    elder_id, _ = await add_elder(client)
    caregiver = await add_caregiver(client)
    soon = utcnow() + dt.timedelta(minutes=2)
    visit = await scheduled_visit(client, elder_id, item["id"], caregiver["id"], soon)
    me = account(31)
    await paired(client, me, caregiver["id"])
    # The certificate turns out to have expired yesterday (a correction of the record; no endpoint changes it).
    async with client.app.state.database.sessionmaker() as session, session.begin():
        await session.execute(
            update(Caregiver)
            .where(Caregiver.id == caregiver["id"])
            .values(certificate_expires_on=clock.today() - dt.timedelta(days=1))
        )
    blocked = await app_visit(client, me, visit["id"], "check-in")
    assert blocked.status_code == 409 and blocked.json()["resource"] == f"caregivers/{caregiver['id']}"
    assert (await client.get(f"{API}/my-caregiver", headers=client.as_(me))).json()["certificate_valid"] is False
    visit = await move_back(client, visit)  # the clock passes the visit
    staff = await client.post(
        f"{API}/visits/{visit['id']}/check-in", headers=client.as_(YINZHOU), json=position(at=start_of(visit))
    )
    assert staff.status_code == 200 and staff.json()["status"] == "checked_in"
    # Checking out what staff checked in stays possible through the app.
    out = await app_visit(client, me, visit["id"], "check-out", at=end_of(visit))
    assert out.status_code == 200 and out.json()["status"] == "verified"


async def test_a_visit_rescheduled_away_is_no_longer_the_caregivers(client):
    item = await add_service(client)
    elder_id, _ = await add_elder(client)
    first, second = await add_caregiver(client), await add_caregiver(client)
    visit = await scheduled_visit(client, elder_id, item["id"], first["id"])
    me = account(41)
    await paired(client, me, first["id"])
    moved = await client.post(
        f"{API}/visits/{visit['id']}/schedule", headers=client.as_(YINZHOU), json={"caregiver_id": second["id"]}
    )
    assert moved.status_code == 200, moved.text
    assert (await app_visit(client, me, visit["id"], "check-in")).status_code == 404


async def test_an_app_check_in_hours_early_and_a_fifty_second_visit_go_to_review_and_draw_nothing(client):
    """What an outside tester did: checked in through the app 3 hours before the start and out 50 seconds later."""
    item = await add_service(client, price=6000)
    elder_id, _ = await add_elder(client)
    caregiver = await add_caregiver(client)
    account_ = await funded_account(client, elder_id, amount=10000)
    visit = await move_back(client, await scheduled_visit(client, elder_id, item["id"], caregiver["id"]))
    me = account(51)
    await paired(client, me, caregiver["id"])
    early = start_of(visit) - dt.timedelta(hours=3)
    checked_in = await app_visit(client, me, visit["id"], "check-in", at=early)
    assert checked_in.status_code == 200 and checked_in.json()["flags"] == ["check_in_early"]
    out = await app_visit(client, me, visit["id"], "check-out", at=early + dt.timedelta(seconds=50))
    assert out.status_code == 200
    assert (out.json()["status"], out.json()["flags"], out.json()["subsidy_fen"]) == (
        "flagged",
        ["check_in_early", "too_short"],
        0,
    )
    balance = await client.get(f"{API}/subsidy-accounts/{account_['id']}", headers=client.as_(YINZHOU))
    assert balance.json()["balance_fen"] == 10000
