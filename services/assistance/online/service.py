"""Applying from a phone (网上申请): a resident declares their household, applies for a programme with consent to
the partner checks, and the application enters the review chain at 受理 (applications/service.py), where staff
take it on. Staff may ask for more materials (补充材料); the resident uploads them and answers.

A resident sees only the households they declared and the applications they submitted: anything else is the same
404 as what does not exist. Materials are stored in the blob store under their content hash before their row is
written, so a row never lacks its file, and a retried upload finds its first copy.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance import notices
from services.assistance.applications import service as applications
from services.assistance.applications.models import OPEN_STATES, Application, ApplicationEvent
from services.assistance.applications.schemas import ApplicationIn
from services.assistance.assessment import service as assessment
from services.assistance.assessment.models import Asset, Income
from services.assistance.assessment.schemas import AssetIn, IncomeIn
from services.assistance.database import PII_READS
from services.assistance.households import service as households
from services.assistance.households.models import Household, Member
from services.assistance.households.schemas import HouseholdIn
from services.assistance.online.models import DataCheckConsent, Material, MaterialRequest
from services.assistance.online.schemas import (
    ConsentOut,
    MaterialAnswerIn,
    MaterialOut,
    MaterialRequestIn,
    MaterialRequestOut,
    OnlineApplicationIn,
    OnlineApplicationOut,
    StaffMaterialRequestOut,
    StepOut,
)
from shared.addresses import AddressValues
from shared.areas import CITY_CODE, covers
from shared.blobs import BlobStore
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.identity import Principal
from shared.pagination import PageParams, keyset
from shared.pii_reads import record_pii_read
from shared.uploads import CheckedFile

# The consent text the mini-program shows, by version: a new wording gets a new version, and each consent keeps the
# version its giver read.
CONSENT_WORDING_VERSION = "2026-12"
ECONOMIC_CHECKS = frozenset(
    {
        "household_registration",
        "social_insurance",
        "tax",
        "real_estate",
        "vehicles",
        "business_registration",
        "housing_fund",
        "deposits",
        "securities",
    }
)
DISABILITY_CHECKS = frozenset({"household_registration", "disability_records"})
# Which partner checks each programme's assessment needs (家庭经济状况核对; 残疾人两项补贴 rest on the 残联 record).
REQUIRED_CHECKS: dict[str, frozenset[str]] = {
    "dibao": ECONOMIC_CHECKS,
    "dibao_marginal": ECONOMIC_CHECKS,
    "tekun": ECONOMIC_CHECKS,
    "disability_living_subsidy": DISABILITY_CHECKS,
    "disability_care_subsidy": DISABILITY_CHECKS,
}
DECLARED_SOURCE = (
    "applicant"  # what a resident states is the applicant's declaration (申请人申报), never a department's
)
# What a resident may see of each step's audit detail: reasons given to them, never staff's notes or objections.
VISIBLE_DETAIL = {"preliminary_review": ("passed", "reasons"), "decide": ("approve", "reasons")}
NAME_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


# A transaction-scoped advisory lock per resident (its first key keeps these apart from other advisory locks), so
# that a resident's requests are counted against a quota one after the other. SQLite's BEGIN IMMEDIATE already runs
# every write transaction alone.
LOCK_NAMESPACE = 730_101
_LOCK_RESIDENT = select(func.pg_advisory_xact_lock(LOCK_NAMESPACE, func.hashtext(bindparam("subject"))))


async def _one_at_a_time(session: AsyncSession, subject: str) -> None:
    """The resident's lock, held until the transaction ends: else requests sent at once each counted the same rows
    against a quota (households declared, files of an application), and all were recorded."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_LOCK_RESIDENT, {"subject": subject})


def _resident(principal: Principal) -> str:
    if principal.kind != "resident":
        raise Forbidden("online applications are made by residents for their own household")
    return principal.subject


# Households ------------------------------------------------------------------------------------------------


async def declare_household(
    session: AsyncSession, principal: Principal, data: HouseholdIn, address: AddressValues, *, quota: int
) -> tuple[Household, list[Member]]:
    """`address`: the address as `shared.addresses.standardise_input` found it."""
    subject = _resident(principal)
    if not covers(CITY_CODE, address.values["area_code"]):
        # While pending, the area is the one the resident gave: the field to correct is that one.
        field = "area_code" if address.pending else "address"
        raise InvalidInput(field, "the household must live in the city ({city_code})", city_code=CITY_CODE)
    await _one_at_a_time(session, subject)
    declared = await session.scalar(select(func.count()).where(Household.declared_by == subject))
    if declared >= quota:
        raise Conflict(
            "you have declared {declared} households, the most one resident may; apply for one of them",
            declared=declared,
        )
    try:
        return await households.record(session, data, address, created_by=subject, declared_by=subject)
    except Conflict:
        # Which household holds the person is not the resident's to learn (another family's record).
        raise Conflict(
            "a person of this household is already recorded in a household: ask your community (社区) to apply "
            "with you at the counter"
        ) from None


