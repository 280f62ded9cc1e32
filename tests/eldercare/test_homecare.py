"""Home visits: catalogue, caregivers' certificates, scheduling without double-booking, check-in and out on site,
missed visits, locked records and audited corrections; and the home-care subsidy they draw from."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from services.eldercare.homecare.models import Visit
from services.eldercare.homecare.service import _refuse_if_locked
from services.eldercare.subsidies.models import SubsidyAccount, SubsidyEntry
from shared import clock
from shared.db import utcnow
from shared.errors import Conflict
from tests.conftest import TEST_DAY, resident, staff
from tests.eldercare.test_elders import id_number
from tests.eldercare.test_meals import API, CARER, ELDERS_READ, ELDERS_WRITE, add_elder

HC_READ, HC_WRITE = "eldercare.homecare:read", "eldercare.homecare:write"
V_READ, V_WRITE, V_OPERATE = "eldercare.visits:read", "eldercare.visits:write", "eldercare.visits:operate"
S_READ, S_WRITE, RATES = "eldercare.subsidies:read", "eldercare.subsidies:write", "eldercare.allowance_rates:write"
ALL = (ELDERS_READ, ELDERS_WRITE, HC_READ, HC_WRITE, V_READ, V_WRITE, V_OPERATE, S_READ, S_WRITE)
YINZHOU = staff("330212", *ALL, subject="staff:yinzhou")
HAISHU = staff("330203", *ALL, subject="staff:haishu")
CITY = staff("330200", *ALL, RATES, subject="staff:city")
HOME = (29.87, 121.56)  # where add_elder's people live
# The clock is at noon on TEST_DAY (tests/eldercare/conftest.py).
TOMORROW_9 = dt.datetime.combine(TEST_DAY + dt.timedelta(days=1), dt.time(9, 0), tzinfo=clock.SHANGHAI)


async def add_service(client, code="bathing", price=6000, minutes=60) -> dict:
    response = await client.post(
        f"{API}/services",
        headers=client.as_(CITY),
        json={
            "code": code,
            "name": "助浴",
            "category": "personal_care",
            "price_fen": price,
            "duration_minutes": minutes,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


_caregivers = iter(range(100, 999))


async def add_caregiver(client, provider_id=None, expires_on=None) -> dict:
    if provider_id is None:
        provider = await client.post(
            f"{API}/providers",
            headers=client.as_(YINZHOU),
            json={
                "name": "颐乐居家服务中心",
                "credit_code": f"91330212MA2{next(_caregivers):03d}XXXXX"[:18].replace("X", "0"),
                "address": "鄞州区百丈东路360号",  # placenames is not reached here: pending in this area
                "area_code": "330212001",
            },
        )
        assert provider.status_code == 201, provider.text
        provider_id = provider.json()["id"]
    expires = expires_on or clock.today() + dt.timedelta(days=365)
    response = await client.post(
        f"{API}/caregivers",
        headers=client.as_(YINZHOU),
        json={
            "provider_id": provider_id,
            "name": "护理员",
            "id_number": id_number("330212", dt.date(1980, 1, 1), f"{next(_caregivers):03d}"),
            "phone": "13600000000",
            "certificate_no": "NB2024-0001",
            "certificate_level": "intermediate",
            "certificate_expires_on": expires.isoformat(),
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


async def order_visit(client, elder_id, service_id, starts_at=TOMORROW_9, who=YINZHOU, **extra):
    return await client.post(
        f"{API}/visits",
        headers=client.as_(who),
        json={"elder_id": elder_id, "service_id": service_id, "starts_at": starts_at.isoformat()} | extra,
    )


def position(lat=HOME[0], lon=HOME[1], accuracy=20, at=None) -> dict:
    return {"at": (at or utcnow()).isoformat(), "latitude": lat, "longitude": lon, "accuracy_m": accuracy}


async def scheduled_visit(client, elder_id, service_id, caregiver_id, starts_at=TOMORROW_9) -> dict:
    response = await order_visit(client, elder_id, service_id, starts_at, caregiver_id=caregiver_id)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "scheduled"
    return response.json()


# The API books only times to come and takes no check-in or check-out time in the future: for a visit to be
# attended, the clock must pass it. The visit is moved back by the same span every time (no new overlap).
PASSED = dt.timedelta(days=2)


async def move_back(client, visit: dict, span: dt.timedelta = PASSED) -> dict:
    """The visit as if booked `span` earlier (its scheduled start and end moved back in the database)."""
    starts = dt.datetime.fromisoformat(visit["starts_at"]) - span
    ends = dt.datetime.fromisoformat(visit["ends_at"]) - span
    async with client.app.state.database.sessionmaker() as session, session.begin():
        await session.execute(update(Visit).where(Visit.id == visit["id"]).values(starts_at=starts, ends_at=ends))
    return visit | {"starts_at": starts.isoformat(), "ends_at": ends.isoformat()}


def start_of(visit: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(visit["starts_at"])


def end_of(visit: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(visit["ends_at"])


async def attend(client, visit: dict, *, arrive=dt.timedelta(0), stay=None, who=YINZHOU, **where) -> dict:
    """Check the (past) visit in at its start plus `arrive` and out `stay` later (default: as long as booked),
    at the person's home unless `where` says otherwise; the answer to the check-out."""
    check_in_at = start_of(visit) + arrive
    stay = end_of(visit) - start_of(visit) if stay is None else stay
    checked_in = await client.post(
        f"{API}/visits/{visit['id']}/check-in", headers=client.as_(who), json=position(at=check_in_at, **where)
    )
    assert checked_in.status_code == 200, checked_in.text
    out = await client.post(
        f"{API}/visits/{visit['id']}/check-out", headers=client.as_(who), json=position(at=check_in_at + stay, **where)
    )
    assert out.status_code == 200, out.text
    return out.json()


