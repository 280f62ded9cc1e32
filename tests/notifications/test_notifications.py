"""Notifications end to end through the gateway: an event writes its notice in its own transaction, the worker
fans it out and sends it (a fake Tencent SMS and a fake WeChat on loopback receive it), the person lists it in
the app; quiet hours hold back all but emergencies; a failed send is retried and nothing is sent twice; one
event to thousands of people costs its request one row."""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import func, select

from services.eldercare.database import NOTIFICATION_DELIVERIES, NOTIFICATIONS
from services.eldercare.elders.models import ElderCarer
from services.eldercare.jobs import tasks as eldercare_tasks
from services.eldercare.notices import outbox
from shared import clock
from shared.demo import DEMO_RESIDENT_PHONE
from tests.jobs import run_jobs
from tests.notifications.conftest import SMS_TEMPLATES, WECHAT_TEMPLATES

AUTH = "/api/auth/v1"
PREFERENCES = "/api/notifications/v1/preferences"
CALLS = "/api/eldercare/v1/emergency-calls"
MESSAGES = "/api/eldercare/v1/messages"
PHONE = f"+86{DEMO_RESIDENT_PHONE}"


async def resident_signs_in(suite, fake_sms) -> dict[str, str]:
    """The demo resident signs in from the mini-program with WeChat and her phone's SMS code (the code comes
    through the fake Tencent provider): one account, whose WeChat openid the gateway now knows."""
    assert (await suite.gateway.post(f"{AUTH}/code-requests", json={"phone": DEMO_RESIDENT_PHONE})).status_code == 202
    code = fake_sms.sent[-1]["params"][0]
    assert fake_sms.sent[-1]["template"] == SMS_TEMPLATES["sign_in_code"]
    signed_in = await suite.gateway.post(
        f"{AUTH}/wechat-sign-ins", json={"code": "mum-phone", "phone": DEMO_RESIDENT_PHONE, "sms_code": code}
    )
    assert signed_in.status_code == 200, signed_in.text
    return {"Authorization": f"Bearer {signed_in.json()['access_token']}"}


async def choose(suite, headers, **preferences):
    chosen = await suite.gateway.put(PREFERENCES, json=preferences, headers=headers)
    assert chosen.status_code == 200, chosen.text
    return chosen.json()


async def elder_of(suite, headers) -> int:
    listed = await suite.gateway.get("/api/eldercare/v1/elders", headers=headers)
    return next(e["id"] for e in listed.json()["items"] if e["area_code"].startswith("330212"))  # 陈根发, 鄞州


async def raise_call(suite, elder_id: int) -> int:
    raised = await suite.gateway.post(
        CALLS, json={"elder_id": elder_id, "kind": "fall"}, headers=suite.bearer("staff-yinzhou")
    )
    assert raised.status_code == 201, raised.text
    return raised.json()["id"]


def sms_of(fake_sms, kind: str) -> list[dict]:
    return [m for m in fake_sms.sent if m["template"] == SMS_TEMPLATES[kind]]


