"""Staff acting on one application at once: exactly one step wins, one enrolment, one open application."""

import asyncio
import datetime as dt

from tests.assistance.test_applications import (
    API,
    COMMUNITY,
    DISTRICT,
    act,
    dibao_household,
    load_policies,
    through_notice,
    today,  # noqa: F401  (a pytest fixture these tests use)
)
from tests.races import next_request_succeeds


async def test_concurrent_decisions_approve_once(committed_client, today):  # noqa: F811 (today is the fixture imported above)
    client = committed_client
    await load_policies(client)
    h = await dibao_household(client)
    app = await act(client, COMMUNITY, "/applications", {"household_id": h["id"], "programme": "dibao"}, 201)
    await through_notice(client, app["id"])
    today["day"] = dt.date(2024, 7, 23)
    responses = await asyncio.gather(
        *(
            client.post(
                f"{API}/applications/{app['id']}/decision",
                json={"approve": True, "reasons": f"同意{i}"},
                headers=client.as_(DISTRICT),
            )
            for i in range(10)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1 and set(statuses) == {200, 409}, statuses
    final = (await client.get(f"{API}/applications/{app['id']}", headers=client.as_(DISTRICT))).json()
    assert [e["step"] for e in final["events"]].count("decide") == 1
    lookup = await client.post(
        f"{API}/status-lookups", json={"id_number": h["id_numbers"][0]}, headers=client.as_(DISTRICT)
    )
    assert lookup.json()["programmes"] == [{"code": "dibao", "since": "2024-07-23"}]
    # The next household's application goes through its notice and is decided as usual.
    other = await dibao_household(client)
    app = await act(client, COMMUNITY, "/applications", {"household_id": other["id"], "programme": "dibao"}, 201)
    await through_notice(client, app["id"])
    today["day"] = dt.date(2024, 8, 1)
    decided = await next_request_succeeds(
        client.post(
            f"{API}/applications/{app['id']}/decision",
            json={"approve": True, "reasons": "同意"},
            headers=client.as_(DISTRICT),
        ),
        status=200,
    )
    assert decided["state"] == "approved"


async def test_concurrent_applications_leave_one_open(committed_client, today):  # noqa: F811 (today is the fixture imported above)
    client = committed_client
    h = await dibao_household(client)
    responses = await asyncio.gather(
        *(
            client.post(
                f"{API}/applications",
                json={"household_id": h["id"], "programme": "dibao"},
                headers=client.as_(COMMUNITY),
            )
            for _ in range(10)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1 and set(statuses) == {201, 409}, statuses
    listed = await client.get(f"{API}/applications", headers=client.as_(DISTRICT))
    assert len(listed.json()["items"]) == 1
    other = await dibao_household(client)
    await next_request_succeeds(
        client.post(
            f"{API}/applications",
            headers=client.as_(COMMUNITY),
            json={"household_id": other["id"], "programme": "dibao"},
        )
    )
