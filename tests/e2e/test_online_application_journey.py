"""Applying from a phone, as a family does it: real processes, through the gateway, a resident signed in by SMS."""

import datetime as dt
import hashlib

import httpx
import pytest

from tests.e2e.test_journeys import (
    ASSISTANCE,
    assert_problem,
    id_number,
    resident_signs_in,
    shanghai_today,
    staff,
    unique,
)
from tests.e2e.test_suite import standard_address

pytestmark = pytest.mark.e2e

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" + b"%" * 2048 + b"\n%%EOF\n"
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 2048
ECONOMIC = [
    "household_registration",
    "social_insurance",
    "tax",
    "real_estate",
    "vehicles",
    "business_registration",
    "housing_fund",
    "deposits",
    "securities",
]


def test_a_family_applies_for_dibao_from_a_phone_and_answers_a_request_for_materials(suite):
    """A mother signs in by SMS, declares her household of two with her wages, and applies for 低保 with her consent
    to the partner checks: the application is at 受理 for 百丈街道, who see it, ask for the household register and
    receive it. Disguised and oversized files are refused with a problem; another resident sees nothing of it."""
    url = suite.url() + ASSISTANCE
    mother, stranger = resident_signs_in(suite), resident_signs_in(suite)
    street = staff(suite, "baizhang-demo")
    run = unique()
    declared = httpx.post(
        f"{url}/declared-households",
        headers=mother,
        json={
            "address_code": standard_address(suite)["code"],  # a house filed under a community of 百丈街道
            "members": [
                {
                    "id_number": id_number(1980, female=True),
                    "name": f"申请人{run % 10000:04d}",
                    "relationship": "applicant",
                },
                {"id_number": id_number(2015, female=False), "name": "子女", "relationship": "child"},
            ],
        },
        # The service looks the address up at placenames, through the gateway: two more hops than other calls,
        # which a loaded test machine can stretch past httpx's default 5 s.
        timeout=30,
    )
    assert declared.status_code == 201, declared.text
    household = declared.json()
    last_month = shanghai_today().replace(day=1) - dt.timedelta(days=1)
    wages = httpx.post(
        f"{url}/declared-households/{household['id']}/incomes",
        headers=mother,
        json={
            "member_id": household["members"][0]["id"],
            "kind": "wages",
            "item": "wages",
            "amount_fen": 100_000,
            "period_from": f"{last_month:%Y-%m}",
            "period_to": f"{last_month:%Y-%m}",
            "source": {"kind": "applicant", "name": "申请人申报", "obtained_on": shanghai_today().isoformat()},
        },
    )
    assert wages.status_code == 201, wages.text

    body = {"household_id": household["id"], "programme": "dibao", "consent": {"agreed": True, "checks": ECONOMIC}}
    key = {"Idempotency-Key": f"online-{run}"}
    applied = httpx.post(f"{url}/online-applications", headers=mother | key, json=body)
    assert applied.status_code == 201, applied.text
    application = applied.json()
    assert application["state"] == "accepted" and application["consent"]["checks"] == sorted(ECONOMIC)
    replayed = httpx.post(f"{url}/online-applications", headers=mother | key, json=body)
    assert replayed.headers.get("idempotent-replayed") == "true" and replayed.json()["id"] == application["id"]
    twice = httpx.post(f"{url}/online-applications", headers=mother, json=body)
    assert assert_problem(twice, 409)["resource"] == f"applications/{application['id']}"
    wrong = httpx.post(f"{url}/online-applications", headers=mother, json=body | {"programme": "orphan_scattered"})
    assert_problem(wrong, 422)

    # Another resident: nothing of hers, not even by id.
    assert_problem(httpx.get(f"{url}/online-applications/{application['id']}", headers=stranger), 404)
    assert_problem(httpx.post(f"{url}/online-applications", headers=stranger, json=body), 404)
    assert httpx.get(f"{url}/online-applications", headers=stranger).json()["items"] == []

    materials = f"{url}/online-applications/{application['id']}/materials"
    photo = httpx.post(
        materials, headers=mother, files={"file": ("身份证.jpg", PNG, "image/jpeg")}, data={"kind": "id_card"}
    )
    assert photo.status_code == 201 and photo.json()["content_type"] == "image/png", photo.text
    disguised = httpx.post(
        materials,
        headers=mother,
        files={"file": ("户口簿.jpg", ZIP, "image/jpeg")},
        data={"kind": "household_register"},
    )
    assert assert_problem(disguised, 415)["errors"][0]["field"] == "file"
    oversized = httpx.post(
        materials,
        headers=mother,
        files={"file": ("big.jpg", PNG + b"\x00" * 2_000_000, "image/jpeg")},
        data={"kind": "other"},
    )
    assert_problem(oversized, 413)

    # The street sees the application in its chain, asks for the household register.
    listed = httpx.get(f"{url}/applications/{application['id']}", headers=street)
    assert listed.status_code == 200 and listed.json()["events"][0]["detail"]["channel"] == "online", listed.text
    asked = httpx.post(
        f"{url}/applications/{application['id']}/material-requests", headers=street, json={"note": "请补充户口簿照片"}
    )
    assert asked.status_code == 201, asked.text
    seen = httpx.get(f"{url}/online-applications/{application['id']}", headers=mother).json()
    assert seen["materials_requested"] is True and seen["open_material_request"]["note"] == "请补充户口簿照片"

    register = httpx.post(
        materials,
        headers=mother,
        files={"file": ("户口簿.jpg", PDF, "image/jpeg")},
        data={"kind": "household_register"},
    )
    assert register.status_code == 201 and register.json()["content_type"] == "application/pdf", register.text
    answered = httpx.post(
        f"{url}/online-applications/{application['id']}/material-requests/{asked.json()['id']}/answer",
        headers=mother,
        json={"note": "已上传户口簿"},
    )
    assert answered.status_code == 200 and answered.json()["open"] is False, answered.text
    seen = httpx.get(f"{url}/online-applications/{application['id']}", headers=mother).json()
    assert seen["materials_requested"] is False
    assert [s["step"] for s in seen["steps"]] == ["accept", "request_materials", "answer_materials"]

    content = httpx.get(
        f"{url}/applications/{application['id']}/materials/{register.json()['id']}/content",
        params={"purpose": "受理审核：核对户口簿"},
        headers=street,
    )
    assert content.status_code == 200 and content.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(content.content).hexdigest() == register.json()["sha256"]