async def declared_household(session: AsyncSession, principal: Principal, household_id: int) -> Household:
    subject = _resident(principal)
    household = await session.scalar(
        select(Household).where(Household.id == household_id, Household.declared_by == subject)
    )
    if household is None:
        raise NotFound("no household {household_id} that you declared", household_id=household_id)
    return household


async def declared_households(session: AsyncSession, principal: Principal) -> list[tuple[Household, list[Member]]]:
    subject = _resident(principal)
    found = await session.scalars(select(Household).where(Household.declared_by == subject).order_by(Household.id))
    return [(h, await households.members_of(session, h.id)) for h in found]


def _declared(source_kind: str) -> None:
    if source_kind != DECLARED_SOURCE:
        raise InvalidInput(
            "source.kind",
            "what you state is your declaration (`applicant`, 申请人申报); departments' figures come from "
            "the checks you consent to",
        )


async def _room_for_a_figure(session: AsyncSession, household: Household, subject: str, quota: int) -> None:
    """Refuse a declared income or asset past the household's quota: else a resident could add rows without end
    (each one encrypted, and every one read by staff's assessment of the household)."""
    await _one_at_a_time(session, subject)  # figures sent at once are counted one after the other
    declared = 0
    for model in (Income, Asset):
        declared += (
            await session.scalar(
                select(func.count()).where(model.household_id == household.id, model.recorded_by == subject)
            )
            or 0
        )
    if declared >= quota:
        raise Conflict(
            "you have declared {declared} incomes and assets for household {household_id}, the most one may; "
            "ask your community (社区) to record more at the counter",
            resource=f"declared-households/{household.id}",
            household_id=household.id,
            declared=declared,
        )


async def declare_income(
    session: AsyncSession, principal: Principal, household_id: int, data: IncomeIn, *, quota: int
) -> Income:
    household = await declared_household(session, principal, household_id)
    _declared(data.source.kind)
    await _room_for_a_figure(session, household, principal.subject, quota)
    return await assessment.record_income(session, household, data, recorded_by=principal.subject)


async def declare_asset(
    session: AsyncSession, principal: Principal, household_id: int, data: AssetIn, *, quota: int
) -> Asset:
    household = await declared_household(session, principal, household_id)
    _declared(data.source.kind)
    await _room_for_a_figure(session, household, principal.subject, quota)
    return await assessment.record_asset(session, household, data, recorded_by=principal.subject)


# Applications ----------------------------------------------------------------------------------------------


async def submit(session: AsyncSession, principal: Principal, data: OnlineApplicationIn) -> Application:
    """受理 of an application from the phone, with the consent stored beside it in the same transaction."""
    household = await declared_household(session, principal, data.household_id)
    missing = sorted(REQUIRED_CHECKS[data.programme] - set(data.consent.checks))
    if missing:
        raise InvalidInput(
            "consent.checks",
            "{programme} needs your consent to these checks too: {missing}",
            programme=data.programme,
            missing=", ".join(missing),
        )
    application = await applications.accept(
        session,
        principal,
        household,
        ApplicationIn(household_id=household.id, programme=data.programme, member_id=data.member_id),
        online=True,
    )
    session.add(
        DataCheckConsent(
            application_id=application.id,
            household_id=household.id,
            given_by=principal.subject,
            given_at=utcnow(),
            checks=sorted(set(data.consent.checks)),
            wording_version=CONSENT_WORDING_VERSION,
        )
    )
    await session.flush()
    return application


async def own_application(session: AsyncSession, principal: Principal, application_id: int) -> Application:
    subject = _resident(principal)
    application = await session.scalar(
        select(Application).where(Application.id == application_id, Application.submitted_by == subject)
    )
    if application is None:
        raise NotFound("no application {application_id} of yours", application_id=application_id)
    return application


async def own_applications(session: AsyncSession, principal: Principal, page: PageParams) -> list[Application]:
    subject = _resident(principal)
    query = keyset(select(Application).where(Application.submitted_by == subject), Application.id, page)
    return list(await session.scalars(query))


def _step(event: ApplicationEvent) -> StepOut:
    shown: dict[str, Any] = {k: event.detail.get(k) for k in VISIBLE_DETAIL.get(event.step, ())}
    return StepOut(
        step=event.step,
        at=event.at,
        passed=shown.get("passed", shown.get("approve")),
        reasons=shown.get("reasons"),
        note=event.detail.get("note") if event.step in ("request_materials", "answer_materials") else None,
    )


