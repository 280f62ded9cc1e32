"""Family care beds, emergency calls, and the indicators with the plan's targets."""

from __future__ import annotations

import asyncio
import datetime as dt

from shared import clock
from tests.conftest import resident, staff
from tests.eldercare.test_beds import add_beds, add_institution
from tests.eldercare.test_homecare import add_caregiver
from tests.eldercare.test_meals import API, CARER, ELDERS_READ, ELDERS_WRITE, add_canteen, add_elder, add_menu, order
from tests.indicators import cells, checked, item, value
from tests.races import next_request_succeeds

FB_READ, FB_WRITE = "eldercare.family_beds:read", "eldercare.family_beds:write"
C_READ, C_RAISE, C_HANDLE = (
    "eldercare.emergency_calls:read",
    "eldercare.emergency_calls:raise",
    "eldercare.emergency_calls:handle",
)
IND = "eldercare.indicators:read"
YINZHOU = staff(
    "330212", ELDERS_READ, ELDERS_WRITE, FB_READ, FB_WRITE, C_READ, C_RAISE, C_HANDLE, IND, subject="staff:yinzhou"
)
HAISHU = staff("330203", FB_READ, FB_WRITE, C_READ, C_HANDLE, IND, subject="staff:haishu")


async def family_bed(client, elder_id, provider_id, **extra):
    return await client.post(
        f"{API}/family-beds",
        headers=client.as_(YINZHOU),
        json={
            "elder_id": elder_id,
            "provider_id": provider_id,
            "package": "standard",
            "visits_per_month": 8,
            "started_on": clock.today().isoformat(),
        }
        | extra,
    )


async def test_family_beds_one_active_per_person(client):
    elder_id, _ = await add_elder(client)
    provider_id = (await add_caregiver(client))["provider_id"]
    first = await family_bed(client, elder_id, provider_id)
    assert first.status_code == 201 and first.json()["status"] == "active"
    second = await family_bed(client, elder_id, provider_id, package="basic")
    assert second.status_code == 409 and second.json()["resource"] == f"family-beds/{first.json()['id']}"
    bad = await family_bed(client, elder_id, provider_id, package="deluxe", visits_per_month=0)
    assert bad.status_code == 422
    assert (await family_bed(client, elder_id, 999999)).status_code == 404
    early = await client.post(
        f"{API}/family-beds/{first.json()['id']}/end",
        headers=client.as_(YINZHOU),
        json={"ended_on": (clock.today() - dt.timedelta(days=1)).isoformat()},
    )
    assert early.status_code == 422 and early.json()["errors"][0]["field"] == "ended_on"
    ended = await client.post(
        f"{API}/family-beds/{first.json()['id']}/end",
        headers=client.as_(YINZHOU),
        json={"ended_on": clock.today().isoformat()},
    )
    assert ended.json()["status"] == "ended"
    assert (await family_bed(client, elder_id, provider_id)).status_code == 201
    assert (await client.get(f"{API}/family-beds/{first.json()['id']}", headers=client.as_(HAISHU))).status_code == 404


async def test_a_family_bed_is_not_ended_on_a_day_to_come(client):
    """Ended on 2199-01-01, a bed was 'ended' at once, and a second bed for the person was then set up to run alongside
    it until 2199. An end is recorded on the day (today at the latest); a bed that has not started yet ends on its
    start day, which cancels it."""
    elder_id, _ = await add_elder(client)
    provider_id = (await add_caregiver(client))["provider_id"]
    bed = (await family_bed(client, elder_id, provider_id)).json()
    for day in ("2199-01-01", (clock.today() + dt.timedelta(days=1)).isoformat()):
        refused = await client.post(
            f"{API}/family-beds/{bed['id']}/end", headers=client.as_(YINZHOU), json={"ended_on": day}
        )
        assert refused.status_code == 422 and [e["field"] for e in refused.json()["errors"]] == ["ended_on"], day
    current = (await client.get(f"{API}/family-beds/{bed['id']}", headers=client.as_(YINZHOU))).json()
    assert (current["status"], current["ended_on"]) == ("active", None)
    assert (await family_bed(client, elder_id, provider_id)).status_code == 409
    ended = await client.post(
        f"{API}/family-beds/{bed['id']}/end", headers=client.as_(YINZHOU), json={"ended_on": clock.today().isoformat()}
    )
    assert ended.status_code == 200 and ended.json()["status"] == "ended"
    starts = clock.today() + dt.timedelta(days=30)
    later = (await family_bed(client, elder_id, provider_id, started_on=starts.isoformat())).json()
    cancelled = await client.post(
        f"{API}/family-beds/{later['id']}/end", headers=client.as_(YINZHOU), json={"ended_on": starts.isoformat()}
    )
    assert cancelled.status_code == 200 and cancelled.json()["ended_on"] == starts.isoformat()


