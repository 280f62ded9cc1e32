from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile

from services.assistance.applications.auth import ApplicationsReader, ApplicationsWriter
from services.assistance.assessment.schemas import AssetIn, AssetOut, IncomeIn, IncomeOut
from services.assistance.assessment.service import asset_out, income_out
from services.assistance.database import IDEMPOTENCY_KEYS
from services.assistance.households import service as households
from services.assistance.households.schemas import HouseholdIn, HouseholdOut
from services.assistance.jobs import tasks
from services.assistance.online import service
from services.assistance.online.auth import MaterialsReader, OnlineReader, OnlineWriter
from services.assistance.online.schemas import (
    MaterialAnswerIn,
    MaterialKind,
    MaterialOut,
    MaterialRequestIn,
    MaterialRequestOut,
    OnlineApplicationIn,
    OnlineApplicationOut,
    StaffMaterialRequestOut,
)
from services.assistance.online.storage import MaterialsStore
from shared.addresses import enqueue_if_pending, placenames_of, standardise_input
from shared.db import Session
from shared.errors import problem_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent
from shared.pagination import Page, PageParams, page_of, page_params
from shared.schemas import Schema
from shared.uploads import checked_upload

router = APIRouter(tags=["online applications 网上申请"])
RESIDENT_ERRORS = problem_responses(401, 403, 404, 409, 422)
# 400: a body that is not multipart/form-data at all (the form parser refuses it).
UPLOAD_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 503)
FILE_RESPONSE = {
    200: {
        "description": "The file's bytes, typed as sniffed when it was uploaded",
        "content": {t: {} for t in ("image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf")},
    }
}


class StaffMaterialsOut(Schema):
    """What staff asked for and what the applicant uploaded."""

    requests: list[StaffMaterialRequestOut]
    materials: list[MaterialOut]


