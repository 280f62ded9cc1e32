"""Business counters of the assistance service (business_events_total on /metrics): applications submitted and
decided, leads closed; counted when the transaction commits, not for a refused request."""

import datetime as dt

from shared.metrics import EVENTS
from tests.assistance.test_applications import (
    COMMUNITY,
    DISTRICT,
    act,
    dibao_household,
    load_policies,
    through_notice,
    today,  # noqa: F401  (a pytest fixture these tests use)
)
from tests.assistance.test_leads import LEADS, closure, household_with_leads
from tests.conftest import staff


def counted(event: str, outcome: str = "ok") -> int:
    return EVENTS.counts.get(("assistance", event, outcome), 0)


async def test_applications_and_lead_closures_are_counted_once_committed(committed_client, today):  # noqa: F811 (today is the fixture imported above)
    client = committed_client
    await load_policies(client)
    submitted, approved, rejected = (
        counted("application_submitted"),
        counted("application_decided", "approved"),
        counted("application_decided", "rejected"),
    )
    h = await dibao_household(client)
    refused = await client.post(
        "/api/assistance/v1/applications",
        json={"household_id": h["id"], "programme": "dibao", "member_id": h["members"][0]["id"]},
        headers=client.as_(COMMUNITY),
    )
    assert refused.status_code == 422 and counted("application_submitted") == submitted
    app = await act(client, COMMUNITY, "/applications", {"household_id": h["id"], "programme": "dibao"}, expect=201)
    assert counted("application_submitted") == submitted + 1
    await through_notice(client, app["id"])
    today["day"] += dt.timedelta(days=8)
    await act(client, DISTRICT, f"/applications/{app['id']}/decision", {"approve": True, "reasons": "符合条件"})
    assert counted("application_decided", "approved") == approved + 1
    assert counted("application_decided", "rejected") == rejected

    closed = counted("lead_closed", "declined")
    _, leads = await household_with_leads(client)
    worker = client.as_(staff("330212001005", *LEADS))
    assert (
        await client.post(closure(leads[0]["id"]), json={"outcome": "declined", "reason": "本人拒绝"}, headers=worker)
    ).status_code == 200
    assert (
        await client.post(closure(leads[0]["id"]), json={"outcome": "declined", "reason": "本人拒绝"}, headers=worker)
    ).status_code == 409
    assert counted("lead_closed", "declined") == closed + 1