async def test_no_handling_step_is_logged_after_the_call_is_closed(committed_client):
    """Steps logged while the call was being closed were taken without a lock: the close's time was read, steps were
    added, and the log showed steps dated after the call's closing (and a step could be written after the close
    committed). A step and a close now take the call's row in turn: each step is either in before the close, dated
    before it, or refused with a 409."""
    client = committed_client
    elder_id, _ = await add_elder(client)
    for _ in range(3):
        call = await client.post(
            f"{API}/emergency-calls", headers=client.as_(YINZHOU), json={"elder_id": elder_id, "kind": "fall"}
        )
        call_id = call.json()["id"]
        first = await client.post(
            f"{API}/emergency-calls/{call_id}/actions", headers=client.as_(YINZHOU), json={"action": "电话联系家属"}
        )
        assert first.status_code == 200, first.text
        close, *steps = await asyncio.gather(
            client.post(
                f"{API}/emergency-calls/{call_id}/close", headers=client.as_(YINZHOU), json={"outcome": "hospital"}
            ),
            *(
                client.post(
                    f"{API}/emergency-calls/{call_id}/actions",
                    headers=client.as_(YINZHOU),
                    json={"action": f"网格员上门第{n}步"},
                )
                for n in range(6)
            ),
        )
        assert close.status_code == 200, close.text
        assert {r.status_code for r in steps} <= {200, 409}, [r.text for r in steps]
        assert all(r.json()["status"] == "handling" for r in steps if r.status_code == 200)
        final = (await client.get(f"{API}/emergency-calls/{call_id}", headers=client.as_(YINZHOU))).json()
        closed_at = dt.datetime.fromisoformat(final["closed_at"])
        assert final["status"] == "closed"
        assert len(final["actions"]) == 1 + sum(r.status_code == 200 for r in steps)
        assert all(dt.datetime.fromisoformat(a["acted_at"]) <= closed_at for a in final["actions"]), final
    await next_request_succeeds(
        client.post(f"{API}/emergency-calls", headers=client.as_(YINZHOU), json={"elder_id": elder_id, "kind": "fall"})
    )


async def test_a_call_sent_again_from_a_weak_network_is_logged_once(client):
    """POST /emergency-calls ignored the Idempotency-Key: a family's phone retrying on a weak network logged the same
    fall twice, two open calls for staff to answer. The same key and body now answer the first call again."""
    elder_id, _ = await add_elder(client)
    carer = resident(CARER, C_READ, C_RAISE)
    body = {"elder_id": elder_id, "kind": "fall", "called_at": clock.now().isoformat(), "note": "卫生间摔倒"}
    headers = client.as_(carer) | {"Idempotency-Key": "fall-1"}
    first = await client.post(f"{API}/emergency-calls", headers=headers, json=body)
    again = await client.post(f"{API}/emergency-calls", headers=headers, json=body)
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json()["id"] == first.json()["id"]
    other = await client.post(f"{API}/emergency-calls", headers=headers, json=body | {"kind": "medical"})
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    calls = await client.get(f"{API}/emergency-calls", params={"elder_id": elder_id}, headers=client.as_(carer))
    assert [c["id"] for c in calls.json()["items"]] == [first.json()["id"]]


async def test_a_call_is_not_dated_before_the_person_was_born(client):
    """`called_at` was bounded only by the years 1900-2199: a family member could log a fall of 1900-01-01, before
    the older person was born, an open call in staff's queue for a day that never held one. Now a 422 naming
    `called_at`, and the next ordinary call is logged."""
    elder_id, _ = await add_elder(client)
    carer = resident(CARER, C_READ, C_RAISE)
    birth_on = dt.date.fromisoformat(
        (await client.get(f"{API}/elders/{elder_id}", headers=client.as_(YINZHOU))).json()["birth_on"]
    )
    before = dt.datetime.combine(birth_on - dt.timedelta(days=1), dt.time(12), clock.SHANGHAI).isoformat()
    for called_at in ("1900-01-01T08:00:00+08:00", before):
        bad = await client.post(
            f"{API}/emergency-calls",
            headers=client.as_(carer),
            json={"elder_id": elder_id, "kind": "fall", "called_at": called_at},
        )
        assert bad.status_code == 422, bad.text
        assert bad.json()["errors"][0]["field"] == "called_at"
    on_the_day = dt.datetime.combine(birth_on, dt.time(0, 30), clock.SHANGHAI).isoformat()
    for called_at in (on_the_day, None):
        good = await client.post(
            f"{API}/emergency-calls",
            headers=client.as_(carer),
            json={"elder_id": elder_id, "kind": "fall", "called_at": called_at},
        )
        assert good.status_code == 201, good.text