async def test_catalogue_providers_and_caregivers(client):
    item = await add_service(client)
    assert (
        await client.post(
            f"{API}/services",
            headers=client.as_(YINZHOU),
            json={"code": "cleaning", "name": "助洁", "category": "home", "price_fen": 100, "duration_minutes": 60},
        )
    ).status_code == 403
    listed = (await client.get(f"{API}/services", headers=client.as_(resident(CARER, HC_READ)))).json()
    assert [s["code"] for s in listed] == ["bathing"] and listed[0]["price_fen"] == item["price_fen"]
    caregiver = await add_caregiver(client)
    assert caregiver["id_number_masked"].startswith("330212********") and caregiver["phone_masked"] == "136****0000"
    assert caregiver["certificate_valid"] is True
    bad = await client.post(
        f"{API}/caregivers",
        headers=client.as_(YINZHOU),
        json={
            "provider_id": caregiver["provider_id"],
            "name": "x",
            "id_number": "330212198001011230",
            "certificate_no": "NB-1",
            "certificate_level": "junior",
            "certificate_expires_on": "2030-01-01",
        },
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] in ("id_number", "certificate_no")
    other = await client.post(
        f"{API}/caregivers",
        headers=client.as_(HAISHU),
        json={
            "provider_id": caregiver["provider_id"],
            "name": "x",
            "id_number": id_number("330203", dt.date(1980, 2, 2)),
            "certificate_no": "NB-0002",
            "certificate_level": "junior",
            "certificate_expires_on": "2030-01-01",
        },
    )
    assert other.status_code == 403


async def test_a_providers_phone_is_masked_in_every_answer(client):
    """A provider's phone (a mobile: its contact person's) was answered in the clear to anyone who may browse
    providers, residents and partner departments included. It is masked as a caregiver's is, in every answer."""
    created = await client.post(
        f"{API}/providers",
        headers=client.as_(YINZHOU),
        json={
            "name": "康宁居家服务中心",
            "credit_code": "91330212MA2PHNE001",
            "phone": "13905741234",
            "address": "鄞州区百丈东路360号",
            "area_code": "330212001",
        },
    )
    assert created.status_code == 201, created.text
    listed = await client.get(f"{API}/providers", headers=client.as_(resident(CARER, HC_READ)))
    assert listed.status_code == 200, listed.text
    [shown] = [p for p in listed.json()["items"] if p["id"] == created.json()["id"]]
    moved = await client.put(
        f"{API}/providers/{shown['id']}/address",
        headers=client.as_(YINZHOU),
        json={"address": "鄞州区百丈东路362号", "area_code": "330212001"},
    )
    assert moved.status_code == 200, moved.text
    for answer in (created.json(), shown, moved.json()):
        assert answer["phone_masked"] == "139****1234" and "phone" not in answer
    for response in (created, listed, moved):
        assert "13905741234" not in response.text


async def test_visit_times_are_checked(client):
    item = await add_service(client, minutes=90)
    elder_id, _ = await add_elder(client)
    response = await order_visit(client, elder_id, item["id"])
    assert response.status_code == 201
    visit = response.json()
    assert visit["status"] == "requested" and visit["price_fen"] == 6000
    assert dt.datetime.fromisoformat(visit["ends_at"]) - dt.datetime.fromisoformat(visit["starts_at"]) == dt.timedelta(
        minutes=90
    )
    backwards = await order_visit(
        client, elder_id, item["id"], ends_at=(TOMORROW_9 - dt.timedelta(hours=1)).isoformat()
    )
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "ends_at"
    past = await order_visit(client, elder_id, item["id"], starts_at=utcnow() - dt.timedelta(days=1))
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "starts_at"
    naive = await client.post(
        f"{API}/visits",
        headers=client.as_(YINZHOU),
        json={"elder_id": elder_id, "service_id": item["id"], "starts_at": "2030-01-01T09:00:00"},
    )
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "starts_at"
    stranger = resident("resident:13900000055", V_WRITE)
    assert (await order_visit(client, elder_id, item["id"], who=stranger)).status_code == 404


async def test_a_caregiver_is_never_double_booked_nor_sent_with_an_expired_certificate(client):
    item = await add_service(client)
    caregiver = await add_caregiver(client)
    expired = await add_caregiver(client, caregiver["provider_id"], expires_on=clock.today() - dt.timedelta(days=1))
    assert expired["certificate_valid"] is False
    elder_id, _ = await add_elder(client)
    first = await scheduled_visit(client, elder_id, item["id"], caregiver["id"])
    # 09:30–10:30 overlaps 09:00–10:00.
    overlap = await order_visit(
        client, elder_id, item["id"], TOMORROW_9 + dt.timedelta(minutes=30), caregiver_id=caregiver["id"]
    )
    assert overlap.status_code == 409 and overlap.json()["resource"] == f"visits/{first['id']}"
    # 10:00–11:00 touches it without overlapping.
    await scheduled_visit(client, elder_id, item["id"], caregiver["id"], TOMORROW_9 + dt.timedelta(hours=1))
    blocked = await order_visit(
        client, elder_id, item["id"], TOMORROW_9 + dt.timedelta(hours=3), caregiver_id=expired["id"]
    )
    assert blocked.status_code == 409 and blocked.json()["resource"] == f"caregivers/{expired['id']}"
    assert "certificate" in blocked.json()["detail"]
    # Nothing half-written: the refused orders left no visit behind.
    listed = (await client.get(f"{API}/visits", params={"elder_id": elder_id}, headers=client.as_(YINZHOU))).json()
    assert len(listed["items"]) == 2
    # A cancelled visit frees the caregiver's time.
    await client.post(f"{API}/visits/{first['id']}/cancel", headers=client.as_(YINZHOU))
    await scheduled_visit(client, elder_id, item["id"], caregiver["id"], TOMORROW_9 + dt.timedelta(minutes=-30))


