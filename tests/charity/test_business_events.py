"""Business counters of the charity service (business_events_total on /metrics): donations recorded, refunds and
disbursements, counted when their transaction commits; replays and refused requests are not counted."""

from prometheus_client.parser import text_string_to_metric_families

from tests.charity.factories import API, YINZHOU, disbursement_body, donation_body, project


async def events(client) -> dict[str, float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return {
        sample.labels["event"]: sample.value
        for family in text_string_to_metric_families(response.text)
        if family.name == "business_events"
        for sample in family.samples
        if sample.name == "business_events_total"
        and sample.labels["service"] == "charity"
        and sample.labels["outcome"] == "ok"
    }


def grown(before: dict, after: dict) -> dict:
    return {
        name: after.get(name, 0) - before.get(name, 0)
        for name in ("donation_recorded", "donation_refunded", "disbursement_made")
    }


async def test_donations_refunds_and_disbursements_are_counted_when_committed(committed_client):
    client = committed_client
    created = await project(client)
    headers = client.as_(YINZHOU)
    before = await events(client)

    body = donation_body(created["id"], "wx-counted", 50_000)
    first = await client.post(f"{API}/donations", json=body, headers=headers | {"Idempotency-Key": "c-1"})
    assert first.status_code == 201, first.text
    # Replays, by key or by channel transaction, change nothing and count nothing.
    assert (
        await client.post(f"{API}/donations", json=body, headers=headers | {"Idempotency-Key": "c-1"})
    ).status_code == 201
    assert (await client.post(f"{API}/donations", json=body, headers=headers)).status_code == 201
    donation_id = first.json()["id"]
    refund = await client.post(
        f"{API}/donations/{donation_id}/refunds",
        headers=headers,
        json={"amount_fen": 10_000, "reason": "捐赠人申请退款"},
    )
    assert refund.status_code == 201, refund.text
    too_much = await client.post(
        f"{API}/donations/{donation_id}/refunds", headers=headers, json={"amount_fen": 90_000, "reason": "超额"}
    )
    assert too_much.status_code == 409  # rolled back: not counted
    paid = await client.post(f"{API}/disbursements", json=disbursement_body(created, 5_000), headers=headers)
    assert paid.status_code == 201, paid.text
    beyond = await client.post(f"{API}/disbursements", json=disbursement_body(created, 10**9), headers=headers)
    assert beyond.status_code in (409, 422)

    text = (await client.get("/metrics")).text
    assert any(
        line.startswith("business_events_total{")
        and 'event="donation_recorded"' in line
        and 'service="charity"' in line
        for line in text.splitlines()
    ), text
    assert grown(before, await events(client)) == {
        "donation_recorded": 1,
        "donation_refunded": 1,
        "disbursement_made": 1,
    }
