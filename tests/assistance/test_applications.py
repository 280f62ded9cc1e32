"""The review chain 受理 → 入户调查 → 初审 → 公示 → 审核确认: levels, order, audit, grant and periodic review."""

import datetime as dt

import pytest
from sqlalchemy import select, update

from services.assistance import seed
from services.assistance.applications.models import Application, ReviewReminder
from services.assistance.jobs import tasks
from shared import clock
from tests.assistance.helpers import household, member
from tests.assistance.test_assessment import income
from tests.assistance.test_households import create
from tests.conftest import staff
from tests.jobs import run_jobs

API = "/api/assistance/v1"
SCOPES = (
    "assistance.applications:read",
    "assistance.applications:write",
    "assistance.households:read",
    "assistance.households:write",
    "assistance.status:read",
)
COMMUNITY = staff("330212001005", *SCOPES, subject="staff:community")
STREET = staff("330212001", *SCOPES, subject="staff:street")
DISTRICT = staff("330212", *SCOPES, subject="staff:district")
OTHER_DISTRICT = staff("330203", *SCOPES, subject="staff:haishu")
JOBS = staff("330200", "assistance.jobs:read", subject="staff:city-jobs")
START = dt.date(2024, 7, 15)


@pytest.fixture
def today(monkeypatch):
    """The civil date the service sees; tests move it forward to let a public notice run its course."""
    current = {"day": START}
    monkeypatch.setattr(clock, "today", lambda: current["day"])
    return current


async def load_policies(client):
    async with client.app.state.database.sessionmaker() as session:
        await seed.load_policies(session)
        await session.commit()


async def act(client, principal, path, body=None, expect=200):
    response = await client.post(f"{API}{path}", json=body or {}, headers=client.as_(principal))
    assert response.status_code == expect, response.text
    return response.json()


async def dibao_household(client, wages_fen=100_000):
    """A parent earning `wages_fen` a month and a child; the raw ID numbers are kept for status lookups."""
    body = household(member(age=45), member("child", age=10))
    h = await create(client, body, COMMUNITY)
    h["id_numbers"] = [m["id_number"] for m in body["members"]]
    source = {"kind": "department", "name": "市人力社保局", "obtained_on": "2024-07-01"}
    await act(
        client,
        COMMUNITY,
        f"/households/{h['id']}/incomes",
        income(h["members"][0]["id"], amount_fen=wages_fen * 6, source=source),
        expect=201,
    )
    return h


async def through_notice(client, application_id):
    await act(
        client,
        COMMUNITY,
        f"/applications/{application_id}/investigation",
        {"visited_on": "2024-07-15", "findings": "两人同住，申请人打零工"},
    )
    await act(
        client,
        STREET,
        f"/applications/{application_id}/preliminary-review",
        {"passed": True, "reasons": "收入低于低保标准"},
    )
    return await act(client, STREET, f"/applications/{application_id}/public-notice", {})


