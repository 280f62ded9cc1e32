"""Clear reads of a member's ID number (a scope, a purpose, the caller's area) and status lookups by ID number,
each written to the append-only audit that auditors of the area list."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from services.assistance import seed
from services.assistance.database import PII_READS, id_number_index
from shared.identity import Principal
from tests.assistance.helpers import household, member
from tests.assistance.test_assessment import month
from tests.conftest import resident, staff

API = "/api/assistance/v1"
READ, WRITE = "assistance.households:read", "assistance.households:write"
PII_READ, AUDIT_READ, STATUS = "assistance.pii:read", "assistance.pii_reads:read", "assistance.status:read"
YINZHOU = staff("330212", READ, WRITE, PII_READ, STATUS, subject="staff:yinzhou")
HAISHU = staff("330203", READ, PII_READ, subject="staff:haishu")
YINZHOU_AUDITOR = staff("330212", READ, AUDIT_READ, subject="staff:auditor-yinzhou")
HAISHU_AUDITOR = staff("330203", READ, AUDIT_READ, subject="staff:auditor-haishu")
SUPERVISOR = Principal(subject="partner:supervisor", kind="partner", scopes=frozenset({AUDIT_READ}))
ELDERCARE = Principal(subject="service:eldercare", kind="service", scopes=frozenset({STATUS}))
PURPOSE = "入户核查：核对身份证件"


async def add_household(client) -> tuple[int, int, str]:
    body = household(member(), member("spouse", age=37))
    created = await client.post(f"{API}/households", json=body, headers=client.as_(YINZHOU))
    assert created.status_code == 201, created.text
    spouse = created.json()["members"][1]
    return created.json()["id"], spouse["id"], body["members"][1]["id_number"]


def pii_reads(household_id: int, member_id: int) -> str:
    return f"{API}/households/{household_id}/members/{member_id}/pii-reads"


async def audit(client, principal=YINZHOU_AUDITOR, **params) -> list[dict]:
    listed = await client.get(f"{API}/pii-reads", params=params, headers=client.as_(principal))
    assert listed.status_code == 200, listed.text
    return listed.json()["items"]


async def test_a_clear_read_needs_the_scope_a_purpose_and_the_area(client):
    household_id, member_id, _ = await add_household(client)
    url = pii_reads(household_id, member_id)
    for principal in (staff("330212", READ, WRITE), ELDERCARE):
        assert (await client.post(url, json={"purpose": PURPOSE}, headers=client.as_(principal))).status_code == 403
    # Given the scopes, a resident still sees no household through this route (as when reading the household).
    intruder = resident("resident:13800000001", READ, PII_READ)
    assert (await client.post(url, json={"purpose": PURPOSE}, headers=client.as_(intruder))).status_code == 404
    for body in ({}, {"purpose": "   "}, {"purpose": "看看"}):
        response = await client.post(url, json=body, headers=client.as_(YINZHOU))
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "purpose", body
    other_area = await client.post(url, json={"purpose": PURPOSE}, headers=client.as_(HAISHU))
    missing = await client.post(
        pii_reads(household_id + 1000, member_id), json={"purpose": PURPOSE}, headers=client.as_(HAISHU)
    )
    not_a_member = await client.post(
        pii_reads(household_id, member_id + 1000), json={"purpose": PURPOSE}, headers=client.as_(YINZHOU)
    )
    assert other_area.status_code == missing.status_code == not_a_member.status_code == 404
    assert other_area.json()["detail"].replace(str(household_id), "N") == missing.json()["detail"].replace(
        str(household_id + 1000), "N"
    )
    assert await audit(client, SUPERVISOR) == []  # no refused attempt left a record


async def test_a_clear_read_is_answered_and_audited_for_the_auditor_of_the_area(client):
    household_id, member_id, number = await add_household(client)
    masked = await client.get(f"{API}/households/{household_id}", headers=client.as_(YINZHOU))
    assert number not in masked.text

    response = await client.post(
        pii_reads(household_id, member_id),
        json={"purpose": PURPOSE},
        headers=client.as_(YINZHOU) | {"X-Request-ID": "req-assistance-pii-1"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["values"] == {"id_number": number}

    [record] = await audit(client)
    assert record["id"] == response.json()["read_id"]
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
        "subject_type": "member",
        "subject_id": str(member_id),
        "subject_area": "330212001005",
        "fields": ["id_number"],
        "purpose": PURPOSE,
        "request_id": "req-assistance-pii-1",
    }
    assert await audit(client, HAISHU_AUDITOR) == []
    assert (await client.get(f"{API}/pii-reads", headers=client.as_(YINZHOU))).status_code == 403


async def test_every_status_lookup_is_audited_without_the_id_number(client):
    async with client.app.state.database.sessionmaker() as session:
        await seed.load(session)
        await session.commit()
    wang, stranger = "330203194503150022", "330212194001220031"
    first = await client.post(f"{API}/status-lookups", json={"id_number": wang}, headers=client.as_(ELDERCARE))
    second = await client.post(
        f"{API}/status-lookups",
        json={"id_number": stranger, "purpose": "助餐补贴价格核定"},
        headers=client.as_(YINZHOU),
    )
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert (
        await client.post(
            f"{API}/status-lookups", json={"id_number": wang, "purpose": "x"}, headers=client.as_(ELDERCARE)
        )
    ).status_code == 422

    everything = await audit(client, SUPERVISOR, subject_type="status_lookup")
    assert [(r["reader"], r["subject_id"], r["subject_area"], r["fields"], r["purpose"]) for r in everything] == [
        ("staff:yinzhou", id_number_index(stranger), None, ["programmes"], "助餐补贴价格核定"),
        (
            "service:eldercare",
            id_number_index(wang),
            "330203005005",
            ["programmes"],
            "eligibility for service:eldercare",
        ),
    ]
    text = str(everything)
    assert wang not in text and stranger not in text
    # 王阿娣's household is in 海曙区: that district's auditor sees the lookup about her, 鄞州区's does not.
    assert [r["subject_id"] for r in await audit(client, HAISHU_AUDITOR)] == [id_number_index(wang)]
    assert await audit(client, YINZHOU_AUDITOR) == []


@pytest.mark.parametrize("change", ["update", "delete"])
async def test_the_audit_refuses_update_and_delete(client, change):
    household_id, member_id, _ = await add_household(client)
    response = await client.post(
        pii_reads(household_id, member_id), json={"purpose": PURPOSE}, headers=client.as_(YINZHOU)
    )
    assert response.status_code == 201, response.text
    statement = update(PII_READS).values(purpose="nothing to see") if change == "update" else delete(PII_READS)
    async with client.app.state.database.sessionmaker() as session:
        with pytest.raises(IntegrityError, match="append-only"):
            await session.execute(statement.where(PII_READS.c.id == response.json()["read_id"]))
        await session.rollback()
    [record] = await audit(client)
    assert record["purpose"] == PURPOSE


async def test_a_committed_audit_record_survives_and_the_harness_still_empties_the_table(committed_client):
    client = committed_client
    household_id, member_id, _ = await add_household(client)
    response = await client.post(
        pii_reads(household_id, member_id), json={"purpose": PURPOSE}, headers=client.as_(YINZHOU)
    )
    assert response.status_code == 201, response.text
    assert [r["id"] for r in await audit(client)] == [response.json()["read_id"]]


async def test_an_income_is_read_in_the_clear_only_with_the_scope_and_audited_about_its_member(client):
    household_id, spouse_id, _ = await add_household(client)
    recorded = await client.post(
        f"{API}/households/{household_id}/incomes",
        headers=client.as_(YINZHOU),
        json={
            "member_id": spouse_id,
            "kind": "pension",
            "item": "pension",
            "amount_fen": 360_000,
            "period_from": month(3),  # up to last month: in the totals of today
            "period_to": month(1),
            "source": {"kind": "department", "name": "市人力社保局", "obtained_on": "2024-04-02"},
        },
    )
    assert recorded.status_code == 201, recorded.text
    income_id = recorded.json()["id"]
    assert (recorded.json()["amount_fen"], recorded.json()["monthly_fen"]) == (None, None)
    url = f"{API}/households/{household_id}/incomes/{income_id}/pii-reads"
    totals_url = f"{API}/households/{household_id}/economic-status/pii-reads"
    for address in (url, totals_url):
        refused = await client.post(address, json={"purpose": PURPOSE}, headers=client.as_(staff("330212", READ)))
        assert refused.status_code == 403
        assert (await client.post(address, json={"purpose": PURPOSE}, headers=client.as_(HAISHU))).status_code == 404
        assert (await client.post(address, json={"purpose": "看"}, headers=client.as_(YINZHOU))).status_code == 422
    assert (
        await client.post(
            f"{API}/households/{household_id}/incomes/{income_id + 1000}/pii-reads",
            json={"purpose": PURPOSE},
            headers=client.as_(YINZHOU),
        )
    ).status_code == 404
    assert await audit(client, SUPERVISOR) == []  # no refused attempt left a record

    clear = await client.post(url, json={"purpose": "入户调查：核对养老金"}, headers=client.as_(YINZHOU))
    assert clear.status_code == 201, clear.text
    assert clear.json()["values"] == {
        f"incomes.{income_id}.amount_fen": "360000",
        f"incomes.{income_id}.monthly_fen": "120000",
    }
    totals = await client.post(totals_url, json={"purpose": "入户调查：核对收入合计"}, headers=client.as_(YINZHOU))
    assert totals.status_code == 201 and totals.json()["values"] == {
        "counted_monthly_income_fen": "120000",
        "exempt_monthly_income_fen": "0",
    }
    records = await audit(client)
    assert [(r["subject_type"], r["subject_id"], r["subject_area"], r["fields"], r["purpose"]) for r in records] == [
        (
            "household",
            str(household_id),
            "330212001005",
            ["counted_monthly_income_fen", "exempt_monthly_income_fen"],
            "入户调查：核对收入合计",
        ),
        (
            "member",
            str(spouse_id),
            "330212001005",
            [f"incomes.{income_id}.amount_fen", f"incomes.{income_id}.monthly_fen"],
            "入户调查：核对养老金",
        ),
    ]
    assert "360000" not in str(records) and "120000" not in str(records)
