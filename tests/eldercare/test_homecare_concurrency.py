"""Racing for a caregiver's hour, and many verified visits drawing one subsidy balance at once."""

from __future__ import annotations

import asyncio
import datetime as dt

from shared.db import utcnow
from tests.eldercare.test_homecare import (API, TOMORROW_9, YINZHOU, add_caregiver, add_service, funded_account,
                                           order_visit, position, scheduled_visit)
from tests.eldercare.test_meals_concurrency import many_elders


async def test_concurrent_scheduling_books_a_caregiver_once_per_slot(committed_client):
    client = committed_client
    item = await add_service(client)
    caregiver = await add_caregiver(client)
    elders = await many_elders(client, 12)
    # Twelve people want the same caregiver at overlapping times (starts 5 minutes apart, an hour each).
    responses = await asyncio.gather(*(
        order_visit(client, e, item["id"], TOMORROW_9 + dt.timedelta(minutes=5 * n), caregiver_id=caregiver["id"])
        for n, e in enumerate(elders)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}, [r.text for r in responses]
    booked = (await client.get(f"{API}/visits", params={"caregiver_id": caregiver["id"], "status": "scheduled",
                                                         "limit": 100}, headers=client.as_(YINZHOU))).json()["items"]
    spans = sorted((dt.datetime.fromisoformat(v["starts_at"]), dt.datetime.fromisoformat(v["ends_at"])) for v in booked)
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:])), spans
    assert len(booked) == statuses.count(201)


async def test_concurrent_verified_visits_never_overdraw_the_subsidy(committed_client):
    client = committed_client
    [elder_id] = await many_elders(client, 1)
    account = await funded_account(client, elder_id, amount=10000, tier="age_80_plus")  # many_elders are 80+
    item = await add_service(client, price=3000)
    caregivers = [await add_caregiver(client) for _ in range(6)]
    visits = [await scheduled_visit(client, elder_id, item["id"], c["id"]) for c in caregivers]
    for visit in visits:
        await client.post(f"{API}/visits/{visit['id']}/check-in", headers=client.as_(YINZHOU), json=position())
    responses = await asyncio.gather(*(client.post(f"{API}/visits/{v['id']}/check-out", headers=client.as_(YINZHOU),
                                                   json=position(at=utcnow() + dt.timedelta(minutes=1)))
                                       for v in visits))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    drawn = sorted(r.json()["subsidy_fen"] for r in responses)
    assert sum(drawn) == 10000 and drawn == [0, 0, 1000, 3000, 3000, 3000]
    balance = (await client.get(f"{API}/subsidy-accounts/{account['id']}", headers=client.as_(YINZHOU))).json()
    assert balance["balance_fen"] == 0