async def test_the_whole_chain_approves_with_grant_enrolment_audit_and_review(client, today):
    await load_policies(client)
    h = await dibao_household(client)
    app = await act(client, COMMUNITY, "/applications", {"household_id": h["id"], "programme": "dibao"}, 201)
    assert app["state"] == "accepted"
    noticed = await through_notice(client, app["id"])
    assert (noticed["state"], noticed["notice_ends_on"]) == ("publicised", "2024-07-22")
    await act(client, COMMUNITY, f"/applications/{app['id']}/objections", {"text": "邻居称其有经营收入"})
    too_soon = await client.post(
        f"{API}/applications/{app['id']}/decision",
        json={"approve": True, "reasons": "符合条件"},
        headers=client.as_(DISTRICT),
    )
    assert too_soon.status_code == 409 and "2024-07-22" in too_soon.json()["detail"]
    today["day"] = dt.date(2024, 7, 22)
    late = await client.post(
        f"{API}/applications/{app['id']}/objections", json={"text": "太晚"}, headers=client.as_(COMMUNITY)
    )
    assert late.status_code == 409
    approved = await act(
        client,
        DISTRICT,
        f"/applications/{app['id']}/decision",
        {"approve": True, "reasons": "经核实异议不成立，符合条件"},
    )
    # Wages 1,000 (no employment cost deduction by default) for two people: (1,100 − 500) × 2 = 1,200 yuan a month.
    assert approved["state"] == "approved" and approved["monthly_grant_fen"] == 120_000
    # A working-age member who can work: reviewed every 6 months.
    assert (approved["review_interval_months"], approved["review_due_on"]) == (6, "2025-01-22")
    assert approved["evaluation"]["programmes"][0]["eligible"] is True
    steps = [(e["step"], e["actor"]) for e in approved["events"]]
    assert steps == [
        ("accept", "staff:community"),
        ("investigate", "staff:community"),
        ("preliminary_review", "staff:street"),
        ("public_notice", "staff:street"),
        ("objection", "staff:community"),
        ("decide", "staff:district"),
    ]
    assert approved["events"][-1]["detail"]["objections"] == 1
    # Both counted members are now 低保 for other services.
    for number in h["id_numbers"]:
        lookup = await client.post(f"{API}/status-lookups", json={"id_number": number}, headers=client.as_(DISTRICT))
        assert lookup.json()["programmes"] == [{"code": "dibao", "since": "2024-07-22"}]
    due = await client.get(f"{API}/reviews-due", params={"due_by": "2025-01-31"}, headers=client.as_(STREET))
    assert [(r["application_id"], r["overdue"]) for r in due.json()["items"]] == [(app["id"], False)]
    assert (await client.get(f"{API}/reviews-due", headers=client.as_(STREET))).json()["items"] == []
    today["day"] = dt.date(2025, 2, 1)
    overdue = await client.get(f"{API}/reviews-due", headers=client.as_(DISTRICT))
    assert overdue.json()["items"][0]["overdue"] is True
    assert (await client.get(f"{API}/reviews-due", headers=client.as_(OTHER_DISTRICT))).json()["items"] == []
    # Nothing moves an approved application again.
    again = await client.post(
        f"{API}/applications/{app['id']}/investigation",
        json={"visited_on": "2024-07-15", "findings": "再次走访"},
        headers=client.as_(COMMUNITY),
    )
    assert again.status_code == 409 and again.json()["resource"] == f"applications/{app['id']}"


async def test_steps_need_the_right_level_and_order(client, today):
    await load_policies(client)
    h = await dibao_household(client)
    assert (
        await client.post(
            f"{API}/applications", json={"household_id": h["id"], "programme": "dibao"}, headers=client.as_(DISTRICT)
        )
    ).status_code == 403
    app = await act(client, STREET, "/applications", {"household_id": h["id"], "programme": "dibao"}, 201)
    path = f"/applications/{app['id']}"
    # Out of order: a preliminary review, a notice or a decision before the home visit.
    for principal, step, body in (
        (STREET, "preliminary-review", {"passed": True, "reasons": "好的"}),
        (STREET, "public-notice", {}),
        (DISTRICT, "decision", {"approve": True, "reasons": "好的"}),
    ):
        response = await client.post(f"{API}{path}/{step}", json=body, headers=client.as_(principal))
        assert response.status_code == 409, (step, response.text)
        assert "accepted" in response.json()["detail"]
    # The wrong level: a community worker cannot do the street's 初审, nor a street the district's decision.
    await act(client, COMMUNITY, f"{path}/investigation", {"visited_on": "2024-07-14", "findings": "已走访"})
    wrong = await client.post(
        f"{API}{path}/preliminary-review", json={"passed": True, "reasons": "好的"}, headers=client.as_(COMMUNITY)
    )
    assert wrong.status_code == 403 and "street" in wrong.json()["detail"]
    # Another district's staff do not see the application at all.
    assert (
        await client.post(
            f"{API}{path}/preliminary-review",
            json={"passed": True, "reasons": "好的"},
            headers=client.as_(staff("330203001", *SCOPES)),
        )
    ).status_code == 404
    assert (await client.get(f"{API}{path}", headers=client.as_(OTHER_DISTRICT))).status_code == 404
    # A second open application for the same programme names the first.
    dup = await client.post(
        f"{API}/applications", json={"household_id": h["id"], "programme": "dibao"}, headers=client.as_(COMMUNITY)
    )
    assert dup.status_code == 409 and dup.json()["resource"] == f"applications/{app['id']}"
    rejected = await act(client, STREET, f"{path}/preliminary-review", {"passed": False, "reasons": "隐瞒收入"})
    assert rejected["state"] == "rejected" and rejected["reasons"] == "隐瞒收入"
    # Once rejected, a new application may be made.
    await act(client, COMMUNITY, "/applications", {"household_id": h["id"], "programme": "dibao"}, 201)
    listed = await client.get(f"{API}/applications", params={"state": "rejected"}, headers=client.as_(DISTRICT))
    assert [a["id"] for a in listed.json()["items"]] == [app["id"]]


