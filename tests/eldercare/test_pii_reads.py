"""Clear reads of personal data: a scope, a stated purpose, the caller's area, and an append-only audit record
that auditors of the area (and only they) can list."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from services.eldercare.database import PII_READS
from tests.conftest import resident, staff
from tests.eldercare.test_meals import API, CARER, ELDERS_READ, ELDERS_WRITE, add_elder

PII_READ, AUDIT_READ = "eldercare.pii:read", "eldercare.pii_reads:read"
YINZHOU = staff("330212", ELDERS_READ, ELDERS_WRITE, PII_READ, subject="staff:yinzhou")
HAISHU = staff("330203", ELDERS_READ, PII_READ, subject="staff:haishu")
YINZHOU_AUDITOR = staff("330212", ELDERS_READ, AUDIT_READ, subject="staff:auditor-yinzhou")
HAISHU_AUDITOR = staff("330203", ELDERS_READ, AUDIT_READ, subject="staff:auditor-haishu")
PURPOSE = "电话回访：核实助餐订单地址"


def pii_reads(elder_id: int) -> str:
    return f"{API}/elders/{elder_id}/pii-reads"


async def test_a_clear_read_needs_the_scope_a_purpose_and_the_area(client):
    elder_id, _number = await add_elder(client, who=YINZHOU)
    without_scope = staff("330212", ELDERS_READ, ELDERS_WRITE)
    assert (
        await client.post(pii_reads(elder_id), json={"purpose": PURPOSE}, headers=client.as_(without_scope))
    ).status_code == 403
    carer = resident(CARER, ELDERS_READ)
    assert (
        await client.post(pii_reads(elder_id), json={"purpose": PURPOSE}, headers=client.as_(carer))
    ).status_code == 403
    for body in ({}, {"purpose": "   "}, {"purpose": "看看"}):
        response = await client.post(pii_reads(elder_id), json=body, headers=client.as_(YINZHOU))
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "purpose", body
    other_area = await client.post(pii_reads(elder_id), json={"purpose": PURPOSE}, headers=client.as_(HAISHU))
    missing = await client.post(pii_reads(elder_id + 1000), json={"purpose": PURPOSE}, headers=client.as_(HAISHU))
    assert other_area.status_code == missing.status_code == 404
    assert other_area.json()["detail"].replace(str(elder_id), "N") == missing.json()["detail"].replace(
        str(elder_id + 1000), "N"
    )
    # None of the refused attempts left an audit record.
    listed = await client.get(f"{API}/pii-reads", headers=client.as_(YINZHOU_AUDITOR))
    assert listed.status_code == 200 and listed.json()["items"] == [], listed.text


async def test_a_clear_read_is_answered_and_audited_for_the_auditor_of_the_area(client):
    elder_id, number = await add_elder(client, who=YINZHOU)
    masked = await client.get(f"{API}/elders/{elder_id}", headers=client.as_(YINZHOU))
    assert number not in masked.text

    response = await client.post(
        pii_reads(elder_id), json={"purpose": PURPOSE}, headers=client.as_(YINZHOU) | {"X-Request-ID": "req-pii-read-1"}
    )
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["values"] == {"id_number": number, "phone": None}

    listed = await client.get(f"{API}/pii-reads", headers=client.as_(YINZHOU_AUDITOR))
    assert listed.status_code == 200, listed.text
    [record] = listed.json()["items"]
    assert record["id"] == answer["read_id"]
    assert {
        k: record[k]
        for k in (
            "reader",
            "reader_kind",
            "reader_area",
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
        "reader_area": "330212",
        "subject_type": "elder",
        "subject_id": str(elder_id),
        "subject_area": "330212001",
        "fields": ["id_number", "phone"],
        "purpose": PURPOSE,
        "request_id": "req-pii-read-1",
    }
    assert number not in listed.text  # the audit says what was read, not the values

    assert (await client.get(f"{API}/pii-reads", headers=client.as_(HAISHU_AUDITOR))).json()["items"] == []
    # Reading the audit needs the auditor's scope; the reader's own scope is not enough.
    assert (await client.get(f"{API}/pii-reads", headers=client.as_(YINZHOU))).status_code == 403


async def test_the_audit_about_one_person_is_found_by_their_id_number(client):
    elder_id, number = await add_elder(client, who=YINZHOU)
    neighbour_id, _ = await add_elder(client, who=YINZHOU, serial="023")
    for read_id in (elder_id, neighbour_id, elder_id):
        read = await client.post(pii_reads(read_id), json={"purpose": PURPOSE}, headers=client.as_(YINZHOU))
        assert read.status_code == 201, read.text

    searches = f"{API}/pii-reads/searches"
    found = await client.post(searches, json={"id_number": number}, headers=client.as_(YINZHOU_AUDITOR))
    assert found.status_code == 200, found.text
    assert [r["subject_id"] for r in found.json()["items"]] == [str(elder_id)] * 2
    assert number not in found.text
    assert (await client.post(searches, json={"id_number": number}, headers=client.as_(HAISHU_AUDITOR))).json()[
        "items"
    ] == []
    assert (await client.post(searches, json={"id_number": number}, headers=client.as_(YINZHOU))).status_code == 403
    refused = await client.post(searches, json={"id_number": number[:-1]}, headers=client.as_(YINZHOU_AUDITOR))
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "id_number", refused.text


@pytest.mark.parametrize("change", ["update", "delete"])
async def test_the_audit_refuses_update_and_delete(client, change):
    elder_id, _ = await add_elder(client, who=YINZHOU)
    response = await client.post(pii_reads(elder_id), json={"purpose": PURPOSE}, headers=client.as_(YINZHOU))
    assert response.status_code == 201, response.text
    statement = update(PII_READS).values(purpose="nothing to see") if change == "update" else delete(PII_READS)
    async with client.app.state.database.sessionmaker() as session:
        with pytest.raises(IntegrityError, match="append-only"):
            await session.execute(statement.where(PII_READS.c.id == response.json()["read_id"]))
        await session.rollback()
    [record] = (await client.get(f"{API}/pii-reads", headers=client.as_(YINZHOU_AUDITOR))).json()["items"]
    assert record["purpose"] == PURPOSE


async def test_a_committed_audit_record_and_the_harness_emptying_the_table(committed_client):
    """The record is committed with the answer; afterwards the harness empties every table, pii_reads too
    (PostgreSQL's TRUNCATE fires no row trigger; on SQLite the triggers are set aside and put back)."""
    client = committed_client
    elder_id, _ = await add_elder(client, who=YINZHOU)
    response = await client.post(pii_reads(elder_id), json={"purpose": PURPOSE}, headers=client.as_(YINZHOU))
    assert response.status_code == 201, response.text
    listed = (await client.get(f"{API}/pii-reads", headers=client.as_(YINZHOU_AUDITOR))).json()["items"]
    assert [r["id"] for r in listed] == [response.json()["read_id"]]
