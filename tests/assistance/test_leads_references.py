"""A lead's screening, household and member are checked by triggers once per INSERT statement (not by per-row
foreign keys, which made a city's screening slow), and deleting what a lead names deletes the lead."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from tests.assistance.test_leads import API, COMMUNITY, household_with_leads, load_policies

COPY_LEAD = text(
    "INSERT INTO leads (signal_id, household_id, member_id, area_code, programme, state, reasons, created_at) "
    "SELECT signal_id, :household_id, :member_id, area_code, programme, state, reasons, created_at "
    "FROM leads WHERE id = :lead_id"
)
DANGLING = text(
    "SELECT count(*) FROM leads l WHERE NOT EXISTS (SELECT 1 FROM households h WHERE h.id = l.household_id)"
    " OR (l.member_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM members m WHERE m.id = l.member_id))"
)


async def members_of(client, household_id: int) -> dict[str, int]:
    got = await client.get(f"{API}/households/{household_id}", headers=client.as_(COMMUNITY))
    assert got.status_code == 200, got.text
    return {m["relationship"]: m["id"] for m in got.json()["members"]}


async def test_a_lead_must_name_a_household_its_member_and_a_screening_that_exist(committed_client):
    client = committed_client
    await load_policies(client)
    household_id, leads = await household_with_leads(client)
    other_household, _ = await household_with_leads(client, signal_id="YB-2")
    spouse = (await members_of(client, household_id))["spouse"]
    lead_id = leads[0]["id"]
    sessionmaker = client.app.state.database.sessionmaker
    for household, member in ((999_999, None), (household_id, 999_999), (other_household, spouse)):
        async with sessionmaker() as session:
            with pytest.raises(IntegrityError):
                await session.execute(COPY_LEAD, {"household_id": household, "member_id": member, "lead_id": lead_id})
                await session.commit()
    async with sessionmaker() as session:
        with pytest.raises(IntegrityError):
            await session.execute(
                text(
                    "INSERT INTO leads (screening_id, household_id, area_code, programme, state, "
                    "reasons, created_at) SELECT 999999, household_id, area_code, programme, "
                    "state, reasons, created_at FROM leads WHERE id = :id"
                ),
                {"id": lead_id},
            )
            await session.commit()
    # What a lead names is its identity: it cannot be pointed elsewhere afterwards.
    async with sessionmaker() as session:
        with pytest.raises((IntegrityError, DBAPIError)):
            await session.execute(
                text("UPDATE leads SET household_id = :other WHERE id = :id"), {"other": other_household, "id": lead_id}
            )
            await session.commit()
    # And a lead that names what exists is written.
    async with sessionmaker() as session:
        await session.execute(COPY_LEAD, {"household_id": household_id, "member_id": spouse, "lead_id": lead_id})
        await session.commit()


async def test_removing_a_member_removes_their_leads_only(committed_client):
    client = committed_client
    await load_policies(client)
    household_id, leads = await household_with_leads(client)
    spouse = (await members_of(client, household_id))["spouse"]
    theirs = {lead["id"] for lead in leads if lead["member_id"] == spouse}
    assert theirs and len(theirs) < len(leads)
    removed = await client.delete(f"{API}/households/{household_id}/members/{spouse}", headers=client.as_(COMMUNITY))
    assert removed.status_code == 204, removed.text
    listed = await client.get(
        f"{API}/leads", params={"household_id": household_id, "limit": 100}, headers=client.as_(COMMUNITY)
    )
    assert {lead["id"] for lead in listed.json()["items"]} == {lead["id"] for lead in leads} - theirs


async def test_a_member_removed_while_a_lead_for_them_is_being_written_leaves_no_dangling_lead(
    committed_client, backend
):
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: nothing to race")
    client = committed_client
    await load_policies(client)
    household_id, leads = await household_with_leads(client)
    spouse = (await members_of(client, household_id))["spouse"]
    sessionmaker = client.app.state.database.sessionmaker
    async with sessionmaker() as writer, sessionmaker() as watcher:
        await writer.execute(COPY_LEAD, {"household_id": household_id, "member_id": spouse, "lead_id": leads[0]["id"]})
        removal = asyncio.create_task(
            client.delete(f"{API}/households/{household_id}/members/{spouse}", headers=client.as_(COMMUNITY))
        )
        # The removal waits for the lead's transaction (the advisory lock taken by the insert's check).
        for _ in range(500):
            waiting = await watcher.scalar(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            )
            await watcher.rollback()
            if waiting or removal.done():
                break
            await asyncio.sleep(0.01)
        assert not removal.done() and waiting == 1
        await writer.commit()
        removed = await removal
    assert removed.status_code == 204, removed.text
    async with sessionmaker() as session:
        assert await session.scalar(DANGLING) == 0
        assert await session.scalar(text("SELECT count(*) FROM leads WHERE member_id = :id"), {"id": spouse}) == 0