async def test_an_emergency_call_reaches_the_carer_by_sms_wechat_and_in_app_as_it_is_raised_answered_and_closed(
    suite, fake_sms, fake_wechat_messages
):
    mum = await resident_signs_in(suite, fake_sms)
    # WeChat was linked by signing in with it (the openid is kept at the gateway, encrypted), so it can be chosen.
    chosen = await choose(suite, mum, sms=True, wechat=True, phone=DEMO_RESIDENT_PHONE, quiet_hours=None)
    assert chosen == {
        "in_app": True,
        "sms": True,
        "wechat": True,
        "phone_masked": "138****0001",
        "wechat_linked": True,
        "quiet_hours": None,
    }
    elder_id = await elder_of(suite, mum)

    call_id = await raise_call(suite, elder_id)
    assert sms_of(fake_sms, "call.raised") == []  # the request only wrote the notice: the worker sends
    ran = await run_jobs(suite.eldercare, eldercare_tasks)
    assert ("notifications.fan_out", "succeeded") in ran
    (sms,) = sms_of(fake_sms, "call.raised")
    assert sms["phone"] == PHONE and sms["params"][0] == "陈**"
    assert sms["reference"].startswith("eldercare:")
    (wechat,) = fake_wechat_messages.sent
    assert wechat["touser"] == "openid-mum-phone" and wechat["template_id"] == WECHAT_TEMPLATES["call.raised"]
    assert wechat["data"]["thing1"] == {"value": "陈**"}

    staff = suite.bearer("staff-yinzhou")
    acted = await suite.gateway.post(f"{CALLS}/{call_id}/actions", json={"action": "电话联系家属"}, headers=staff)
    assert acted.status_code in (200, 201), acted.text
    closed = await suite.gateway.post(f"{CALLS}/{call_id}/close", json={"outcome": "hospital"}, headers=staff)
    assert closed.status_code == 200, closed.text
    await run_jobs(suite.eldercare, eldercare_tasks)
    assert len(sms_of(fake_sms, "call.answered")) == 1
    (closed_sms,) = sms_of(fake_sms, "call.closed")
    assert closed_sms["params"] == ["陈**", "已送医"]
    assert fake_sms.refused == []  # every request the SDK sent was correctly signed

    inbox = await suite.gateway.get(MESSAGES, headers=mum)
    assert inbox.status_code == 200, inbox.text
    kinds = [m["kind"] for m in inbox.json()["items"]]
    assert kinds == ["call.closed", "call.answered", "call.raised"]  # newest first
    raised = inbox.json()["items"][2]
    assert raised["emergency"] is True and raised["resource"] == f"emergency-calls/{call_id}"
    assert raised["title"] == "紧急呼叫" and "陈**" in raised["body"] and raised["read_at"] is None
    read = await suite.gateway.post(f"{MESSAGES}/{raised['id']}/read", headers=mum)
    assert read.status_code == 200 and read.json()["read_at"] is not None
    unread = await suite.gateway.get(MESSAGES, params={"unread": "true"}, headers=mum)
    assert [m["kind"] for m in unread.json()["items"]] == ["call.closed", "call.answered"]
    # Someone else's message is not there to read.
    other = await suite.gateway.post(f"{MESSAGES}/{raised['id']}/read", headers=suite.bearer("staff-yinzhou"))
    assert other.status_code == 404


async def test_quiet_hours_hold_back_ordinary_news_until_they_end_but_never_an_emergency(
    suite, fake_sms, fake_wechat_messages, moved_clock
):
    mum = await resident_signs_in(suite, fake_sms)
    now = clock.now().astimezone(clock.SHANGHAI)
    start, end = now - dt.timedelta(hours=1), now + dt.timedelta(hours=2)
    quiet = {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}
    await choose(suite, mum, sms=True, wechat=False, phone=DEMO_RESIDENT_PHONE, quiet_hours=quiet)
    elder_id = await elder_of(suite, mum)

    call_id = await raise_call(suite, elder_id)
    await run_jobs(suite.eldercare, eldercare_tasks)
    assert len(sms_of(fake_sms, "call.raised")) == 1  # an emergency goes in the quiet hours too

    staff = suite.bearer("staff-yinzhou")
    await suite.gateway.post(f"{CALLS}/{call_id}/actions", json={"action": "上门查看"}, headers=staff)
    await suite.gateway.post(f"{CALLS}/{call_id}/close", json={"outcome": "resolved_on_site"}, headers=staff)
    await run_jobs(suite.eldercare, eldercare_tasks)
    assert sms_of(fake_sms, "call.closed") == []  # held back...
    inbox = await suite.gateway.get(MESSAGES, headers=mum)
    assert inbox.json()["items"][0]["kind"] == "call.closed"  # ...but in the app at once

    moved_clock(dt.timedelta(minutes=61))
    await run_jobs(suite.eldercare, eldercare_tasks)
    assert sms_of(fake_sms, "call.closed") == []  # still quiet
    moved_clock(dt.timedelta(minutes=61))
    moved_clock(dt.timedelta(minutes=1))  # past the end of the quiet hours: the scheduled sender sends it
    assert ("notifications.send_due", "succeeded") in await run_jobs(suite.eldercare, eldercare_tasks)
    assert len(sms_of(fake_sms, "call.closed")) == 1


