from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from services.charity.database import IDEMPOTENCY_KEYS
from services.charity.jobs import tasks
from services.charity.projects import service
from services.charity.projects.auth import ProjectsReader, ProjectsWriter
from services.charity.projects.schemas import (
    DisclosureIn,
    DisclosureOut,
    FilingIn,
    OverdueDisclosure,
    ProjectIn,
    ProjectOut,
    SiteIn,
    SiteOut,
    Status,
)
from shared.addresses import AddressChangeIn, enqueue_if_pending, give_address_again, placenames_of, standardise_input
from shared.db import Session
from shared.errors import problem_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(prefix="/projects", tags=["projects 慈善项目"])


@router.post(
    "",
    status_code=201,
    response_model=ProjectOut,
    summary="Create a project (draft)",
    description="A project plan (慈善项目方案) of an organisation of your area: target, period, "
    "beneficiaries (受益人) and budget lines adding up to the target. A public fundraising "
    "(公开募捐) needs an organisation holding the qualification (409 otherwise). Opens the "
    "project's fund account in the ledger. A retry with the same `Idempotency-Key` returns "
    "the first result.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_project(
    data: ProjectIn,
    request: Request,
    session: Session,
    principal: ProjectsWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> ProjectOut:
    async def create() -> ProjectOut:
        return await service.to_out(session, await service.create(session, principal, data))

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.get(
    "",
    response_model=Page[ProjectOut],
    summary="List projects of your area",
    description="Staff see the projects of organisations in their area and below, drafts included; "
    "raised, spent and balance come from the ledger.",
    responses=problem_responses(401, 403, 422),
)
async def list_projects(
    session: Session,
    principal: ProjectsReader,
    page: Annotated[PageParams, Depends(page_params)],
    status: Annotated[Status | None, Query(description="Lifecycle status")] = None,
    organization_id: int | None = None,
) -> Page[ProjectOut]:
    rows = await service.list_visible(session, principal, page, status=status, organization_id=organization_id)
    return page_of([await service.to_out(session, r) for r in rows], page, key=lambda p: p.id)


@router.get(
    "/overdue-disclosures",
    response_model=list[OverdueDisclosure],
    summary="Overdue disclosures",
    description="Started projects of your area that owe a disclosure (信息公开) whose date has passed: the "
    "3-monthly progress disclosure of projects longer than 6 months, and the final disclosure "
    "due within 3 months after the end (慈善法 art. 76). Oldest due first.",
    responses=problem_responses(401, 403),
)
async def overdue_disclosures(session: Session, principal: ProjectsReader) -> list[OverdueDisclosure]:
    return await service.overdue(session, principal)


@router.get(
    "/{project_id}",
    response_model=ProjectOut,
    summary="One project",
    description="A project of your area with its budget lines and its ledger totals.",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_project(project_id: int, session: Session, principal: ProjectsReader) -> ProjectOut:
    return await service.to_out(session, await service.get_visible(session, principal, project_id))


@router.post(
    "/{project_id}/filing",
    response_model=ProjectOut,
    summary="Record the plan's filing (备案)",
    description="draft → filed. A public fundraising plan is filed at least 10 days before it starts; an "
    "emergency fundraising within 10 days after it starts (慈善法 art. 24); the organisation "
    "must hold the public-fundraising qualification on the filing date. Otherwise a 409 "
    "with the rule and the last allowed date.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def file_project(
    project_id: int, session: Session, principal: ProjectsWriter, data: FilingIn | None = None
) -> ProjectOut:
    project = await service.file(session, principal, project_id, data or FilingIn())
    return await service.to_out(session, project)


@router.post(
    "/{project_id}/start-fundraising",
    response_model=ProjectOut,
    summary="Open fundraising",
    description="filed → fundraising, on a day within the project's period. Donations are accepted only "
    "while a project is fundraising.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def start_fundraising(project_id: int, session: Session, principal: ProjectsWriter) -> ProjectOut:
    return await service.to_out(session, await service.start_fundraising(session, principal, project_id))


@router.post(
    "/{project_id}/start-execution",
    response_model=ProjectOut,
    summary="Close fundraising, execute",
    description="fundraising → executing: no more donations; money is disbursed (拨付) to beneficiaries and suppliers.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def start_execution(project_id: int, session: Session, principal: ProjectsWriter) -> ProjectOut:
    return await service.to_out(session, await service.start_execution(session, principal, project_id))


@router.post(
    "/{project_id}/close",
    response_model=ProjectOut,
    summary="Close the project (结项)",
    description="executing → closed: no more money moves. The final disclosure is due within 3 months "
    "after the end of the period.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def close_project(project_id: int, session: Session, principal: ProjectsWriter) -> ProjectOut:
    return await service.to_out(session, await service.close(session, principal, project_id))


@router.post(
    "/{project_id}/disclosures",
    status_code=201,
    response_model=DisclosureOut,
    summary="Publish a disclosure (信息公开)",
    description="Appends a disclosure: plan, progress, final, or a correction (更正) naming the disclosure "
    "it corrects. Disclosures are never edited or deleted; the original stays public beside "
    "its correction.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def publish_disclosure(
    project_id: int,
    data: DisclosureIn,
    request: Request,
    session: Session,
    principal: ProjectsWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> DisclosureOut:
    async def create() -> DisclosureOut:
        row = await service.disclose(session, principal, project_id, data)
        return next(d for d in await service.disclosures_out(session, project_id) if d.id == row.id)

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.get(
    "/{project_id}/disclosures",
    response_model=list[DisclosureOut],
    summary="A project's disclosures",
    description="Every disclosure of a project of your area in publication order, each with the "
    "corrections that followed it. The public reads them under `/public/projects/{id}`.",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_disclosures(project_id: int, session: Session, principal: ProjectsReader) -> list[DisclosureOut]:
    await service.get_visible(session, principal, project_id)
    return await service.disclosures_out(session, project_id)


@router.post(
    "/{project_id}/sites",
    status_code=201,
    response_model=SiteOut,
    summary="Add a place where the project is carried out",
    description="A site (项目实施地点) of a project of your area that is not closed: a standard address "
    "(`address_code`) or free text standardised through placenames (`address`), which must lie in your area (403 "
    "otherwise). Ambiguous text is a 422 with the ranked `candidates`, text that cannot be placed a 422 naming the "
    "part; while placenames cannot be reached the site is kept as `pending` and a job standardises it shortly. "
    "Its `area_code` is derived from the address. A name the project already uses is a 409 naming that site; a "
    f"project lists at most {service.MAX_SITES} sites. A retry with the same `Idempotency-Key` returns the first "
    "result.",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def add_site(
    project_id: int,
    data: SiteIn,
    request: Request,
    session: Session,
    principal: ProjectsWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> SiteOut:
    await service.get_visible(session, principal, project_id)  # its 404 before placenames is asked
    await session.rollback()  # nothing is held while placenames answers
    address = await standardise_input(placenames_of(request.app), principal, data)

    async def create() -> SiteOut:
        site = await service.add_site(session, principal, project_id, data, address)
        await enqueue_if_pending(session, tasks, address)
        return service.site_out(site)

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.get(
    "/{project_id}/sites",
    response_model=list[SiteOut],
    summary="A project's sites",
    description="The places where a project of your area is carried out, in the order they were added, each "
    "with its standard address and the division derived from it (`address_status=unresolved`: staff must give the "
    "address again).",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_sites(project_id: int, session: Session, principal: ProjectsReader) -> list[SiteOut]:
    return [service.site_out(site) for site in await service.sites(session, principal, project_id)]


@router.put(
    "/{project_id}/sites/{site_id}/address",
    response_model=SiteOut,
    summary="Give a site's address again",
    description="A standard address code or free text, as when the site was added (an `unresolved` address, a "
    "move). The new address must lie in your area; a closed project's sites no longer change (409).",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def change_site_address(
    project_id: int, site_id: int, data: AddressChangeIn, request: Request, session: Session, principal: ProjectsWriter
) -> SiteOut:
    load = service.site_of(session, principal, project_id, site_id)
    return service.site_out(await give_address_again(request, session, principal, data, tasks, load))


@router.delete(
    "/{project_id}/sites/{site_id}",
    status_code=204,
    summary="Remove a site",
    description="A site listed by mistake or no longer used, of a project of your area that is not closed (409).",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def remove_site(project_id: int, site_id: int, session: Session, principal: ProjectsWriter) -> Response:
    await service.remove_site(session, principal, project_id, site_id)
    return Response(status_code=204)
