"""An auditor who knows a person by ID number (a citizen asks who looked at their data) finds every audit record
about them, member reads and status lookups alike, without the number reaching a URL or the audit."""

from __future__ import annotations

from tests.assistance.test_pii_reads import (
    API,
    HAISHU_AUDITOR,
    PURPOSE,
    SUPERVISOR,
    YINZHOU,
    YINZHOU_AUDITOR,
    add_household,
    pii_reads,
)
from tests.conftest import staff

SEARCHES = f"{API}/pii-reads/searches"


async def test_the_audit_about_one_person_is_found_by_their_id_number(client):
    household_id, spouse_id, spouse_number = await add_household(client)
    household = (await client.get(f"{API}/households/{household_id}", headers=client.as_(YINZHOU))).json()
    applicant_id = household["members"][0]["id"]
    for member_id in (spouse_id, applicant_id, spouse_id):
        read = await client.post(
            pii_reads(household_id, member_id), json={"purpose": PURPOSE}, headers=client.as_(YINZHOU)
        )
        assert read.status_code == 201, read.text
    lookup = await client.post(
        f"{API}/status-lookups",
        json={"id_number": spouse_number, "purpose": "助餐补贴价格核定"},
        headers=client.as_(YINZHOU),
    )
    assert lookup.status_code == 200, lookup.text
    totals = await client.post(
        f"{API}/households/{household_id}/economic-status/pii-reads",
        json={"purpose": "入户调查：核对家庭收入"},
        headers=client.as_(YINZHOU),
    )
    assert totals.status_code == 201, totals.text

    found = await client.post(SEARCHES, json={"id_number": spouse_number.lower()}, headers=client.as_(SUPERVISOR))
    assert found.status_code == 200, found.text
    records = found.json()["items"]
    assert [(r["subject_type"], r["purpose"]) for r in records] == [
        ("household", "入户调查：核对家庭收入"),
        ("status_lookup", "助餐补贴价格核定"),
        ("member", PURPOSE),
        ("member", PURPOSE),
    ]
    assert records[0]["subject_id"] == str(household_id)
    assert {r["subject_id"] for r in records if r["subject_type"] == "member"} == {str(spouse_id)}
    assert spouse_number not in found.text

    # Pages go on with the cursor and the same body; the area rule of the list holds.
    first = (
        await client.post(
            SEARCHES, params={"limit": 2}, json={"id_number": spouse_number}, headers=client.as_(SUPERVISOR)
        )
    ).json()
    rest = (
        await client.post(
            SEARCHES,
            params={"limit": 2, "cursor": first["next_cursor"]},
            json={"id_number": spouse_number},
            headers=client.as_(SUPERVISOR),
        )
    ).json()
    assert [r["id"] for r in first["items"] + rest["items"]] == [r["id"] for r in records]
    assert rest["next_cursor"] is None
    in_area = (
        await client.post(SEARCHES, json={"id_number": spouse_number}, headers=client.as_(YINZHOU_AUDITOR))
    ).json()["items"]
    # The lookup found no programme, so no household's area: the district's auditor sees the rest.
    assert [r["subject_type"] for r in in_area] == ["household", "member", "member"]
    assert (await client.post(SEARCHES, json={"id_number": spouse_number}, headers=client.as_(HAISHU_AUDITOR))).json()[
        "items"
    ] == []


async def test_a_search_needs_the_auditor_scope_and_a_valid_id_number(client):
    _, _, number = await add_household(client)
    reader = staff("330212", "assistance.households:read", "assistance.pii:read")
    assert (await client.post(SEARCHES, json={"id_number": number}, headers=client.as_(reader))).status_code == 403
    assert (await client.post(SEARCHES, json={"id_number": number})).status_code == 401
    for body, field in (
        ({}, "id_number"),
        ({"id_number": "330212198001011234"}, "id_number"),
        ({"phone": "13800000001"}, "phone"),
        ({"id_number": number, "since": "2026-01-01T00:00"}, "since"),
    ):
        response = await client.post(SEARCHES, json=body, headers=client.as_(SUPERVISOR))
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"][0]["field"].endswith(field), (body, response.text)
    stranger = "330212194001220031"  # valid, and in no record: an empty answer, not an error
    answer = await client.post(SEARCHES, json={"id_number": stranger}, headers=client.as_(SUPERVISOR))
    assert answer.status_code == 200 and answer.json()["items"] == []
