from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.assistance.leads import service
from services.assistance.leads.auth import LeadsReader, LeadsWriter
from services.assistance.leads.schemas import HouseholdLeadsOut, LeadClosureIn, LeadDetailOut, LeadState, Outcome
from shared.areas import DIVISION_CODE_PATTERN
from shared.db import Session
from shared.errors import problem_responses
from shared.pagination import Page, PageParams, page_of, page_params
from shared.programmes import ProgrammeCode

router = APIRouter(prefix="/leads", tags=["discovery 数据找人"])


@router.get(
    "",
    response_model=Page[LeadDetailOut],
    summary="Leads of your area",
    description="Leads from screenings and partner signals in your area and below, oldest first, each with "
    "how it was closed. Filter by `area` (a street or community), `state` (open, visited, "
    "closed), `outcome`, `programme`, `screening_id` or `household_id`. A lead shows no income "
    "(personal data): for the figure behind a 低保 lead, run an eligibility check of the household "
    "(`POST /eligibility-checks` with `household_id`), which explains the decision with the "
    "counted income, per capita, and every criterion.",
    responses=problem_responses(401, 403, 422),
)
async def list_leads(
    session: Session,
    principal: LeadsReader,
    page: Annotated[PageParams, Depends(page_params)],
    area: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)] = None,
    state: LeadState | None = None,
    outcome: Outcome | None = None,
    programme: ProgrammeCode | None = None,
    screening_id: int | None = None,
    household_id: int | None = None,
) -> Page[LeadDetailOut]:
    rows = await service.list_visible(
        session,
        principal,
        page,
        area_code=area,
        state=state,
        outcome=outcome,
        programme=programme,
        screening_id=screening_id,
        household_id=household_id,
    )
    return page_of([service.detail_out(r) for r in rows], page, key=lambda lead: lead.id)


@router.get(
    "/households/{household_id}",
    response_model=HouseholdLeadsOut,
    summary="A household's leads status",
    description="How many leads of the household are open, and each programme (and person) that screenings "
    "and partner signals raise no lead for, with the reason: an application under way (受理, "
    "入户调查, 初审 or 公示: its id and state), or the programme received already (since when). "
    "For a household that looks eligible but has no lead.",
    responses=problem_responses(401, 403, 404),
)
async def household_leads(household_id: int, session: Session, principal: LeadsReader) -> HouseholdLeadsOut:
    return await service.of_household(session, principal, household_id)


@router.get("/{lead_id}", response_model=LeadDetailOut, summary="One lead", responses=problem_responses(401, 403, 404))
async def get_lead(lead_id: int, session: Session, principal: LeadsReader) -> LeadDetailOut:
    return service.detail_out(await service.get_visible(session, principal, lead_id))


@router.post(
    "/{lead_id}/closure",
    response_model=LeadDetailOut,
    summary="Close a lead after the visit",
    description="Staff of the lead's area close it with the outcome and the reason: `applied` (name the "
    "household's application), `not_eligible`, `declined` or `duplicate`. A lead is closed "
    "once: a second closure, even at the same moment, is a 409 naming the lead. The next "
    "screening does not raise a closed lead again while its facts are the same (household, "
    "programme, person; for 低保 and 低保边缘 the counted members, income and standard, compared by the "
    "lead's `facts_digest`, since the lead does not keep the income).",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def close_lead(lead_id: int, data: LeadClosureIn, session: Session, principal: LeadsWriter) -> LeadDetailOut:
    return service.detail_out(await service.close(session, principal, lead_id, data))