def _file(material, data: bytes) -> Response:
    extension = material.storage_key.rsplit(".", 1)[-1]
    return Response(
        content=data,
        media_type=material.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="material-{material.id}.{extension}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


# The resident's household ----------------------------------------------------------------------------------


@router.post(
    "/declared-households",
    status_code=201,
    response_model=HouseholdOut,
    summary="Declare your household (申报家庭)",
    description="A resident states the household they apply for: where it lives (a standard address of the "
    "city by its code, or free text standardised through placenames, as for staff) and its members, exactly "
    "one the applicant, each with their ID number (the same rules as staff's `POST /households`). Only the "
    "resident who declared it sees it. A person already recorded in a household "
    "is a 409 that does not say which (ask the community to apply at the counter); a resident declares at "
    "most a few households (`declared_households_per_resident`, 3 by default).",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def declare_household(
    data: HouseholdIn, request: Request, session: Session, principal: OnlineWriter
) -> HouseholdOut:
    # Asked before the transaction opens: a slow placenames holds no connection.
    address = await standardise_input(placenames_of(request.app), principal, data)
    household, members = await service.declare_household(
        session, principal, data, address, quota=request.app.state.settings.declared_households_per_resident
    )
    await enqueue_if_pending(session, tasks, address)
    return households.to_out(household, members)


@router.get(
    "/declared-households",
    response_model=list[HouseholdOut],
    summary="The households you declared",
    description="With their members (ID numbers masked), oldest first.",
    responses=problem_responses(401, 403),
)
async def list_declared_households(session: Session, principal: OnlineReader) -> list[HouseholdOut]:
    return [households.to_out(h, m) for h, m in await service.declared_households(session, principal)]


@router.get(
    "/declared-households/{household_id}",
    response_model=HouseholdOut,
    summary="One household you declared",
    description="Another resident's household, or one recorded by staff, is a 404.",
    responses=problem_responses(401, 403, 404),
)
async def get_declared_household(household_id: int, session: Session, principal: OnlineReader) -> HouseholdOut:
    household = await service.declared_household(session, principal, household_id)
    return households.to_out(household, await households.members_of(session, household.id))


@router.post(
    "/declared-households/{household_id}/incomes",
    status_code=201,
    response_model=IncomeOut,
    summary="Declare an income of a member",
    description="As staff's `POST /households/{household_id}/incomes`, with the source your own declaration: "
    "`source.kind` must be `applicant` (申请人申报); what departments hold comes from the checks you consent to "
    "when applying. Amounts are stored encrypted and masked in the answer.",
    responses=RESIDENT_ERRORS,
)
async def declare_income(
    household_id: int, data: IncomeIn, request: Request, session: Session, principal: OnlineWriter
) -> IncomeOut:
    quota = request.app.state.settings.declared_figures_per_household
    return income_out(await service.declare_income(session, principal, household_id, data, quota=quota))


@router.post(
    "/declared-households/{household_id}/assets",
    status_code=201,
    response_model=AssetOut,
    summary="Declare an asset",
    description="Deposits, securities, vehicles or housing of the household or one member, as staff's "
    "`POST /households/{household_id}/assets`, with `source.kind` `applicant`.",
    responses=RESIDENT_ERRORS,
)
async def declare_asset(
    household_id: int, data: AssetIn, request: Request, session: Session, principal: OnlineWriter
) -> AssetOut:
    quota = request.app.state.settings.declared_figures_per_household
    return asset_out(await service.declare_asset(session, principal, household_id, data, quota=quota))


# The resident's applications -------------------------------------------------------------------------------


@router.post(
    "/online-applications",
    status_code=201,
    response_model=OnlineApplicationOut,
    summary="Apply from the phone (网上申请)",
    description="For a household you declared, for 低保, 低保边缘, 特困 or a disability subsidy (for 特困 and the "
    "subsidies, name the member), with your consent to check the household's facts against partner "
    "departments (stored: who, when, which checks, the wording's version). The application enters the review "
    "chain at 受理 (`state` accepted), where the community or street takes it on. A second open application "
    "for the same household and programme is a 409 naming it, also when both are sent at once. Retries with "
    "the same `Idempotency-Key` are safe.",
    responses=RESIDENT_ERRORS,
)
async def submit_application(
    data: OnlineApplicationIn,
    request: Request,
    session: Session,
    principal: OnlineWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> OnlineApplicationOut:
    async def create() -> OnlineApplicationOut:
        return await service.to_out(session, await service.submit(session, principal, data))

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.get(
    "/online-applications",
    response_model=Page[OnlineApplicationOut],
    summary="Your online applications",
    description="Each with its state, the steps taken and when, the reasons of a decision, whether staff wait "
    "for more materials (`materials_requested`), and the materials uploaded; oldest first.",
    responses=problem_responses(401, 403, 422),
)
async def list_online_applications(
    session: Session, principal: OnlineReader, page: Annotated[PageParams, Depends(page_params)]
) -> Page[OnlineApplicationOut]:
    rows = await service.own_applications(session, principal, page)
    return page_of([await service.to_out(session, a) for a in rows], page, key=lambda a: a.id)


@router.get(
    "/online-applications/{application_id}",
    response_model=OnlineApplicationOut,
    summary="One of your online applications",
    description="Its state and steps, the reasons given (初审, 审核确认), what staff asked for, the materials. "
    "Another resident's application is a 404.",
    responses=problem_responses(401, 403, 404),
)
async def get_online_application(
    application_id: int, session: Session, principal: OnlineReader
) -> OnlineApplicationOut:
    return await service.to_out(session, await service.own_application(session, principal, application_id))


@router.post(
    "/online-applications/{application_id}/materials",
    status_code=201,
    response_model=MaterialOut,
    summary="Upload a material (申请材料)",
    description="A photo or scan of a document, as `multipart/form-data` with `file` and `kind`. Its type is "
    "read from its bytes, not its name: JPEG, PNG, WebP, HEIC or PDF (a PDF named `.jpg` is stored as the PDF "
    "it is); anything else, an archive included, is a 415 naming `file`. Files are at most "
    "`materials_max_bytes` (1,000,000 by default; 413 beyond). The same bytes again are the material already "
    "stored (200, not a copy). While staff wait for more materials, an upload is counted towards their "
    "request. Only while the application is under review (409 after the decision).",
    responses=UPLOAD_ERRORS,
)
async def upload_material(
    application_id: int,
    request: Request,
    response: Response,
    session: Session,
    principal: OnlineWriter,
    store: MaterialsStore,
    file: Annotated[UploadFile, File(description="The photo or scan")],
    kind: Annotated[MaterialKind, Form(description="身份证 id_card, 户口簿 household_register, 收入证明 …")],
) -> MaterialOut:
    settings = request.app.state.settings
    checked = await checked_upload(file, settings.materials_max_bytes)
    material, created = await service.upload(
        session,
        principal,
        store,
        application_id,
        kind=kind,
        file=checked,
        name=file.filename,
        max_count=settings.materials_per_application,
    )
    response.status_code = 201 if created else 200
    return service.material_out(material)


@router.get(
    "/online-applications/{application_id}/materials/{material_id}/content",
    summary="Download one of your materials",
    description="The bytes as uploaded, with the type they were found to be.",
    responses=FILE_RESPONSE | problem_responses(401, 403, 404, 503),
    response_class=Response,
)
async def own_material_content(
    application_id: int, material_id: int, session: Session, principal: OnlineReader, store: MaterialsStore
) -> Response:
    material = await service.own_material(session, principal, application_id, material_id)
    return _file(material, await service.content(store, material))


@router.post(
    "/online-applications/{application_id}/material-requests/{request_id}/answer",
    response_model=MaterialRequestOut,
    summary="Answer a request for more materials (已补充)",
    description="Once the materials asked for are uploaded (at least one since the request; 409 before), tell "
    "staff, with an optional note. A request is answered once.",
    responses=RESIDENT_ERRORS,
)
async def answer_material_request(
    application_id: int,
    request_id: int,
    data: MaterialAnswerIn,
    session: Session,
    principal: OnlineWriter,
) -> MaterialRequestOut:
    return service.request_out(await service.answer(session, principal, application_id, request_id, data))


# Staff's side ---------------------------------------------------------------------------------------------


@router.post(
    "/applications/{application_id}/material-requests",
    status_code=201,
    response_model=StaffMaterialRequestOut,
    summary="Ask the applicant for more materials (补充材料)",
    description="Community or street staff covering the household, while an online application is under "
    "review. The applicant sees `materials_requested` and the note on their application, uploads and answers. "
    "One open request per application at a time: another is a 409 naming it, as is an application made at the "
    "counter or already decided.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def request_materials(
    application_id: int, data: MaterialRequestIn, session: Session, principal: ApplicationsWriter
) -> StaffMaterialRequestOut:
    return service.staff_request_out(await service.request_materials(session, principal, application_id, data))


@router.get(
    "/applications/{application_id}/materials",
    response_model=StaffMaterialsOut,
    summary="An application's materials and the requests for them",
    description="For staff whose area covers the household.",
    responses=problem_responses(401, 403, 404),
)
async def staff_materials(application_id: int, session: Session, principal: ApplicationsReader) -> StaffMaterialsOut:
    requests, materials = await service.staff_materials(session, principal, application_id)
    return StaffMaterialsOut(
        requests=[service.staff_request_out(r) for r in requests],
        materials=[service.material_out(m) for m in materials],
    )


@router.get(
    "/applications/{application_id}/materials/{material_id}/content",
    summary="Download a material of an application (audited)",
    description="For staff whose area covers the household: the bytes, with the type they were found to be. A "
    "document photo is personal data in the clear: it needs `assistance.pii:read` besides "
    "`assistance.applications:read` and a stated `purpose`, and each read writes an audit record about the "
    "household (who, when, why, request id) in the same transaction.",
    responses=FILE_RESPONSE | problem_responses(401, 403, 404, 422, 503),
    response_class=Response,
)
async def staff_material_content(
    application_id: int,
    material_id: int,
    purpose: Annotated[
        str, Query(min_length=2, max_length=200, description="Why you read it", examples=["入户调查：核对户口簿"])
    ],
    session: Session,
    principal: MaterialsReader,
    store: MaterialsStore,
) -> Response:
    material = await service.staff_material(session, principal, application_id, material_id, purpose)
    return _file(material, await service.content(store, material))
