"""Residents and staff acting at once on online applications: one open application per household and programme,
one open request for materials, one stored copy of a file, a resident's quotas kept; and the next ordinary request still
works."""

import asyncio

from sqlalchemy import func, select

from services.assistance.applications.models import Application
from services.assistance.assessment.models import Asset, Income
from services.assistance.online.models import Material, MaterialRequest
from shared.blobs import LocalBlobStore
from tests.assistance.helpers import household, member
from tests.assistance.test_applications import (
    API,
    COMMUNITY,
    STREET,
    today,  # noqa: F401  (a pytest fixture these tests use)
)
from tests.assistance.test_assessment import income
from tests.assistance.test_online_applications import (
    DECLARED,
    ECONOMIC,
    MOTHER,
    PNG,
    STRANGER,
    apply,
    declare,
    upload,
)
from tests.races import next_request_succeeds


async def count(client, query) -> int:
    async with client.app.state.database.sessionmaker() as session:
        return await session.scalar(query)


async def test_applying_many_times_at_once_leaves_one_open_application(committed_client, today):  # noqa: F811
    client = committed_client
    h = await declare(client)
    body = {"household_id": h["id"], "programme": "dibao", "consent": {"agreed": True, "checks": ECONOMIC}}
    responses = await asyncio.gather(
        *(client.post(f"{API}/online-applications", json=body, headers=client.as_(MOTHER)) for _ in range(10))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1 and set(statuses) == {201, 409}, statuses
    assert all(
        r.headers["content-type"].startswith("application/problem+json") for r in responses if r.status_code == 409
    )
    opened = select(func.count()).where(Application.household_id == h["id"], Application.programme == "dibao")
    assert await count(client, opened) == 1
    # The next ordinary request after the race: another programme for the same household.
    await next_request_succeeds(
        client.post(
            f"{API}/online-applications",
            json=body | {"programme": "tekun", "member_id": h["members"][0]["id"]},
            headers=client.as_(MOTHER),
        ),
        status=201,
    )


async def test_staff_asking_at_once_open_one_request_and_one_upload_is_stored_once(
    committed_client,
    today,  # noqa: F811
    tmp_path,
):
    client = committed_client
    client.app.state.materials_store = LocalBlobStore(tmp_path)
    application = await apply(client, (await declare(client))["id"])
    path = f"{API}/applications/{application['id']}/material-requests"
    responses = await asyncio.gather(
        *(
            client.post(path, json={"note": f"请补充材料{i}"}, headers=client.as_(COMMUNITY if i % 2 else STREET))
            for i in range(8)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1 and set(statuses) == {201, 409}, statuses
    open_requests = select(func.count()).where(
        MaterialRequest.application_id == application["id"], MaterialRequest.answered_at.is_(None)
    )
    assert await count(client, open_requests) == 1

    uploads = await asyncio.gather(*(upload(client, application["id"], PNG) for _ in range(6)))
    statuses = sorted(r.status_code for r in uploads)
    assert statuses.count(201) == 1 and set(statuses) <= {200, 201, 409}, statuses
    stored = select(func.count()).where(Material.application_id == application["id"])
    assert await count(client, stored) == 1
    await next_request_succeeds(
        client.get(f"{API}/online-applications/{application['id']}", headers=client.as_(MOTHER)), status=200
    )


async def test_a_resident_declaring_many_households_at_once_gets_no_more_than_the_quota(committed_client):
    # The quota (declared_households_per_resident, 3) was a count and then an insert: declarations sent at once all
    # counted the same households before any was written, and each was recorded.
    client = committed_client
    quota = client.app.state.settings.declared_households_per_resident
    bodies = [household(member(age=40 + n), member("child", age=5 + n)) for n in range(quota + 5)]
    responses = await asyncio.gather(
        *(client.post(f"{API}/declared-households", json=body, headers=client.as_(MOTHER)) for body in bodies)
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == quota and set(statuses) == {201, 409}, statuses
    declared = await client.get(f"{API}/declared-households", headers=client.as_(MOTHER))
    assert len(declared.json()) == quota
    # The next ordinary request: another resident's own quota is untouched.
    await next_request_succeeds(
        client.post(f"{API}/declared-households", json=household(member(age=70)), headers=client.as_(STRANGER)),
        status=201,
    )


async def test_files_uploaded_at_once_are_no_more_than_an_application_may_hold(
    committed_client,
    today,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    # As the households' quota: each upload counted the files before any of the others was written.
    client = committed_client
    client.app.state.materials_store = LocalBlobStore(tmp_path)
    monkeypatch.setattr(client.app.state.settings, "materials_per_application", 2)
    application = await apply(client, (await declare(client))["id"])
    uploads = await asyncio.gather(*(upload(client, application["id"], PNG + bytes([n])) for n in range(6)))
    statuses = sorted(r.status_code for r in uploads)
    assert statuses == [201, 201, 409, 409, 409, 409], statuses
    stored = select(func.count()).where(Material.application_id == application["id"])
    assert await count(client, stored) == 2
    await next_request_succeeds(
        client.get(f"{API}/online-applications/{application['id']}", headers=client.as_(MOTHER)), status=200
    )


async def test_incomes_and_assets_declared_at_once_are_no_more_than_a_household_may_hold(
    committed_client,
    monkeypatch,
):
    # A resident could declare incomes and assets for a household without end (each row encrypted, each read by
    # staff's assessment): now at most declared_figures_per_household, counted one request after the other.
    client = committed_client
    monkeypatch.setattr(client.app.state.settings, "declared_figures_per_household", 3)
    h = await declare(client)
    base = f"{API}/declared-households/{h['id']}"
    wages = income(h["members"][0]["id"], amount_fen=600_000, source=DECLARED)
    deposit = {"kind": "deposit", "value_fen": 500_000, "source": DECLARED}
    responses = await asyncio.gather(
        *(
            client.post(
                f"{base}/incomes" if i % 2 else f"{base}/assets",
                json=wages if i % 2 else deposit,
                headers=client.as_(MOTHER),
            )
            for i in range(8)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 3 and set(statuses) == {201, 409}, statuses
    refused = next(r for r in responses if r.status_code == 409)
    assert refused.headers["content-type"].startswith("application/problem+json")
    held = select(func.count()).where(Income.household_id == h["id"])
    assets = select(func.count()).where(Asset.household_id == h["id"])
    assert await count(client, held) + await count(client, assets) == 3
    # The next ordinary request: another resident's household takes its figures.
    other = await declare(client, STRANGER, household(member(age=70)))
    await next_request_succeeds(
        client.post(
            f"{API}/declared-households/{other['id']}/incomes",
            json=income(other["members"][0]["id"], amount_fen=100_000, source=DECLARED),
            headers=client.as_(STRANGER),
        ),
        status=201,
    )
