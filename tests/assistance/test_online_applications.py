"""Applying from a phone (网上申请): a resident declares the household, applies with consent, uploads materials,
answers staff's requests for more, and follows the application to its decision; nobody else sees any of it."""

import hashlib
import re

import pytest
from sqlalchemy import select

from services.assistance.database import PII_READS
from services.assistance.online.models import DataCheckConsent
from shared.blobs import LocalBlobStore
from tests.assistance.helpers import household, member
from tests.assistance.test_applications import (
    API,
    COMMUNITY,
    OTHER_DISTRICT,
    SCOPES,
    STREET,
    act,
    today,  # noqa: F401  (a pytest fixture these tests use)
)
from tests.assistance.test_assessment import income
from tests.assistance.test_households import create
from tests.conftest import resident, staff

ONLINE = ("assistance.online_applications:read", "assistance.online_applications:write")
MOTHER = resident("resident:mother", *ONLINE)
STRANGER = resident("resident:stranger", *ONLINE)
READER = staff("330212001005", *SCOPES, "assistance.pii:read", subject="staff:community-reader")
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
DECLARED = {"kind": "applicant", "name": "申请人申报", "obtained_on": "2024-07-10"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" + b"%" * 512 + b"\n%%EOF\n"
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 600
HTML = b"<!doctype html><html><script>alert(1)</script></html>"


@pytest.fixture
def store(client, tmp_path):
    """The materials on a disk of the test's own (the dev store, under var/, otherwise)."""
    client.app.state.materials_store = LocalBlobStore(tmp_path / "materials")
    return client.app.state.materials_store


async def declare(client, principal=MOTHER, body=None):
    body = body or household(member(age=45), member("child", age=10))
    response = await client.post(f"{API}/declared-households", json=body, headers=client.as_(principal))
    assert response.status_code == 201, response.text
    return response.json()


async def apply(client, household_id, programme="dibao", principal=MOTHER, expect=201, **extra):
    body = {"household_id": household_id, "programme": programme, "consent": {"agreed": True, "checks": ECONOMIC}}
    response = await client.post(f"{API}/online-applications", json=body | extra, headers=client.as_(principal))
    assert response.status_code == expect, response.text
    return response.json()


async def upload(client, application_id, data, name="photo.jpg", kind="id_card", principal=MOTHER):
    return await client.post(
        f"{API}/online-applications/{application_id}/materials",
        files={"file": (name, data, "image/jpeg")},
        data={"kind": kind},
        headers=client.as_(principal),
    )


def field_of(response) -> str:
    return response.json()["errors"][0]["field"]


async def test_a_resident_declares_applies_with_consent_and_the_application_is_at_acceptance(client, today):  # noqa: F811
    h = await declare(client)
    assert [m["relationship"] for m in h["members"]] == ["applicant", "child"]
    assert "*" in h["members"][0]["id_number_masked"]
    income_body = income(h["members"][0]["id"], amount_fen=600_000, source=DECLARED)
    declared = await client.post(
        f"{API}/declared-households/{h['id']}/incomes", json=income_body, headers=client.as_(MOTHER)
    )
    assert declared.status_code == 201 and declared.json()["source"]["kind"] == "applicant", declared.text
    asset = {"kind": "deposit", "value_fen": 500_000, "source": DECLARED}
    declared = await client.post(f"{API}/declared-households/{h['id']}/assets", json=asset, headers=client.as_(MOTHER))
    assert declared.status_code == 201, declared.text

    application = await apply(client, h["id"])
    assert (application["state"], application["programme"], application["materials_requested"]) == (
        "accepted",
        "dibao",
        False,
    )
    assert [s["step"] for s in application["steps"]] == ["accept"]
    assert application["consent"]["given_by"] == MOTHER.subject and application["consent"]["checks"] == sorted(ECONOMIC)
    async with client.app.state.database.sessionmaker() as session:
        consent = await session.scalar(
            select(DataCheckConsent).where(DataCheckConsent.application_id == application["id"])
        )
    assert consent.given_by == MOTHER.subject and consent.given_at.tzinfo is not None and consent.wording_version

    # The community sees it in the review chain, accepted online by the resident, with the declared figures.
    staff_view = await client.get(f"{API}/applications/{application['id']}", headers=client.as_(COMMUNITY))
    assert staff_view.status_code == 200, staff_view.text
    [accepted] = staff_view.json()["events"]
    assert (accepted["step"], accepted["actor"], accepted["detail"]["channel"]) == ("accept", MOTHER.subject, "online")
    economic = await client.get(f"{API}/households/{h['id']}/economic-status", headers=client.as_(COMMUNITY))
    assert [i["source"]["kind"] for i in economic.json()["incomes"]] == ["applicant"]

    mine = await client.get(f"{API}/online-applications", headers=client.as_(MOTHER))
    assert [a["id"] for a in mine.json()["items"]] == [application["id"]]
    households = await client.get(f"{API}/declared-households", headers=client.as_(MOTHER))
    assert [x["id"] for x in households.json()] == [h["id"]]


async def test_nobody_else_sees_or_uses_a_residents_household_or_application(client, today):  # noqa: F811
    h = await declare(client)
    application = await apply(client, h["id"])
    counter = await create(client, household(member(age=50)), COMMUNITY)
    for path in (f"/online-applications/{application['id']}", f"/declared-households/{h['id']}"):
        assert (await client.get(f"{API}{path}", headers=client.as_(STRANGER))).status_code == 404
    assert (await client.get(f"{API}/online-applications", headers=client.as_(STRANGER))).json()["items"] == []
    # Another's household, or one staff recorded, is not one to apply for or add to.
    for household_id in (h["id"], counter["id"]):
        refused = await apply(client, household_id, principal=STRANGER, expect=404)
        assert refused["status"] == 404
    refused = await client.post(
        f"{API}/declared-households/{h['id']}/incomes",
        json=income(h["members"][0]["id"], source=DECLARED),
        headers=client.as_(STRANGER),
    )
    assert refused.status_code == 404
    assert (await upload(client, application["id"], PNG, principal=STRANGER)).status_code == 404
    # Staff of another district do not see it either; a staff token has no business on the resident's routes.
    assert (
        await client.get(f"{API}/applications/{application['id']}/materials", headers=client.as_(OTHER_DISTRICT))
    ).status_code == 404
    assert (await client.get(f"{API}/online-applications", headers=client.as_(COMMUNITY))).status_code == 403


async def test_bad_applications_are_refused_naming_the_field(client, today):  # noqa: F811
    h = await declare(client)
    missing = await apply(client, h["id"], expect=422, consent={"agreed": True, "checks": ["tax"]})
    assert missing["errors"][0]["field"] == "consent.checks" and "real_estate" in missing["detail"]
    not_agreed = await apply(client, h["id"], expect=422, consent={"agreed": False, "checks": ECONOMIC})
    assert "agreed" in str(not_agreed["errors"])
    wrong = await apply(client, h["id"], programme="orphan_scattered", expect=422)
    assert "programme" in str(wrong["errors"])
    no_member = await apply(
        client,
        h["id"],
        programme="disability_care_subsidy",
        expect=422,
        consent={"agreed": True, "checks": ["household_registration", "disability_records"]},
    )
    assert no_member["errors"][0]["field"] == "member_id"
    as_department = await client.post(
        f"{API}/declared-households/{h['id']}/incomes",
        json=income(h["members"][0]["id"], source=DECLARED | {"kind": "department"}),
        headers=client.as_(MOTHER),
    )
    assert as_department.status_code == 422 and field_of(as_department) == "source.kind"
    elsewhere = await client.post(
        f"{API}/declared-households", json=household(member(), area_code="110101001001"), headers=client.as_(MOTHER)
    )
    assert elsewhere.status_code == 422 and field_of(elsewhere) == "area_code"
    # A person may be in one household only; the resident is not told which.
    body = household(member(age=30))
    await declare(client, STRANGER, body)
    twice = await client.post(f"{API}/declared-households", json=body, headers=client.as_(MOTHER))
    assert twice.status_code == 409 and not re.search(r"household \d", twice.json()["detail"])
    assert twice.json().get("resource") is None
    # Applying twice for one programme while the first is open: a 409 naming the open one; another programme is fine.
    first = await apply(client, h["id"])
    second = await apply(client, h["id"], expect=409)
    assert second["resource"] == f"applications/{first['id']}"
    tekun = await apply(client, h["id"], programme="tekun", member_id=h["members"][0]["id"])
    assert tekun["state"] == "accepted"
    assert (await client.get(f"{API}/online-applications", headers=client.as_(MOTHER))).status_code == 200


async def test_materials_are_typed_by_their_bytes_bounded_and_stored_once(client, store, today):  # noqa: F811
    application = await apply(client, (await declare(client))["id"])
    stored = await upload(client, application["id"], PNG, name="身份证正面.jpg")
    assert stored.status_code == 201, stored.text
    material = stored.json()
    assert (material["content_type"], material["size_bytes"], material["sha256"]) == (
        "image/png",
        len(PNG),
        hashlib.sha256(PNG).hexdigest(),
    )
    assert material["original_name"] == "身份证正面.jpg"
    # The same bytes again are the same material, whatever they are called now.
    again = await upload(client, application["id"], PNG, name="again.png", kind="other")
    assert again.status_code == 200 and again.json()["id"] == material["id"]
    # A PDF named .jpg is stored, and served, as the PDF it is.
    pdf = await upload(client, application["id"], PDF, name="户口簿.jpg", kind="household_register")
    assert pdf.status_code == 201 and pdf.json()["content_type"] == "application/pdf", pdf.text
    served = await client.get(
        f"{API}/online-applications/{application['id']}/materials/{pdf.json()['id']}/content",
        headers=client.as_(MOTHER),
    )
    assert served.status_code == 200 and served.content == PDF
    assert served.headers["content-type"] == "application/pdf" and served.headers["x-content-type-options"] == "nosniff"
    # Disguised files: an archive (a zip bomb is one) and a web page named .jpg, and an empty file.
    for data in (ZIP, HTML, b""):
        refused = await upload(client, application["id"], data, name="photo.jpg")
        assert refused.status_code == 415 and field_of(refused) == "file", refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    # Too large: refused while reading, naming the field.
    client.app.state.settings.materials_max_bytes = 2048
    too_big = await upload(client, application["id"], JPEG + b"\x00" * 4096)
    assert too_big.status_code == 413 and field_of(too_big) == "file", too_big.text
    unknown_kind = await upload(client, application["id"], JPEG, kind="selfie")
    assert unknown_kind.status_code == 422
    # Nothing was lost or half-stored: the two materials, each file whole on disk; the next upload works.
    assert (await upload(client, application["id"], JPEG)).status_code == 201
    listed = await client.get(f"{API}/applications/{application['id']}/materials", headers=client.as_(COMMUNITY))
    assert [m["content_type"] for m in listed.json()["materials"]] == ["image/png", "application/pdf", "image/jpeg"]
    # Staff read the files as personal data in the clear: with the PII scope and a purpose, each read audited.
    first = f"{API}/applications/{application['id']}/materials/{listed.json()['materials'][0]['id']}/content"
    assert (await client.get(first, params={"purpose": "核对"}, headers=client.as_(COMMUNITY))).status_code == 403
    no_purpose = await client.get(first, headers=client.as_(READER))
    assert no_purpose.status_code == 422 and "purpose" in no_purpose.text
    for m in listed.json()["materials"]:
        content = await client.get(
            f"{API}/applications/{application['id']}/materials/{m['id']}/content",
            params={"purpose": "入户调查：核对户口簿"},
            headers=client.as_(READER),
        )
        assert hashlib.sha256(content.content).hexdigest() == m["sha256"]
    async with client.app.state.database.sessionmaker() as session:
        audited = (
            await session.execute(
                select(PII_READS.c.reader, PII_READS.c.subject_type, PII_READS.c.subject_id, PII_READS.c.purpose)
            )
        ).all()
    assert audited == [(READER.subject, "household", str(application["household_id"]), "入户调查：核对户口簿")] * 3
    assert sorted(p.name for p in (store.root / f"applications/{application['id']}").iterdir()) == sorted(
        f"{m['sha256']}.{ext}" for m, ext in zip(listed.json()["materials"], ("png", "pdf", "jpg"), strict=True)
    )


async def test_staff_ask_for_more_materials_and_the_resident_answers(client, store, today):  # noqa: F811
    h = await declare(client)
    application = await apply(client, h["id"])
    path = f"/applications/{application['id']}/material-requests"
    asked = await act(client, COMMUNITY, path, {"note": "请补充户口簿首页照片"}, expect=201)
    assert asked["open"] is True and asked["requested_by"] == COMMUNITY.subject
    again = await client.post(f"{API}{path}", json={"note": "再要一份"}, headers=client.as_(STREET))
    assert again.status_code == 409 and again.json()["resource"].endswith(f"material-requests/{asked['id']}")

    # The resident sees that materials are asked for, and what.
    seen = (await client.get(f"{API}/online-applications/{application['id']}", headers=client.as_(MOTHER))).json()
    assert seen["materials_requested"] is True and seen["open_material_request"]["note"] == "请补充户口簿首页照片"
    assert seen["steps"][-1] == {
        "step": "request_materials",
        "at": seen["steps"][-1]["at"],
        "passed": None,
        "reasons": None,
        "note": "请补充户口簿首页照片",
    }
    answer = f"{API}/online-applications/{application['id']}/material-requests/{asked['id']}/answer"
    too_soon = await client.post(answer, json={}, headers=client.as_(MOTHER))
    assert too_soon.status_code == 409  # nothing uploaded yet
    uploaded = await upload(client, application["id"], JPEG, kind="household_register")
    assert uploaded.json()["request_id"] == asked["id"]
    assert (await client.post(answer, json={"note": "已上传"}, headers=client.as_(STRANGER))).status_code == 404
    answered = await client.post(answer, json={"note": "已上传"}, headers=client.as_(MOTHER))
    assert answered.status_code == 200 and answered.json()["open"] is False, answered.text
    assert (await client.post(answer, json={}, headers=client.as_(MOTHER))).status_code == 409
    seen = (await client.get(f"{API}/online-applications/{application['id']}", headers=client.as_(MOTHER))).json()
    assert seen["materials_requested"] is False and seen["open_material_request"] is None
    assert [s["step"] for s in seen["steps"]] == ["accept", "request_materials", "answer_materials"]
    staff = (await client.get(f"{API}/applications/{application['id']}/materials", headers=client.as_(STREET))).json()
    assert [(r["open"], r["answered_by"], r["answer_note"]) for r in staff["requests"]] == [
        (False, MOTHER.subject, "已上传")
    ]
    # Staff may ask again once the first is answered; an application made at the counter is asked at the counter.
    await act(client, COMMUNITY, path, {"note": "请补充收入证明"}, expect=201)
    counter_household = await create(client, household(member(age=52)), COMMUNITY)
    counter = await act(
        client, COMMUNITY, "/applications", {"household_id": counter_household["id"], "programme": "dibao"}, 201
    )
    refused = await client.post(
        f"{API}/applications/{counter['id']}/material-requests", json={"note": "请补充"}, headers=client.as_(COMMUNITY)
    )
    assert refused.status_code == 409


async def test_the_resident_sees_the_decision_and_its_reasons(client, store, today):  # noqa: F811
    application = await apply(client, (await declare(client))["id"])
    await act(
        client,
        COMMUNITY,
        f"/applications/{application['id']}/investigation",
        {"visited_on": "2024-07-15", "findings": "邻居反映其另有住房（内部记录）"},
    )
    await act(
        client,
        STREET,
        f"/applications/{application['id']}/preliminary-review",
        {"passed": False, "reasons": "家庭存款超过规定标准"},
    )
    seen = await client.get(f"{API}/online-applications/{application['id']}", headers=client.as_(MOTHER))
    body = seen.json()
    assert (body["state"], body["reasons"]) == ("rejected", "家庭存款超过规定标准")
    review = next(s for s in body["steps"] if s["step"] == "preliminary_review")
    assert (review["passed"], review["reasons"]) == (False, "家庭存款超过规定标准")
    assert "内部记录" not in seen.text and "staff:" not in seen.text  # staff's notes and names stay with staff
    # A decided application takes no more materials; a new application may be made.
    late = await upload(client, application["id"], PNG)
    assert late.status_code == 409
    assert (await apply(client, application["household_id"]))["state"] == "accepted"