async def test_approval_is_refused_when_the_rules_say_no_and_rejection_needs_reasons(client, today):
    await load_policies(client)
    h = await dibao_household(client, wages_fen=400_000)  # 4,000 for two: well above the standard
    app = await act(client, COMMUNITY, "/applications", {"household_id": h["id"], "programme": "dibao"}, 201)
    await through_notice(client, app["id"])
    today["day"] = dt.date(2024, 7, 23)
    refused = await client.post(
        f"{API}/applications/{app['id']}/decision",
        json={"approve": True, "reasons": "同意"},
        headers=client.as_(DISTRICT),
    )
    assert refused.status_code == 409 and "per_capita_income_below_standard" in refused.json()["detail"]
    no_reason = await client.post(
        f"{API}/applications/{app['id']}/decision", json={"approve": False}, headers=client.as_(DISTRICT)
    )
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reasons"
    rejected = await act(
        client, DISTRICT, f"/applications/{app['id']}/decision", {"approve": False, "reasons": "人均收入高于低保标准"}
    )
    assert rejected["state"] == "rejected" and rejected["monthly_grant_fen"] is None
    lookup = await client.post(
        f"{API}/status-lookups", json={"id_number": h["id_numbers"][0]}, headers=client.as_(DISTRICT)
    )
    assert lookup.json()["programmes"] == []


async def test_tekun_for_one_person_reviewed_yearly(client, today):
    await load_policies(client)
    body = household(member(age=75, labour_capacity="none"))
    h = await create(client, body, COMMUNITY)
    elder = h["members"][0]["id"]
    missing = await client.post(
        f"{API}/applications", json={"household_id": h["id"], "programme": "tekun"}, headers=client.as_(COMMUNITY)
    )
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "member_id"
    app = await act(
        client, COMMUNITY, "/applications", {"household_id": h["id"], "programme": "tekun", "member_id": elder}, 201
    )
    await through_notice(client, app["id"])
    today["day"] = dt.date(2024, 8, 1)
    approved = await act(
        client,
        DISTRICT,
        f"/applications/{app['id']}/decision",
        {"approve": True, "reasons": "无劳动能力、无收入、无赡养人"},
    )
    assert approved["monthly_grant_fen"] == 187_000
    assert (approved["review_interval_months"], approved["review_due_on"]) == (12, "2025-08-01")
    lookup = await client.post(
        f"{API}/status-lookups", json={"id_number": body["members"][0]["id_number"]}, headers=client.as_(COMMUNITY)
    )
    assert lookup.json()["programmes"] == [{"code": "tekun", "since": "2024-08-01"}]


