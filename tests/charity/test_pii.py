"""Donors' phones and offers' contact phones: encrypted at rest, masked in answers, read in the clear only with
the scope and a stated purpose, each read audited in an append-only table; none of it in public disclosure."""

from __future__ import annotations

import asyncio
import base64
import os
import sqlite3

import pytest
from sqlalchemy import String, delete, select, text, update
from sqlalchemy.exc import IntegrityError

from services.charity.database import PII_READS
from services.charity.donations.models import Donation
from services.charity.needs.models import ResourceOffer
from shared import migrations
from shared.db import make_engine
from shared.pii import keyring
from tests.charity.factories import API, DONATIONS_READ, DONATIONS_WRITE, HAISHU, YINZHOU, donate, organisation, project
from tests.charity.test_needs import offer_body
from tests.conftest import staff

PHONE = "13912345678"  # the factories' donor
PURPOSE = "寄送捐赠票据：核实捐赠人电话"
AUDITOR = staff("330212", "charity.pii_reads:read", subject="auditor:yinzhou")
HAISHU_AUDITOR = staff("330203", "charity.pii_reads:read", subject="auditor:haishu")


def pii_reads(donation_id: int) -> str:
    return f"{API}/donations/{donation_id}/pii-reads"


async def stored(client, column, key_column, key) -> str | None:
    """The text the database holds, as it is (not decrypted by the column type)."""
    async with client.app.state.database.sessionmaker() as session:
        return await session.scalar(select(column.cast(String)).where(key_column == key))


async def test_a_donor_phone_is_stored_encrypted_and_answered_masked(client):
    created = await project(client)
    donation = await donate(client, created["id"], "wx-pii-1")
    assert donation["donor_phone_masked"] == "139****5678" and PHONE not in str(donation)
    raw = await stored(client, Donation.donor_phone, Donation.id, donation["id"])
    assert raw.startswith("v1:") and PHONE not in raw
    for path in (f"{API}/donations/{donation['id']}", f"{API}/donations"):
        assert PHONE not in (await client.get(path, headers=client.as_(YINZHOU))).text


async def test_an_offer_contact_phone_is_stored_encrypted_and_answered_masked(client):
    response = await client.post(f"{API}/resource-offers", json=offer_body(), headers=client.as_(YINZHOU))
    assert response.status_code == 201, response.text
    offer = response.json()
    assert offer["contact_phone_masked"] == "139****8888" and "13905748888" not in response.text
    raw = await stored(client, ResourceOffer.contact_phone, ResourceOffer.id, offer["id"])
    assert raw.startswith("v1:") and "13905748888" not in raw


async def test_a_clear_read_needs_the_scope_a_purpose_and_the_area(client):
    created = await project(client)
    donation = await donate(client, created["id"], "wx-pii-2")
    without_scope = staff("330212", DONATIONS_READ, DONATIONS_WRITE)
    refused = await client.post(pii_reads(donation["id"]), json={"purpose": PURPOSE}, headers=client.as_(without_scope))
    assert refused.status_code == 403
    for body in ({}, {"purpose": "  "}, {"purpose": "看看"}):
        response = await client.post(pii_reads(donation["id"]), json=body, headers=client.as_(YINZHOU))
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "purpose", body
    other_area = await client.post(pii_reads(donation["id"]), json={"purpose": PURPOSE}, headers=client.as_(HAISHU))
    missing = await client.post(pii_reads(donation["id"] + 1000), json={"purpose": PURPOSE}, headers=client.as_(HAISHU))
    assert other_area.status_code == missing.status_code == 404
    listed = await client.get(f"{API}/pii-reads", headers=client.as_(AUDITOR))
    assert listed.status_code == 200 and listed.json()["items"] == [], listed.text


async def test_a_clear_read_is_answered_and_audited_for_the_auditor_of_the_area(client):
    created = await project(client)
    donation = await donate(client, created["id"], "wx-pii-3")
    response = await client.post(
        pii_reads(donation["id"]),
        json={"purpose": PURPOSE},
        headers=client.as_(YINZHOU) | {"X-Request-ID": "req-charity-pii-1"},
    )
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["values"] == {"donor_phone": PHONE}

    listed = await client.get(f"{API}/pii-reads", headers=client.as_(AUDITOR))
    assert listed.status_code == 200, listed.text
    [record] = listed.json()["items"]
    assert record["id"] == answer["read_id"]
    assert {
        k: record[k]
        for k in (
            "reader",
            "reader_kind",
            "subject_type",
            "subject_id",
            "subject_area",
            "fields",
            "purpose",
            "request_id",
        )
    } == {
        "reader": "staff:yinzhou",
        "reader_kind": "staff",
        "subject_type": "donor",
        "subject_id": str(donation["id"]),
        "subject_area": created["district_code"],
        "fields": ["donor_phone"],
        "purpose": PURPOSE,
        "request_id": "req-charity-pii-1",
    }
    assert PHONE not in listed.text  # the audit says what was read, not the value
    assert (await client.get(f"{API}/pii-reads", headers=client.as_(HAISHU_AUDITOR))).json()["items"] == []
    # Reading the audit takes the auditor's scope; the reader's scope is not it.
    reader_only = staff("330212", DONATIONS_READ, "charity.pii:read")
    assert (await client.get(f"{API}/pii-reads", headers=client.as_(reader_only))).status_code == 403