async def test_emergency_call_handling_and_open_calls_per_area(client):
    elder_id, _ = await add_elder(client)
    carer = resident(CARER, C_READ, C_RAISE)
    call = await client.post(
        f"{API}/emergency-calls",
        headers=client.as_(carer),
        json={"elder_id": elder_id, "kind": "fall", "latitude": 29.87, "longitude": 121.56, "note": "卫生间摔倒"},
    )
    assert call.status_code == 201 and call.json()["status"] == "open"
    call_id = call.json()["id"]
    open_calls = (
        await client.get(f"{API}/emergency-calls", params={"status": "open"}, headers=client.as_(YINZHOU))
    ).json()["items"]
    assert [c["id"] for c in open_calls] == [call_id]
    assert (await client.get(f"{API}/emergency-calls", params={"status": "open"}, headers=client.as_(HAISHU))).json()[
        "items"
    ] == []
    premature = await client.post(
        f"{API}/emergency-calls/{call_id}/close", headers=client.as_(YINZHOU), json={"outcome": "hospital"}
    )
    assert premature.status_code == 409
    handled = await client.post(
        f"{API}/emergency-calls/{call_id}/actions",
        headers=client.as_(YINZHOU),
        json={"action": "电话联系家属，网格员上门"},
    )
    assert handled.json()["status"] == "handling" and handled.json()["actions"][0]["handler"] == "staff:yinzhou"
    assert (
        await client.post(
            f"{API}/emergency-calls/{call_id}/actions", headers=client.as_(HAISHU), json={"action": "越权"}
        )
    ).status_code == 404
    closed = await client.post(
        f"{API}/emergency-calls/{call_id}/close",
        headers=client.as_(YINZHOU),
        json={"outcome": "hospital", "note": "120送医"},
    )
    assert closed.json()["status"] == "closed" and closed.json()["outcome"] == "hospital"
    still_open = (
        await client.get(f"{API}/emergency-calls", params={"status": "open"}, headers=client.as_(YINZHOU))
    ).json()["items"]
    assert still_open == []
    mine = (await client.get(f"{API}/emergency-calls/{call_id}", headers=client.as_(carer))).json()
    assert len(mine["actions"]) == 1
    for field, wrong in (("kind", "boredom"), ("latitude", 100), ("called_at", "2999-01-01T00:00:00+08:00")):
        bad = await client.post(
            f"{API}/emergency-calls",
            headers=client.as_(carer),
            json={"elder_id": elder_id, "kind": "fall", "latitude": 29.8, "longitude": 121.5} | {field: wrong},
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == field


async def test_indicators_count_this_service_s_data_against_the_plan(client):
    elder_id, _ = await add_elder(client)
    institution = await add_institution(client)
    await add_beds(client, institution["id"], "nursing", 3)
    await add_beds(client, institution["id"], "general", 1, prefix="2-20")
    await add_beds(client, institution["id"], "dementia", 1, prefix="3-30")
    canteen = await add_canteen(client)
    menu = await add_menu(client, canteen["id"])
    await order(client, menu["id"], elder_id, quantity=2)
    caregiver = await add_caregiver(client)
    await family_bed(client, elder_id, caregiver["provider_id"])
    response = await client.get(f"{API}/indicators", params={"day": menu["served_on"]}, headers=client.as_(YINZHOU))
    assert response.status_code == 200, response.text
    body = checked(response.json())
    assert {i["as_of"] for i in body["items"]} == {menu["served_on"]} and {i["area"] for i in body["items"]} == {
        "330212"
    }
    assert cells(body, "beds", "bed_type") == {"general": 1, "nursing": 3, "dementia": 1}
    assert item(body, "beds")["value"] == 5 and item(body, "beds")["target"]["value"] == 4000
    share = item(body, "nursing_bed_share")
    assert (share["value"], share["unit"], share["target"]["value"], share["target"]["met"]) == (
        0.6,
        "ratio",
        0.6,
        True,
    )
    assert item(body, "beds", bed_type="dementia")["target"]["value"] == 960 and value(body, "family_beds") == 1
    assert value(body, "meals_served") == 2 and value(body, "canteens", kind="canteen") == 1
    # One certified caregiver for one older person: 10,000 per 10,000.
    caregivers = item(body, "certified_caregivers_per_10k")
    assert caregivers["value"] == 10000 and caregivers["unit"] == "per_10k" and caregivers["target"]["value"] == 27
    assert cells(body, "visits", "status") == {"verified": 0, "flagged": 0, "missed": 0}
    other = (await client.get(f"{API}/indicators", headers=client.as_(HAISHU))).json()
    assert value(other, "family_beds") == 0 and {i["area"] for i in other["items"]} == {"330203"}
    assert (
        await client.get(f"{API}/indicators", params={"area_code": "330212"}, headers=client.as_(HAISHU))
    ).status_code == 403
