"""An application's steps and decision, and a periodic review falling due, reach the staff member who accepted it
as in-app messages (GET /messages); with the gateway away the in-app messages are there all the same, and the
worker's job waits to add the SMS and WeChat channels later."""

import datetime as dt

import pytest
from sqlalchemy import update

from services.assistance.applications.models import Application
from services.assistance.jobs import tasks
from shared import clock
from tests.assistance.test_applications import (
    API,
    COMMUNITY,
    DISTRICT,
    START,
    act,
    dibao_household,
    load_policies,
    through_notice,
)
from tests.jobs import run_jobs
from tests.shared.loopback import free_port


@pytest.fixture
def today(monkeypatch):
    """The civil date the service sees (as in test_applications.py), moved by the test."""
    current = {"day": START}
    monkeypatch.setattr(clock, "today", lambda: current["day"])
    return current


async def messages(client, principal) -> list[dict]:
    listed = await client.get(f"{API}/messages", headers=client.as_(principal))
    assert listed.status_code == 200, listed.text
    return listed.json()["items"]


async def test_the_accepting_worker_hears_of_each_step_the_decision_and_the_review(
    client, today, moved_clock, monkeypatch
):
    monkeypatch.setenv("ASSISTANCE_GATEWAY_URL", f"http://127.0.0.1:{free_port()}")  # the gateway is away
    from services.assistance.notices import outbox

    await outbox.close_channels()
    await load_policies(client)
    household = await dibao_household(client)
    app = await act(client, COMMUNITY, "/applications", {"household_id": household["id"], "programme": "dibao"}, 201)
    await through_notice(client, app["id"])
    today["day"] = dt.date(2024, 7, 22)
    await act(client, DISTRICT, f"/applications/{app['id']}/decision", {"approve": False, "reasons": "家庭存款超标"})

    ran = await run_jobs(client.app, tasks)
    # Each fan-out wrote its in-app message, then could not reach the gateway for the other channels: retried later.
    assert ("notifications.fan_out", "queued") in ran
    inbox = await messages(client, COMMUNITY)
    assert [m["kind"] for m in inbox] == [
        "application.decided",
        "application.step",
        "application.step",
        "application.step",
    ]
    decided = inbox[0]
    assert decided["title"] == "救助申请结果" and "不予批准" in decided["body"] and "家庭存款超标" in decided["body"]
    assert decided["resource"] == f"applications/{app['id']}"
    assert await messages(client, DISTRICT) == []  # the decider did not accept it: nothing for them
    await outbox.close_channels()


async def test_a_review_falling_due_is_told_once(client, today, moved_clock, monkeypatch):
    monkeypatch.setenv("ASSISTANCE_GATEWAY_URL", f"http://127.0.0.1:{free_port()}")
    from services.assistance.notices import outbox

    await outbox.close_channels()
    await load_policies(client)
    household = await dibao_household(client, wages_fen=50_000)
    app = await act(client, COMMUNITY, "/applications", {"household_id": household["id"], "programme": "dibao"}, 201)
    await through_notice(client, app["id"])
    today["day"] = dt.date(2024, 7, 22)
    await act(client, DISTRICT, f"/applications/{app['id']}/decision", {"approve": True, "reasons": "符合条件"})
    tomorrow = clock.now().astimezone(clock.SHANGHAI).date() + dt.timedelta(days=1)
    async with client.app.state.database.sessionmaker() as session, session.begin():
        await session.execute(update(Application).where(Application.id == app["id"]).values(review_due_on=tomorrow))
    moved_clock(dt.datetime.combine(tomorrow, dt.time(6, 1), tzinfo=clock.SHANGHAI) - clock.now())
    await run_jobs(client.app, tasks)
    moved_clock(dt.timedelta(days=1))  # the next morning: still due, already told
    await run_jobs(client.app, tasks)
    reviews = [m for m in await messages(client, COMMUNITY) if m["kind"] == "review.due"]
    assert len(reviews) == 1 and tomorrow.isoformat() in reviews[0]["body"]
    await outbox.close_channels()


async def test_a_resident_who_applied_from_the_phone_hears_of_a_request_for_materials_and_of_the_result(
    client, today, monkeypatch
):
    from services.assistance.notices import outbox
    from tests.assistance.test_applications import STREET
    from tests.assistance.test_online_applications import MOTHER, apply, declare

    monkeypatch.setenv("ASSISTANCE_GATEWAY_URL", f"http://127.0.0.1:{free_port()}")
    await outbox.close_channels()
    application = await apply(client, (await declare(client))["id"])
    path = f"/applications/{application['id']}/material-requests"
    await act(client, COMMUNITY, path, {"note": "请补充户口簿首页照片"}, expect=201)
    await run_jobs(client.app, tasks)
    (asked,) = await messages(client, MOTHER)
    assert asked["kind"] == "application.materials_requested" and "请补充户口簿首页照片" in asked["body"]
    await act(
        client,
        COMMUNITY,
        f"/applications/{application['id']}/investigation",
        {"visited_on": "2024-07-15", "findings": "内部记录"},
    )
    await act(
        client,
        STREET,
        f"/applications/{application['id']}/preliminary-review",
        {"passed": False, "reasons": "家庭存款超过规定标准"},
    )
    await run_jobs(client.app, tasks)
    kinds = [(m["kind"], m["title"]) for m in await messages(client, MOTHER)]
    assert kinds[:2] == [("application.decided", "救助申请结果"), ("application.step", "救助申请进度")]
    assert "家庭存款超过规定标准" in (await messages(client, MOTHER))[0]["body"]
    await outbox.close_channels()