async def test_the_audit_about_one_donor_is_found_by_their_phone(client):
    created = await project(client)
    first = await donate(client, created["id"], "wx-pii-5")
    other = await donate(
        client, created["id"], "wx-pii-6", donor={"kind": "person", "name": "李华", "phone": "13700000002"}
    )
    second = await donate(client, created["id"], "wx-pii-7")
    for donation in (first, other, second):
        read = await client.post(pii_reads(donation["id"]), json={"purpose": PURPOSE}, headers=client.as_(YINZHOU))
        assert read.status_code == 201, read.text

    found = await client.post(f"{API}/pii-reads/searches", json={"phone": PHONE}, headers=client.as_(AUDITOR))
    assert found.status_code == 200, found.text
    assert [r["subject_id"] for r in found.json()["items"]] == [str(second["id"]), str(first["id"])]
    assert PHONE not in found.text
    assert (
        await client.post(f"{API}/pii-reads/searches", json={"phone": PHONE}, headers=client.as_(HAISHU_AUDITOR))
    ).json()["items"] == []
    # This service knows donors by phone: an ID number is refused by name, a malformed phone too.
    for body, field in (({"id_number": "330203195001011236"}, "id_number"), ({"phone": "1391234"}, "phone")):
        refused = await client.post(f"{API}/pii-reads/searches", json=body, headers=client.as_(AUDITOR))
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"].endswith(field), refused.text


@pytest.mark.parametrize("change", ["update", "delete"])
async def test_the_audit_refuses_update_and_delete(client, change):
    created = await project(client)
    donation = await donate(client, created["id"], f"wx-pii-{change}")
    response = await client.post(pii_reads(donation["id"]), json={"purpose": PURPOSE}, headers=client.as_(YINZHOU))
    assert response.status_code == 201, response.text
    statement = update(PII_READS).values(purpose="nothing to see") if change == "update" else delete(PII_READS)
    async with client.app.state.database.sessionmaker() as session:
        with pytest.raises(IntegrityError, match="append-only"):
            await session.execute(statement.where(PII_READS.c.id == response.json()["read_id"]))
        await session.rollback()
    [record] = (await client.get(f"{API}/pii-reads", headers=client.as_(AUDITOR))).json()["items"]
    assert record["purpose"] == PURPOSE


async def test_public_disclosure_shows_no_donor_data_and_the_honour_list_still_knows_one_donor(client):
    org = await organisation(client)
    created = await project(client, org=org)
    await donate(client, created["id"], "wx-pii-h1", 30_000)
    await donate(client, created["id"], "wx-pii-h2", 20_000)  # the same person (name and phone) again
    await donate(
        client, created["id"], "wx-pii-h3", 10_000, donor={"kind": "person", "name": "王小明", "phone": "13800001111"}
    )  # a namesake
    honour = await client.get(f"{API}/honour-list")
    assert honour.status_code == 200, honour.text
    people = [(e["name"], e["amount_fen"], e["donations"]) for e in honour.json()["entries"]]
    assert people == [("王小明", 50_000, 2), ("王小明", 10_000, 1)]
    for path in ("/public/projects", f"/public/projects/{created['id']}", "/honour-list"):
        body = (await client.get(f"{API}{path}")).text
        assert PHONE not in body and "13800001111" not in body and "139****" not in body, path


# ---- the migration that encrypted existing rows, and its downgrade ----

BEFORE = "9b8ac4f16186"  # the revision before phones were encrypted


@pytest.fixture
def scratch_url(scratch_database) -> str:
    return scratch_database("charity_pii")