async def test_a_failed_send_is_retried_with_backoff_never_twice_and_never_undoes_the_event(
    suite, fake_sms, fake_wechat_messages, moved_clock
):
    mum = await resident_signs_in(suite, fake_sms)
    await choose(suite, mum, sms=True, wechat=False, phone=DEMO_RESIDENT_PHONE, quiet_hours=None)
    elder_id = await elder_of(suite, mum)
    fake_sms.fail_next = 1  # the provider does not take the first one
    call_id = await raise_call(suite, elder_id)
    await run_jobs(suite.eldercare, eldercare_tasks)
    assert sms_of(fake_sms, "call.raised") == []
    # The call stands, whatever became of its SMS.
    assert (await suite.gateway.get(f"{CALLS}/{call_id}", headers=mum)).json()["status"] == "open"
    async with suite.eldercare.state.database.sessionmaker() as session:
        d = NOTIFICATION_DELIVERIES
        status, attempts, error = (
            await session.execute(select(d.c.status, d.c.attempts, d.c.last_error).where(d.c.channel == "sms"))
        ).one()
    assert (status, attempts) == ("queued", 1) and "did not send" in error

    await run_jobs(suite.eldercare, eldercare_tasks)
    assert sms_of(fake_sms, "call.raised") == []  # not before its backoff (10 s)
    moved_clock(dt.timedelta(minutes=2))
    await run_jobs(suite.eldercare, eldercare_tasks)
    moved_clock(dt.timedelta(minutes=2))
    await run_jobs(suite.eldercare, eldercare_tasks)
    assert len(sms_of(fake_sms, "call.raised")) == 1  # sent on the retry, and once

    # The same event told again (a retried request, a second worker) is the one notification it was.
    async with suite.eldercare.state.database.sessionmaker() as session, session.begin():
        again = await outbox.notify(
            session, key=f"call.raised:{call_id}", kind="call.raised", title="x", body="x", audience={}
        )
        assert again is None
        assert await session.scalar(select(func.count()).select_from(NOTIFICATIONS)) == 1


async def test_one_event_to_thousands_of_carers_costs_its_request_one_row_and_fans_out_in_pages(
    suite, fake_sms, fake_wechat_messages
):
    staff = suite.bearer("staff-yinzhou")
    listed = await suite.gateway.get("/api/eldercare/v1/elders", headers=staff)
    elder_id = next(e["id"] for e in listed.json()["items"] if e["area_code"].startswith("330212"))
    async with suite.eldercare.state.database.sessionmaker() as session, session.begin():
        session.add_all(
            ElderCarer(elder_id=elder_id, subject=f"resident:storm-{i:05d}", relation="child") for i in range(2_000)
        )
    started = time.perf_counter()
    await raise_call(suite, elder_id)
    assert time.perf_counter() - started < 5  # the request wrote one notice, not 2,000 messages
    async with suite.eldercare.state.database.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(NOTIFICATION_DELIVERIES)) == 0
    assert ("notifications.fan_out", "succeeded") in await run_jobs(suite.eldercare, eldercare_tasks)
    async with suite.eldercare.state.database.sessionmaker() as session:
        d = NOTIFICATION_DELIVERIES
        in_app = await session.scalar(select(func.count()).select_from(d).where(d.c.channel == "in_app"))
    assert in_app >= 2_000  # every carer has it in the app (and the demo carer too)
    assert fake_sms.sent == []  # nobody chose SMS