def request_out(request: MaterialRequest) -> MaterialRequestOut:
    return MaterialRequestOut(
        id=request.id,
        application_id=request.application_id,
        note=request.note,
        requested_at=request.requested_at,
        open=request.answered_at is None,
        answered_at=request.answered_at,
        answer_note=request.answer_note,
    )


def staff_request_out(request: MaterialRequest) -> StaffMaterialRequestOut:
    return StaffMaterialRequestOut(
        **request_out(request).model_dump(), requested_by=request.requested_by, answered_by=request.answered_by
    )


def material_out(material: Material) -> MaterialOut:
    return MaterialOut(
        id=material.id,
        application_id=material.application_id,
        request_id=material.request_id,
        kind=material.kind,
        content_type=material.content_type,
        size_bytes=material.size_bytes,
        sha256=material.sha256,
        original_name=material.original_name,
        uploaded_at=material.uploaded_at,
    )


async def materials_of(session: AsyncSession, application_id: int) -> list[Material]:
    return list(
        await session.scalars(select(Material).where(Material.application_id == application_id).order_by(Material.id))
    )


async def requests_of(session: AsyncSession, application_id: int) -> list[MaterialRequest]:
    return list(
        await session.scalars(
            select(MaterialRequest).where(MaterialRequest.application_id == application_id).order_by(MaterialRequest.id)
        )
    )


async def to_out(session: AsyncSession, application: Application) -> OnlineApplicationOut:
    consent = await session.scalar(select(DataCheckConsent).where(DataCheckConsent.application_id == application.id))
    if consent is None:  # every online application is written with its consent (submit)
        raise NotFound("no consent recorded for application {application_id}", application_id=application.id)
    requests = await requests_of(session, application.id)
    open_request = next((r for r in requests if r.answered_at is None), None)
    return OnlineApplicationOut(
        id=application.id,
        household_id=application.household_id,
        member_id=application.member_id,
        programme=application.programme,
        state=application.state,
        materials_requested=open_request is not None,
        open_material_request=request_out(open_request) if open_request else None,
        reasons=application.reasons,
        notice_starts_on=application.notice_starts_on,
        notice_ends_on=application.notice_ends_on,
        monthly_grant_fen=application.monthly_grant_fen,
        review_due_on=application.review_due_on,
        steps=[_step(e) for e in await applications.events_of(session, application.id)],
        materials=[material_out(m) for m in await materials_of(session, application.id)],
        consent=ConsentOut(
            given_by=consent.given_by,
            given_at=consent.given_at,
            checks=consent.checks,
            wording_version=consent.wording_version,
        ),
        created_at=application.created_at,
        updated_at=application.updated_at,
    )


# Materials -------------------------------------------------------------------------------------------------


def _open(application: Application, action: str) -> None:
    if application.state not in OPEN_STATES:
        raise Conflict(
            "application {application_id} is {state}: {action} only while it is under review",
            resource=applications.resource_of(application),
            application_id=application.id,
            state=application.state,
            action=action,
        )


async def _open_request(session: AsyncSession, application_id: int) -> MaterialRequest | None:
    return await session.scalar(
        select(MaterialRequest).where(
            MaterialRequest.application_id == application_id, MaterialRequest.answered_at.is_(None)
        )
    )


def _display_name(name: str | None, file: CheckedFile) -> str:
    cleaned = NAME_UNSAFE.sub("_", (name or "").strip())[:200]
    return cleaned or f"upload.{file.extension}"


async def upload(
    session: AsyncSession,
    principal: Principal,
    store: BlobStore,
    application_id: int,
    *,
    kind: str,
    file: CheckedFile,
    name: str | None,
    max_count: int,
) -> tuple[Material, bool]:
    """Store a material of the resident's application; `(material, created)`. The same bytes again are the
    material already stored (`created` false), whatever their new name or kind."""
    application = await own_application(session, principal, application_id)
    _open(application, "materials are added")
    await _one_at_a_time(session, principal.subject)
    stored = await session.scalar(
        select(Material).where(Material.application_id == application.id, Material.sha256 == file.sha256)
    )
    if stored is not None:
        return stored, False
    count = await session.scalar(select(func.count()).where(Material.application_id == application.id))
    if count >= max_count:
        raise Conflict(
            "application {application_id} holds {count} files, the most it may",
            resource=applications.resource_of(application),
            application_id=application.id,
            count=count,
        )
    request = await _open_request(session, application.id)
    key = f"applications/{application.id}/{file.sha256}.{file.extension}"
    # The file first, off the event loop: if the row then fails to commit, the blob is an orphan a retry reuses.
    await asyncio.to_thread(store.put, key, file.data, file.content_type)
    material = Material(
        application_id=application.id,
        request_id=request.id if request else None,
        kind=kind,
        content_type=file.content_type,
        size_bytes=file.size,
        sha256=file.sha256,
        storage_key=key,
        original_name=_display_name(name, file),
        uploaded_by=principal.subject,
        uploaded_at=utcnow(),
    )
    session.add(material)
    await session.flush()
    return material, True