async def _sql(url: str, *statements: str) -> list:
    """Run statements on a connection of its own; rows of the last. Foreign keys and triggers are not in
    play for the rows written here (SQLite: a plain connection, foreign keys off; PostgreSQL: replica role)."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(url.split("///", 1)[1])
        try:
            rows = [connection.execute(statement).fetchall() for statement in statements][-1]
            connection.commit()
            return [tuple(row) for row in rows]
        finally:
            connection.close()
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
            for statement in statements:
                result = await connection.execute(text(statement))
            return [tuple(row) for row in result.all()] if result.returns_rows else []
    finally:
        await engine.dispose()


def test_the_migration_encrypts_existing_phones_and_its_downgrade_restores_them(scratch_url, backend):
    url = scratch_url
    migrations.upgrade("charity", url, BEFORE)
    asyncio.run(
        _sql(
            url,
            "INSERT INTO donations (id, project_id, organization_id, channel, channel_txn_id, amount_fen, donor_kind, "
            "donor_name, donor_phone, honour_opt_in, donated_at, ledger_group_id, recorded_by, created_at) VALUES "
            "(1, 1, 1, 'wechat', 'm-1', 100, 'person', '王小明', '13912345678', true, CURRENT_TIMESTAMP, 1, 't', "
            "CURRENT_TIMESTAMP), (2, 1, 1, 'wechat', 'm-2', 100, 'anonymous', NULL, NULL, false, CURRENT_TIMESTAMP, 2, "
            "'t', CURRENT_TIMESTAMP)",
            "INSERT INTO resource_offers (id, offerer_kind, offerer_name, contact_phone, subject, area_code, category, "
            "description, quantity, unit, available_until, allocated_quantity, created_at) VALUES (1, 'company', '某公司', "
            "'13905748888', 's', '330212', 'food', 'd', 10, '箱', '2030-01-01', 0, CURRENT_TIMESTAMP)",
        )
    )
    migrations.upgrade("charity", url)
    donations = asyncio.run(_sql(url, "SELECT id, donor_phone_enc, donor_phone_index FROM donations ORDER BY id"))
    (_, enc, index), (_, none, no_index) = donations
    ring = keyring()
    assert "13912345678" not in enc and ring.decrypt("donations.donor_phone", enc) == "13912345678"
    assert index == ring.blind_index("charity.donor_phone", "13912345678") and none is None and no_index is None
    [(offer_enc,)] = asyncio.run(_sql(url, "SELECT contact_phone_enc FROM resource_offers"))
    assert ring.decrypt("resource_offers.contact_phone", offer_enc) == "13905748888"

    migrations.downgrade("charity", url, BEFORE)
    assert asyncio.run(_sql(url, "SELECT donor_phone FROM donations ORDER BY id")) == [("13912345678",), (None,)]
    assert asyncio.run(_sql(url, "SELECT contact_phone FROM resource_offers")) == [("13905748888",)]
    # donations is append-only again after the backfill set its trigger aside.
    with pytest.raises(Exception, match="append-only"):
        asyncio.run(
            _sql(url, "UPDATE donations SET amount_fen = 1")
            if backend == "sqlite"
            else _plain(url, "UPDATE donations SET amount_fen = 1")
        )


async def _plain(url: str, statement: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def test_a_key_rotation_rewrites_the_phones_and_donations_stay_append_only(client):
    from services.charity.pii import reencrypt_all
    from shared.pii import Keyring, use_keyring

    created = await project(client)
    donation = await donate(client, created["id"], "wx-pii-rotate")
    response = await client.post(f"{API}/resource-offers", json=offer_body(), headers=client.as_(YINZHOU))
    offer = response.json()
    old = keyring()
    new_key = base64.b64encode(os.urandom(32)).decode()
    rotated = Keyring(keys=old.keys | {"k2": base64.b64decode(new_key)}, active="k2", index_key=old.index_key)
    use_keyring(rotated)
    try:
        async with client.app.state.database.sessionmaker() as session:
            counts = await reencrypt_all(session)
            await session.commit()
        assert counts["donations"] >= 1 and counts["resource_offers"] >= 1
        raw = await stored(client, Donation.donor_phone, Donation.id, donation["id"])
        assert raw.startswith("v1:k2:")
        assert (await stored(client, ResourceOffer.contact_phone, ResourceOffer.id, offer["id"])).startswith("v1:k2:")
        read = await client.post(pii_reads(donation["id"]), json={"purpose": PURPOSE}, headers=client.as_(YINZHOU))
        assert read.json()["values"] == {"donor_phone": PHONE}
        async with client.app.state.database.sessionmaker() as session:
            with pytest.raises(IntegrityError, match="append-only"):
                await session.execute(update(Donation).values(amount_fen=1).where(Donation.id == donation["id"]))
            await session.rollback()
    finally:
        use_keyring(None)