async def test_preferences_refuse_what_cannot_be_kept_and_contacts_are_for_the_services_only(suite, fake_sms):
    mum = await resident_signs_in(suite, fake_sms)
    default = await suite.gateway.get(PREFERENCES, headers=mum)
    assert default.json()["in_app"] is True and default.json()["sms"] is False
    assert default.json()["quiet_hours"] == {"start": "22:00:00", "end": "07:00:00"}
    not_hers = await suite.gateway.put(
        PREFERENCES, json={"sms": True, "wechat": False, "phone": "13900000000", "quiet_hours": None}, headers=mum
    )
    assert not_hers.status_code == 422 and not_hers.json()["errors"][0]["field"] == "phone"
    no_phone = await suite.gateway.put(
        PREFERENCES, json={"sms": True, "wechat": False, "quiet_hours": None}, headers=mum
    )
    assert no_phone.status_code == 422
    staff = suite.bearer("staff-yinzhou")
    no_wechat = await suite.gateway.put(
        PREFERENCES, json={"sms": False, "wechat": True, "quiet_hours": None}, headers=staff
    )
    assert no_wechat.status_code == 422 and no_wechat.json()["errors"][0]["field"] == "wechat"
    empty = {"sms": False, "wechat": False, "quiet_hours": {"start": "22:00", "end": "22:00"}}
    assert (await suite.gateway.put(PREFERENCES, json=empty, headers=staff)).status_code == 422
    partner = await suite.gateway.get(PREFERENCES, headers=suite.bearer("partner"))
    assert partner.status_code == 403
    # Staff give their work phone; the contacts (in the clear) are for the services' clients only.
    await choose(suite, staff, sms=True, wechat=False, phone="13900000000", quiet_hours=None)
    contacts = await suite.gateway.post(
        "/api/notifications/v1/contacts", json={"subjects": ["staff:yinzhou-demo"]}, headers=staff
    )
    assert contacts.status_code == 403
    assert (await suite.gateway.get(PREFERENCES, headers=mum)).status_code == 200  # the next request still works


async def test_a_residents_copy_of_their_data_lists_the_notifications_and_a_deletion_erases_one(
    suite, fake_sms, fake_wechat_messages
):
    """PIPL arts. 45/47: what the suite told a person is data about them: listed in their copy, erasable on request."""
    privacy = "/api/privacy/v1"
    mum = await resident_signs_in(suite, fake_sms)
    await choose(suite, mum, sms=True, wechat=False, phone=DEMO_RESIDENT_PHONE, quiet_hours=None)
    await raise_call(suite, await elder_of(suite, mum))
    await run_jobs(suite.eldercare, eldercare_tasks)

    copy = await suite.gateway.post(f"{privacy}/copies", headers=mum)
    assert copy.status_code == 201, copy.text
    eldercare = next(s for s in copy.json()["services"] if s["service"] == "eldercare")
    held = next(c for c in eldercare["categories"] if c["category"] == "notifications")
    assert sorted(r["fields"]["channel"] for r in held["records"]) == ["in_app", "sms"]
    assert all(r["fields"]["kind"] == "call.raised" and r["erasable"] for r in held["records"])
    assert DEMO_RESIDENT_PHONE not in copy.text  # the body and the number are not repeated in the copy
    in_app = next(r for r in held["records"] if r["fields"]["channel"] == "in_app")

    asked = await suite.gateway.post(
        f"{privacy}/data-requests",
        headers=mum,
        json={"kind": "deletion", "service": "eldercare", "category": "notifications", "record_id": in_app["id"]},
    )
    assert asked.status_code == 201, asked.text
    answered = await suite.gateway.post(
        f"{privacy}/data-requests/{asked.json()['id']}/answer",
        headers=suite.bearer("staff-city"),
        json={"outcome": "done", "answer": "已删除该条站内消息"},
    )
    assert answered.status_code == 200, answered.text
    assert (await suite.gateway.get(MESSAGES, headers=mum)).json()["items"] == []
    again = await suite.gateway.post(f"{privacy}/copies", headers=mum)
    eldercare = next(s for s in again.json()["services"] if s["service"] == "eldercare")
    assert next(c for c in eldercare["categories"] if c["category"] == "notifications")["count"] == 1  # the SMS