async def test_check_in_near_home_verifies_and_far_away_is_flagged(client):
    item = await add_service(client)
    caregiver = await add_caregiver(client)
    elder_id, _ = await add_elder(client)
    near = await move_back(client, await scheduled_visit(client, elder_id, item["id"], caregiver["id"]))
    premature = await client.post(f"{API}/visits/{near['id']}/check-out", headers=client.as_(YINZHOU), json=position())
    assert premature.status_code == 409 and "check-in" in premature.json()["detail"]
    checked_in = await client.post(
        f"{API}/visits/{near['id']}/check-in",
        headers=client.as_(YINZHOU),
        json=position(lat=HOME[0] + 0.001, accuracy=30, at=start_of(near)),
    )  # ~111 m away
    assert checked_in.status_code == 200 and checked_in.json()["flags"] == []
    assert 100 < checked_in.json()["check_in_distance_m"] < 120
    again = await client.post(f"{API}/visits/{near['id']}/check-in", headers=client.as_(YINZHOU), json=position())
    assert again.status_code == 409
    out = await client.post(
        f"{API}/visits/{near['id']}/check-out", headers=client.as_(YINZHOU), json=position(at=end_of(near))
    )
    assert out.status_code == 200 and out.json()["status"] == "verified", out.text

    far = await move_back(
        client, await scheduled_visit(client, elder_id, item["id"], caregiver["id"], TOMORROW_9 + dt.timedelta(hours=2))
    )
    # ~330 m away with 100 m accuracy: beyond 200 m + 100 m.
    flagged = await client.post(
        f"{API}/visits/{far['id']}/check-in",
        headers=client.as_(YINZHOU),
        json=position(lat=HOME[0] + 0.003, accuracy=100, at=start_of(far)),
    )
    assert flagged.json()["flags"] == ["check_in_far_from_home"]
    out = await client.post(
        f"{API}/visits/{far['id']}/check-out", headers=client.as_(YINZHOU), json=position(at=end_of(far))
    )
    assert out.json()["status"] == "flagged" and out.json()["subsidy_fen"] == 0
    for field, value in (("latitude", 91), ("accuracy_m", -1), ("at", "yesterday")):
        bad = await client.post(
            f"{API}/visits/{near['id']}/check-in", headers=client.as_(YINZHOU), json=position() | {field: value}
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == field


async def test_missed_visits_are_reported_once(client):
    item = await add_service(client)
    caregiver = await add_caregiver(client)
    elder_id, _ = await add_elder(client)
    visit = await scheduled_visit(client, elder_id, item["id"], caregiver["id"])
    later = await scheduled_visit(client, elder_id, item["id"], caregiver["id"], TOMORROW_9 + dt.timedelta(hours=3))
    # The clock reaches 31 minutes after the first visit's start with nobody checked in.
    async with client.app.state.database.sessionmaker() as session, session.begin():
        await session.execute(
            update(Visit)
            .where(Visit.id == visit["id"])
            .values(starts_at=utcnow() - dt.timedelta(minutes=31), ends_at=utcnow() + dt.timedelta(minutes=29))
        )
    first = await client.post(f"{API}/visits/missed-check", headers=client.as_(YINZHOU))
    assert first.json() == {"marked_missed": [visit["id"]]}
    assert (await client.post(f"{API}/visits/missed-check", headers=client.as_(YINZHOU))).json() == {
        "marked_missed": []
    }
    statuses = {
        v["id"]: v["status"] for v in (await client.get(f"{API}/visits", headers=client.as_(YINZHOU))).json()["items"]
    }
    assert statuses == {visit["id"]: "missed", later["id"]: "scheduled"}
    # Another district's run does not touch this district's visits.
    assert (await client.post(f"{API}/visits/missed-check", headers=client.as_(HAISHU))).json() == {"marked_missed": []}


async def test_records_lock_after_thirty_days_and_change_only_by_audited_correction(client):
    item = await add_service(client)
    caregiver = await add_caregiver(client)
    elder_id, _ = await add_elder(client)
    visit = await scheduled_visit(client, elder_id, item["id"], caregiver["id"])
    await client.post(
        f"{API}/visits/{visit['id']}/check-in",
        headers=client.as_(YINZHOU),
        json=position(lat=HOME[0] + 0.01, accuracy=10),
    )
    await client.post(
        f"{API}/visits/{visit['id']}/check-out",
        headers=client.as_(YINZHOU),
        json=position(at=utcnow() + dt.timedelta(minutes=1)),
    )
    carer = resident(CARER, V_READ, V_WRITE)
    assert (
        await client.post(f"{API}/visits/{visit['id']}/rating", headers=client.as_(carer), json={"rating": 4})
    ).status_code == 200
    async with client.app.state.database.sessionmaker() as session, session.begin():
        await session.execute(
            update(Visit)
            .where(Visit.id == visit["id"])
            .values(
                check_in_at=utcnow() - dt.timedelta(days=31, hours=1), check_out_at=utcnow() - dt.timedelta(days=31)
            )
        )
    current = (await client.get(f"{API}/visits/{visit['id']}", headers=client.as_(carer))).json()
    assert current["locked"] is True and current["status"] == "flagged"
    locked = await client.post(f"{API}/visits/{visit['id']}/rating", headers=client.as_(carer), json={"rating": 1})
    assert locked.status_code == 409 and "correction" in locked.json()["detail"]
    correction = await client.post(
        f"{API}/visits/{visit['id']}/corrections",
        headers=client.as_(YINZHOU),
        json={"reason": "GPS漂移，经回访核实服务已完成", "status": "verified"},
    )
    assert correction.status_code == 201, correction.text
    body = correction.json()
    assert body["before"] == {"status": "flagged"} and body["after"] == {"status": "verified"}
    assert body["corrected_by"] == "staff:yinzhou"
    history = (await client.get(f"{API}/visits/{visit['id']}/corrections", headers=client.as_(carer))).json()
    assert [c["id"] for c in history] == [body["id"]]
    assert (await client.get(f"{API}/visits/{visit['id']}", headers=client.as_(carer))).json()["status"] == "verified"
    # Only staff correct; an empty correction says what is missing.
    assert (
        await client.post(
            f"{API}/visits/{visit['id']}/corrections",
            headers=client.as_(resident(CARER, V_OPERATE)),
            json={"reason": "改一下记录", "status": "verified"},
        )
    ).status_code == 403
    empty = await client.post(
        f"{API}/visits/{visit['id']}/corrections", headers=client.as_(YINZHOU), json={"reason": "nothing at all"}
    )
    assert empty.status_code == 422


# ---- home-care subsidy -----------------------------------------------------------------------------------


async def add_allowance(client, tier="age_60_79", level=3, amount=10000, district="330200", effective="2022-01-01"):
    response = await client.post(
        f"{API}/allowance-rates",
        headers=client.as_(CITY),
        json={
            "tier": tier,
            "level": level,
            "district_code": district,
            "amount_fen": amount,
            "effective_on": effective,
            "citation": "test figures",
            "is_assumption": True,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


async def funded_account(client, elder_id, amount=10000, tier="age_60_79") -> dict:
    await add_allowance(client, amount=amount, tier=tier)
    account = await client.post(
        f"{API}/subsidy-accounts", headers=client.as_(YINZHOU), json={"elder_id": elder_id, "level": 3}
    )
    assert account.status_code == 201, account.text
    granted = await client.post(
        f"{API}/subsidy-accounts/grants", headers=client.as_(YINZHOU), json={"month": clock.today().strftime("%Y-%m")}
    )
    assert granted.json()["accounts_credited"] == 1
    return account.json()


async def test_allowance_is_granted_once_a_month_and_visits_draw_it(client):
    elder_id, _ = await add_elder(client)
    account = await funded_account(client, elder_id, amount=10000)
    assert (account["tier"], account["level"]) == ("age_60_79", 3)
    month = clock.today().strftime("%Y-%m")
    again = await client.post(f"{API}/subsidy-accounts/grants", headers=client.as_(YINZHOU), json={"month": month})
    assert again.json() == {"month": month, "accounts_credited": 0, "total_fen": 0}
    for bad in ("0000-01", "2026-13", "2026-1"):  # year 0 once reached date() and was a 500 (found by the fuzz test)
        refused = await client.post(f"{API}/subsidy-accounts/grants", headers=client.as_(YINZHOU), json={"month": bad})
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "month", bad
    item = await add_service(client, price=6000)
    caregiver = await add_caregiver(client)
    drawn = []
    for hour in (0, 2):
        visit = await scheduled_visit(
            client, elder_id, item["id"], caregiver["id"], TOMORROW_9 + dt.timedelta(hours=hour)
        )
        out = await attend(client, await move_back(client, visit))
        drawn.append((out["subsidy_fen"], out["self_paid_fen"]))
    assert drawn == [(6000, 0), (4000, 2000)]  # the second visit takes what is left; the rest is self-paid
    balance = (await client.get(f"{API}/subsidy-accounts/{account['id']}", headers=client.as_(YINZHOU))).json()
    assert balance["balance_fen"] == 0
    ledger = (
        await client.get(f"{API}/subsidy-accounts/{account['id']}/entries", headers=client.as_(resident(CARER, S_READ)))
    ).json()["items"]
    assert [(e["kind"], e["amount_fen"], e["balance_after_fen"]) for e in ledger] == [
        ("draw", -4000, 0),
        ("draw", -6000, 4000),
        ("allowance", 10000, 10000),
    ]
    overdraw = await client.post(
        f"{API}/subsidy-accounts/{account['id']}/adjustments",
        headers=client.as_(YINZHOU),
        json={"amount_fen": -1, "note": "测试扣减"},
    )
    assert overdraw.status_code == 409


async def test_a_month_to_come_is_not_granted_ahead(client):
    """Granting 2199-12 (or any month not yet begun) credited every account a month's allowance, once per month named:
    a member of staff could pay out years ahead. A month to come is a 422 naming month; nothing is credited. The month
    is Shanghai's: at 23:30 UTC on the last day of a month, the next one has begun in Ningbo and is granted."""
    elder_id, _ = await add_elder(client)
    await add_allowance(client, amount=10000)
    account = await client.post(
        f"{API}/subsidy-accounts", headers=client.as_(YINZHOU), json={"elder_id": elder_id, "level": 3}
    )
    assert account.status_code == 201, account.text
    next_month = (TEST_DAY.replace(day=1) + dt.timedelta(days=32)).strftime("%Y-%m")
    for month in (next_month, "2199-12", "2200-01", "9999-12", "1899-12"):
        refused = await client.post(
            f"{API}/subsidy-accounts/grants", headers=client.as_(YINZHOU), json={"month": month}
        )
        assert refused.status_code == 422, (month, refused.text)
        assert [e["field"] for e in refused.json()["errors"]] == ["month"], month
    assert await balance_of(client, account.json()) == 0

    first_of_next = dt.datetime.combine(dt.date.fromisoformat(f"{next_month}-01"), dt.time(0), clock.SHANGHAI)
    last_evening_utc = first_of_next.astimezone(dt.UTC).replace(hour=23, minute=30)  # 16:00 UTC the day before
    clock.advance(last_evening_utc - clock.now())  # 23:30 UTC the day before: 07:30 on the 1st in Shanghai
    granted = await client.post(
        f"{API}/subsidy-accounts/grants", headers=client.as_(YINZHOU), json={"month": next_month}
    )
    assert granted.status_code == 200, granted.text
    assert granted.json()["accounts_credited"] == 1
    assert await balance_of(client, account.json()) == 10000


async def test_a_month_before_the_account_was_opened_is_not_granted(client):
    """Any earlier month could be granted to every account of the area: an account opened this month was credited
    last month's allowance, and every month back to the rate's start (2022) one by one. A month is granted to the
    accounts open in it; the one opened on the 15th gets this month's, not the month before."""
    elder_id, _ = await add_elder(client)
    await add_allowance(client, amount=10000)
    account = await client.post(
        f"{API}/subsidy-accounts", headers=client.as_(YINZHOU), json={"elder_id": elder_id, "level": 3}
    )
    assert account.status_code == 201, account.text
    before = (TEST_DAY.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    for month in (before, "2022-01"):
        late = await client.post(f"{API}/subsidy-accounts/grants", headers=client.as_(YINZHOU), json={"month": month})
        assert late.status_code == 200 and late.json()["accounts_credited"] == 0, (month, late.text)
    assert await balance_of(client, account.json()) == 0
    current = await client.post(
        f"{API}/subsidy-accounts/grants", headers=client.as_(YINZHOU), json={"month": TEST_DAY.strftime("%Y-%m")}
    )
    assert current.json()["accounts_credited"] == 1
    assert await balance_of(client, account.json()) == 10000


async def test_accounts_only_for_the_eligible_and_once(client):
    elder_id, _ = await add_elder(client)
    no_rate = await client.post(
        f"{API}/subsidy-accounts", headers=client.as_(YINZHOU), json={"elder_id": elder_id, "level": 3}
    )
    assert no_rate.status_code == 400 and "not eligible" in no_rate.json()["detail"]
    no_level = await client.post(f"{API}/subsidy-accounts", headers=client.as_(YINZHOU), json={"elder_id": elder_id})
    assert no_level.status_code == 400
    await add_allowance(client)
    first = await client.post(
        f"{API}/subsidy-accounts", headers=client.as_(YINZHOU), json={"elder_id": elder_id, "level": 3}
    )
    assert first.status_code == 201
    second = await client.post(
        f"{API}/subsidy-accounts", headers=client.as_(YINZHOU), json={"elder_id": elder_id, "level": 3}
    )
    assert second.status_code == 409 and second.json()["resource"] == f"subsidy-accounts/{first.json()['id']}"
    assert (
        await client.get(f"{API}/subsidy-accounts/{first.json()['id']}", headers=client.as_(HAISHU))
    ).status_code == 404


async def test_the_database_itself_refuses_a_double_booking(client):
    """Past the service's own check (as a race would be): the exclusion constraint (PostgreSQL) or the trigger
    (SQLite) refuses an overlapping visit of the same caregiver, and accepts one that only touches."""
    item = await add_service(client)
    caregiver = await add_caregiver(client)
    elder_id, _ = await add_elder(client)
    await scheduled_visit(client, elder_id, item["id"], caregiver["id"])
    row = dict(
        elder_id=elder_id,
        service_id=item["id"],
        caregiver_id=caregiver["id"],
        price_fen=1,
        status="scheduled",
        flags=[],
        ordered_by="test",
        created_at=utcnow(),
    )
    async with client.app.state.database.sessionmaker() as session:
        with pytest.raises(IntegrityError):
            async with session.begin():
                await session.execute(
                    insert(Visit).values(
                        **row,
                        starts_at=TOMORROW_9 + dt.timedelta(minutes=59),
                        ends_at=TOMORROW_9 + dt.timedelta(hours=2),
                    )
                )
    async with client.app.state.database.sessionmaker() as session, session.begin():
        await session.execute(
            insert(Visit).values(
                **row, starts_at=TOMORROW_9 + dt.timedelta(hours=1), ends_at=TOMORROW_9 + dt.timedelta(hours=2)
            )
        )


# ---- electronic visit verification (EVV): what a visit must show before it draws the subsidy --------------


async def reviewable(client, minutes=60) -> tuple[dict, dict, int]:
    """A person with 100 yuan of subsidy, a 60-yuan visit the clock has passed, and the service's id."""
    item = await add_service(client, price=6000, minutes=minutes)
    caregiver = await add_caregiver(client)
    elder_id, _ = await add_elder(client)
    account = await funded_account(client, elder_id, amount=10000)
    visit = await move_back(client, await scheduled_visit(client, elder_id, item["id"], caregiver["id"]))
    return account, visit, item["id"]


async def balance_of(client, account) -> int:
    return (await client.get(f"{API}/subsidy-accounts/{account['id']}", headers=client.as_(YINZHOU))).json()[
        "balance_fen"
    ]


async def test_a_check_in_hours_before_the_start_goes_to_review_and_draws_nothing(client):
    account, visit, _ = await reviewable(client)
    out = await attend(client, visit, arrive=-dt.timedelta(hours=3))
    assert (out["status"], out["flags"], out["subsidy_fen"]) == ("flagged", ["check_in_early"], 0)
    assert await balance_of(client, account) == 10000


async def test_a_check_in_long_after_the_start_goes_to_review_and_draws_nothing(client):
    account, visit, _ = await reviewable(client)
    out = await attend(client, visit, arrive=dt.timedelta(minutes=45), stay=dt.timedelta(minutes=60))
    assert (out["status"], out["flags"], out["subsidy_fen"]) == ("flagged", ["check_in_late"], 0)
    assert await balance_of(client, account) == 10000


async def test_the_check_in_window_is_a_setting(client):
    account, visit, _ = await reviewable(client)
    client.app.state.settings.visit_check_in_early_minutes = 10  # this test's own app
    out = await attend(client, visit, arrive=-dt.timedelta(minutes=20))  # within the default 30 minutes
    assert (out["status"], out["flags"]) == ("flagged", ["check_in_early"])
    assert await balance_of(client, account) == 10000


async def test_a_visit_much_shorter_than_booked_goes_to_review_and_draws_nothing(client):
    account, visit, _ = await reviewable(client)
    out = await attend(client, visit, stay=dt.timedelta(seconds=50))
    assert (out["status"], out["flags"], out["subsidy_fen"]) == ("flagged", ["too_short"], 0)
    assert await balance_of(client, account) == 10000


async def test_a_check_out_outside_the_geofence_goes_to_review_and_draws_nothing(client):
    account, visit, _ = await reviewable(client)
    out = await attend(client, visit, lat=HOME[0] + 0.005, accuracy=20)  # ~556 m from home: beyond 200 m + 20 m
    assert (out["status"], out["flags"], out["subsidy_fen"]) == (
        "flagged",
        ["check_in_far_from_home", "check_out_far_from_home"],
        0,
    )
    assert await balance_of(client, account) == 10000


async def test_a_visit_within_every_rule_is_verified_and_draws(client):
    """At the edges: checked in 30 minutes early, 150 m from home, for half the booked hour."""
    account, visit, _ = await reviewable(client)
    out = await attend(
        client,
        visit,
        arrive=-dt.timedelta(minutes=30),
        stay=dt.timedelta(minutes=30),
        lat=HOME[0] + 0.00135,
        accuracy=0,
    )
    assert (out["status"], out["flags"], out["subsidy_fen"], out["self_paid_fen"]) == ("verified", [], 6000, 0)
    assert await balance_of(client, account) == 4000


async def test_staff_confirming_a_reviewed_visit_draws_once(client):
    account, visit, _ = await reviewable(client)
    assert (await attend(client, visit, stay=dt.timedelta(seconds=50)))["status"] == "flagged"
    for _ in range(2):  # a repeated confirmation draws nothing more
        confirmed = await client.post(
            f"{API}/visits/{visit['id']}/corrections",
            headers=client.as_(YINZHOU),
            json={"reason": "回访老人确认服务已完成，签退延误", "status": "verified"},
        )
        assert confirmed.status_code == 201, confirmed.text
        current = (await client.get(f"{API}/visits/{visit['id']}", headers=client.as_(YINZHOU))).json()
        assert (current["status"], current["flags"], current["subsidy_fen"]) == ("verified", [], 6000)
        assert await balance_of(client, account) == 4000
    ledger = (await client.get(f"{API}/subsidy-accounts/{account['id']}/entries", headers=client.as_(YINZHOU))).json()[
        "items"
    ]
    assert [(e["kind"], e["amount_fen"]) for e in ledger] == [("draw", -6000), ("allowance", 10000)]


async def test_a_verified_visit_corrected_to_flagged_gives_its_draw_back(client):
    """A verified visit corrected to flagged kept its draw (one per visit, never reversed): the person paid from the
    subsidy for a visit under review. The draw is now given back by a reversal entry (the ledger only grows); a
    repeated correction gives nothing more, and confirmed again the visit draws again, once."""
    account, visit, _ = await reviewable(client)
    assert (await attend(client, visit))["subsidy_fen"] == 6000
    assert await balance_of(client, account) == 4000

    async def correct_to(status):
        corrected = await client.post(
            f"{API}/visits/{visit['id']}/corrections",
            headers=client.as_(YINZHOU),
            json={"reason": "回访核实服务情况", "status": status},
        )
        assert corrected.status_code == 201, corrected.text
        return (await client.get(f"{API}/visits/{visit['id']}", headers=client.as_(YINZHOU))).json()

    for _ in range(2):
        current = await correct_to("flagged")
        assert (current["status"], current["subsidy_fen"], current["self_paid_fen"]) == ("flagged", 0, 0)
        assert await balance_of(client, account) == 10000
    for _ in range(2):
        current = await correct_to("verified")
        assert (current["status"], current["subsidy_fen"]) == ("verified", 6000)
        assert await balance_of(client, account) == 4000
    ledger = (await client.get(f"{API}/subsidy-accounts/{account['id']}/entries", headers=client.as_(YINZHOU))).json()[
        "items"
    ]
    assert [(e["kind"], e["amount_fen"], e["visit_id"]) for e in ledger] == [
        ("draw", -6000, visit["id"]),
        ("reversal", 6000, visit["id"]),
        ("draw", -6000, visit["id"]),
        ("allowance", 10000, None),
    ]
    assert [e["balance_after_fen"] for e in ledger] == [4000, 10000, 4000, 10000]


async def test_the_subsidy_ledger_holds_one_live_draw_per_visit_and_keeps_every_entry(client):
    """The database itself refuses a second draw of a visit, a reversal of nothing, and any change to an entry."""
    account, visit, _ = await reviewable(client)
    assert (await attend(client, visit))["subsidy_fen"] == 6000
    common = dict(account_id=account["id"], visit_id=visit["id"], created_by="test", created_at=utcnow())
    draw = dict(common, kind="draw", amount_fen=-1, balance_after_fen=0)
    reversal = dict(common, kind="reversal", amount_fen=1, balance_after_fen=0)
    refused = [
        dict(draw, visit_seq=1),  # a second first draw
        dict(draw, visit_seq=3, prev_seq=2),  # after a reversal that is not there
        dict(reversal, visit_seq=3, prev_seq=2),  # a reversal numbered as a draw
        dict(draw, visit_seq=2, prev_seq=1),  # a draw numbered as a reversal
        dict(reversal, visit_seq=2),  # a reversal naming no draw
        dict(reversal, visit_seq=2, prev_seq=1, amount_fen=-1),  # a reversal taking money
        draw,  # a draw not numbered
    ]
    statements = [
        *(insert(SubsidyEntry).values(**row) for row in refused),
        update(SubsidyEntry).where(SubsidyEntry.visit_id == visit["id"]).values(amount_fen=0),
        delete(SubsidyEntry).where(SubsidyEntry.visit_id == visit["id"]),
    ]
    for statement in statements:
        async with client.app.state.database.sessionmaker() as session:
            with pytest.raises(IntegrityError):
                async with session.begin():
                    await session.execute(statement)
    async with client.app.state.database.sessionmaker() as session, session.begin():  # what the rules allow
        await session.execute(insert(SubsidyEntry).values(**dict(reversal, visit_seq=2, prev_seq=1)))
        await session.execute(insert(SubsidyEntry).values(**dict(draw, visit_seq=3, prev_seq=2)))


async def test_a_draw_of_the_previous_release_is_numbered_as_its_visits_first(client):
    """The release before the numbering writes a draw without visit_seq. During a rolling upgrade on PostgreSQL it runs
    beside this one: its draw is taken as the visit's first (numbered 1 by a trigger), and a second one refused by the
    unique key, as before. SQLite runs one release at a time: there the CHECK refuses it."""
    account, visit, _ = await reviewable(client)
    checked_in = await client.post(
        f"{API}/visits/{visit['id']}/check-in", headers=client.as_(YINZHOU), json=position(at=start_of(visit))
    )
    assert checked_in.status_code == 200, checked_in.text
    row = dict(
        account_id=account["id"],
        kind="draw",
        amount_fen=-100,
        balance_after_fen=9900,
        visit_id=visit["id"],
        created_by="the previous release",
        created_at=utcnow(),
    )
    database = client.app.state.database
    if database.dialect != "postgresql":
        async with database.sessionmaker() as session:
            with pytest.raises(IntegrityError):
                async with session.begin():
                    await session.execute(insert(SubsidyEntry).values(**row))
        return
    async with database.sessionmaker() as session, session.begin():
        await session.execute(insert(SubsidyEntry).values(**row))
    async with database.sessionmaker() as session:
        with pytest.raises(IntegrityError):
            async with session.begin():
                await session.execute(insert(SubsidyEntry).values(**row))
        numbered = await session.scalars(select(SubsidyEntry.visit_seq).where(SubsidyEntry.visit_id == visit["id"]))
        assert list(numbered) == [1]
    # This release sees it as the visit's live draw: a correction to flagged gives it back.
    corrected = await client.post(
        f"{API}/visits/{visit['id']}/corrections",
        headers=client.as_(YINZHOU),
        json={"reason": "回访核实服务情况", "status": "flagged"},
    )
    assert corrected.status_code == 201, corrected.text
    ledger = (await client.get(f"{API}/subsidy-accounts/{account['id']}/entries", headers=client.as_(YINZHOU))).json()[
        "items"
    ]
    assert [(e["kind"], e["amount_fen"]) for e in ledger[:2]] == [("reversal", 100), ("draw", -100)]


async def test_a_subsidy_accounts_tier_and_level_are_held_by_the_database(client):
    """The tier and level pick the monthly allowance; the API bounded them, the table took any (level 7, tier 'vip')."""
    elder_id, _ = await add_elder(client)
    row = dict(
        elder_id=elder_id,
        tier="age_60_79",
        level=3,
        balance_fen=0,
        tier_basis="live",
        opened_by="test",
        opened_at=utcnow(),
    )
    for bad in ({"level": 7}, {"level": -1}, {"tier": "vip"}, {"tier_basis": "guess"}):
        async with client.app.state.database.sessionmaker() as session:
            with pytest.raises(IntegrityError):
                async with session.begin():
                    await session.execute(insert(SubsidyAccount).values(**(row | bad)))
    async with client.app.state.database.sessionmaker() as session, session.begin():
        await session.execute(insert(SubsidyAccount).values(**row))


async def test_a_visit_is_booked_at_most_a_year_ahead(client):
    """A visit for 23:00 on 31 December 2199 was booked (ending in 2200, past any date the suite keeps): it held the
    caregiver's hour and a place in the resident's open-visit quota for good. Visits are booked at most
    visit_booking_horizon_days (366, an assumption) ahead: a 422 naming starts_at, nothing written."""
    item = await add_service(client)
    elder_id, _ = await add_elder(client)
    for starts_at in (
        dt.datetime(2199, 12, 31, 23, 0, tzinfo=clock.SHANGHAI),
        TOMORROW_9 + dt.timedelta(days=366),
    ):
        refused = await order_visit(client, elder_id, item["id"], starts_at)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["starts_at"]
    listed = await client.get(f"{API}/visits", params={"elder_id": elder_id}, headers=client.as_(YINZHOU))
    assert listed.json()["items"] == []
    booked = await order_visit(client, elder_id, item["id"], TOMORROW_9 + dt.timedelta(days=300))
    assert booked.status_code == 201, booked.text


async def test_a_correction_does_not_date_a_check_in_or_out_in_the_future(client):
    """A check-out corrected to 2190 was taken: the record, which locks 30 days after its check-out, would never lock.
    A correction's times are held to what the phone's are: not a time to come (a 422 naming the field, nothing
    changed, no correction kept)."""
    _, visit, _ = await reviewable(client)
    out = await attend(client, visit, stay=dt.timedelta(seconds=50))
    for field in ("check_out_at", "check_in_at"):
        refused = await client.post(
            f"{API}/visits/{visit['id']}/corrections",
            headers=client.as_(YINZHOU),
            json={"reason": "签退时间有误，更正", field: "2190-01-01T09:00:00+08:00"},
        )
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == [field]
    current = (await client.get(f"{API}/visits/{visit['id']}", headers=client.as_(YINZHOU))).json()
    assert (current["check_in_at"], current["check_out_at"]) == (out["check_in_at"], out["check_out_at"])
    history = await client.get(f"{API}/visits/{visit['id']}/corrections", headers=client.as_(YINZHOU))
    assert history.json() == []
    fixed = await client.post(
        f"{API}/visits/{visit['id']}/corrections",
        headers=client.as_(YINZHOU),
        json={"reason": "签退时间有误，更正", "check_out_at": (end_of(visit)).isoformat()},
    )
    assert fixed.status_code == 201, fixed.text


async def test_a_visit_past_its_thirty_day_lock_is_not_checked_in_or_out(client):
    account, visit, service_id = await reviewable(client)
    stale = await move_back(client, visit, dt.timedelta(days=31))  # scheduled 33 days ago, never attended
    refused = await client.post(
        f"{API}/visits/{stale['id']}/check-in", headers=client.as_(YINZHOU), json=position(at=start_of(stale))
    )
    assert refused.status_code == 409 and refused.json()["resource"] == f"visits/{stale['id']}"
    assert f"visit {stale['id']} locked on" in refused.json()["detail"]
    current = (await client.get(f"{API}/visits/{stale['id']}", headers=client.as_(YINZHOU))).json()
    assert (current["status"], current["locked"]) == ("scheduled", True)

    # One checked in on time and left open until 31 days after its scheduled end: its check-out is refused too.
    elder_id = visit["elder_id"]
    caregiver_id = visit["caregiver_id"]
    open_visit = await move_back(
        client, await scheduled_visit(client, elder_id, service_id, caregiver_id, TOMORROW_9 + dt.timedelta(hours=2))
    )
    checked_in = await client.post(
        f"{API}/visits/{open_visit['id']}/check-in", headers=client.as_(YINZHOU), json=position(at=start_of(open_visit))
    )
    assert checked_in.status_code == 200
    open_visit = await move_back(client, open_visit, dt.timedelta(days=31))
    late = await client.post(f"{API}/visits/{open_visit['id']}/check-out", headers=client.as_(YINZHOU), json=position())
    assert late.status_code == 409 and late.json()["resource"] == f"visits/{open_visit['id']}"
    assert f"visit {open_visit['id']} locked on" in late.json()["detail"]
    assert await balance_of(client, account) == 10000


async def test_visits_page_newest_first_through_visits_that_start_together(client):
    """Paged on the start, then the id: visits that start at one time are neither skipped nor repeated."""
    item = await add_service(client)
    booked = []
    for serial, starts_at in enumerate((TOMORROW_9, TOMORROW_9, TOMORROW_9 - dt.timedelta(hours=2), TOMORROW_9)):
        elder_id, _ = await add_elder(client, serial=f"{serial + 21:03d}")
        response = await order_visit(client, elder_id, item["id"], starts_at)
        assert response.status_code == 201, response.text
        booked.append(response.json())
    seen, cursor = [], None
    while True:
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"{API}/visits", params=params, headers=client.as_(YINZHOU))).json()
        seen += [v["id"] for v in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [v["id"] for v in sorted(booked, key=lambda v: (start_of(v), v["id"]), reverse=True)]


def test_a_locked_visit_names_the_day_it_locked_in_shanghai():
    # Scheduled to end at 01:00 on 2 December 2025 in Shanghai (17:00 on the 1st in UTC), never checked out: it
    # locked at 01:00 on 1 January 2026, a date UTC would give as 31 December.
    visit = Visit(id=7, check_out_at=None, ends_at=dt.datetime(2025, 12, 1, 17, 0, tzinfo=dt.UTC))
    with pytest.raises(Conflict) as refused:
        _refuse_if_locked(visit)
    assert refused.value.params["locked_on"] == "2026-01-01"