async def test_a_notice_cannot_start_in_the_past_and_bad_bodies_name_the_field(client, today):
    await load_policies(client)
    h = await dibao_household(client)
    app = await act(client, COMMUNITY, "/applications", {"household_id": h["id"], "programme": "dibao"}, 201)
    future = await client.post(
        f"{API}/applications/{app['id']}/investigation",
        json={"visited_on": "2024-08-01", "findings": "走访"},
        headers=client.as_(COMMUNITY),
    )
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "visited_on"
    await act(
        client, COMMUNITY, f"/applications/{app['id']}/investigation", {"visited_on": "2024-07-15", "findings": "走访"}
    )
    await act(client, STREET, f"/applications/{app['id']}/preliminary-review", {"passed": True, "reasons": "通过"})
    past = await client.post(
        f"{API}/applications/{app['id']}/public-notice", json={"starts_on": "2024-07-01"}, headers=client.as_(STREET)
    )
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "starts_on"
    # Years ahead (2062 for 2026) held the application in 公示 for good: not decided, rejected nor noticed again
    # before it ended. Up to 30 days ahead is taken.
    for far in ("2062-07-15", (START + dt.timedelta(days=31)).isoformat()):
        ahead = await client.post(
            f"{API}/applications/{app['id']}/public-notice", json={"starts_on": far}, headers=client.as_(STREET)
        )
        assert ahead.status_code == 422 and ahead.json()["errors"][0]["field"] == "starts_on", ahead.text
    still = await client.get(f"{API}/applications/{app['id']}", headers=client.as_(STREET))
    assert still.json()["state"] == "reviewed"
    soon = await act(
        client,
        STREET,
        f"/applications/{app['id']}/public-notice",
        {"starts_on": (START + dt.timedelta(days=30)).isoformat()},
    )
    assert soon["state"] == "publicised"
    unknown = await client.post(
        f"{API}/applications", json={"household_id": h["id"], "programme": "lottery"}, headers=client.as_(COMMUNITY)
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "programme"


async def test_each_morning_the_reviews_falling_due_are_recorded_once(client, today, moved_clock):
    """The worker's daily `reviews.remind` (06:00, Asia/Shanghai) records each review that fell due, once."""
    await load_policies(client)
    app = await act(
        client,
        COMMUNITY,
        "/applications",
        {"household_id": (await dibao_household(client))["id"], "programme": "dibao"},
        201,
    )
    await through_notice(client, app["id"])
    today["day"] = dt.date(2024, 7, 22)
    await act(client, DISTRICT, f"/applications/{app['id']}/decision", {"approve": True, "reasons": "符合条件"})
    # Its review falls due tomorrow (the worker's clock is the real one; the decision above was back in 2024).
    tomorrow = clock.now().astimezone(clock.SHANGHAI).date() + dt.timedelta(days=1)
    async with client.app.state.database.sessionmaker() as session, session.begin():
        await session.execute(update(Application).where(Application.id == app["id"]).values(review_due_on=tomorrow))

    async def reminded() -> tuple[dict, list]:
        assert ("reviews.remind", "succeeded") in await run_jobs(client.app, tasks)
        jobs = (await client.get(f"{API}/jobs", params={"task": "reviews.remind"}, headers=client.as_(JOBS))).json()
        async with client.app.state.database.sessionmaker() as session:
            rows = list(await session.execute(select(ReviewReminder.application_id, ReviewReminder.due_on)))
        return jobs["items"][-1]["result"], [tuple(r) for r in rows]

    slot = tasks["reviews.remind"].schedule.slot(clock.now())  # this morning's 06:00, or yesterday's before it
    assert await reminded() == ({"due_by": slot.date().isoformat(), "reminded": 0}, [])
    moved_clock(dt.datetime.combine(tomorrow, dt.time(6, 1), tzinfo=clock.SHANGHAI) - clock.now())
    assert await reminded() == ({"due_by": tomorrow.isoformat(), "reminded": 1}, [(app["id"], tomorrow)])
    moved_clock(dt.timedelta(days=1))  # still due the next morning: already recorded
    assert await reminded() == (
        {"due_by": (tomorrow + dt.timedelta(days=1)).isoformat(), "reminded": 0},
        [(app["id"], tomorrow)],
    )