async def _material(session: AsyncSession, application: Application, material_id: int) -> Material:
    material = await session.scalar(
        select(Material).where(Material.id == material_id, Material.application_id == application.id)
    )
    if material is None:
        raise NotFound(
            "no material {material_id} in application {application_id}",
            material_id=material_id,
            application_id=application.id,
        )
    return material


async def content(store: BlobStore, material: Material) -> bytes:
    return await asyncio.to_thread(store.get, material.storage_key)


async def own_material(session: AsyncSession, principal: Principal, application_id: int, material_id: int) -> Material:
    return await _material(session, await own_application(session, principal, application_id), material_id)


async def staff_material(
    session: AsyncSession, principal: Principal, application_id: int, material_id: int, purpose: str
) -> Material:
    """A material for staff covering the household, with the read audited like any clear read of personal data
    (who, whose, when, why, request id), in the request's transaction."""
    application = await applications.get_visible(session, principal, application_id)
    material = await _material(session, application, material_id)
    await record_pii_read(
        session,
        PII_READS,
        principal,
        subject_type="household",
        subject_id=application.household_id,
        subject_area=application.area_code,
        purpose=purpose,
        values={f"application_materials.{material.id}": material.sha256},
    )
    return material


async def answer(
    session: AsyncSession, principal: Principal, application_id: int, request_id: int, data: MaterialAnswerIn
) -> MaterialRequest:
    """The resident says the requested materials are uploaded: at least one since the request, and once."""
    application = await own_application(session, principal, application_id)
    request = await session.scalar(
        select(MaterialRequest).where(
            MaterialRequest.id == request_id, MaterialRequest.application_id == application.id
        )
    )
    if request is None:
        raise NotFound(
            "no request {request_id} for materials of application {application_id}",
            request_id=request_id,
            application_id=application.id,
        )
    resource = f"applications/{application.id}/material-requests/{request.id}"
    if request.answered_at is not None:
        raise Conflict("request {request_id} was answered already", resource=resource, request_id=request.id)
    uploaded = await session.scalar(select(func.count()).where(Material.request_id == request.id))
    if not uploaded:
        raise Conflict("upload the materials asked for before answering", resource=resource)
    answered = await session.execute(
        update(MaterialRequest)
        .where(MaterialRequest.id == request.id, MaterialRequest.answered_at.is_(None))
        .values(answered_at=utcnow(), answered_by=principal.subject, answer_note=data.note)
        .execution_options(synchronize_session=False)
    )
    if answered.rowcount != 1:
        raise Conflict("request {request_id} was answered already", resource=resource, request_id=request.id)
    applications.audit(session, application.id, "answer_materials", principal, request_id=request.id, note=data.note)
    await session.flush()
    await session.refresh(request)
    return request


async def request_materials(
    session: AsyncSession, principal: Principal, application_id: int, data: MaterialRequestIn
) -> MaterialRequest:
    """Staff of the community or street ask for more materials: one open request per application at a time."""
    application = await applications.get_visible(session, principal, application_id)
    applications.require_level(principal, "accept")
    _open(application, "materials are asked for")
    if application.submitted_by is None:
        raise Conflict(
            "application {application_id} was made at the counter: ask the applicant there",
            resource=applications.resource_of(application),
            application_id=application.id,
        )
    waiting = await _open_request(session, application.id)
    if waiting is not None:
        raise Conflict(
            "request {waiting_id} for materials of application {application_id} is still open",
            resource=f"applications/{application.id}/material-requests/{waiting.id}",
            waiting_id=waiting.id,
            application_id=application.id,
        )
    request = MaterialRequest(
        application_id=application.id, note=data.note, requested_by=principal.subject, requested_at=utcnow()
    )
    session.add(request)
    await session.flush()
    applications.audit(session, application.id, "request_materials", principal, request_id=request.id, note=data.note)
    await session.flush()
    await notices.materials_requested(session, application, request)  # the resident hears of it (the outbox)
    return request


async def staff_materials(
    session: AsyncSession, principal: Principal, application_id: int
) -> tuple[list[MaterialRequest], list[Material]]:
    application = await applications.get_visible(session, principal, application_id)
    return await requests_of(session, application.id), await materials_of(session, application.id)
