"""Leads (数据找人) worked to an end: the community worker visits and closes the lead with its outcome.

A lead is closed once: the UPDATE is conditional on the lead still being open, so two workers closing it at
once leave one closure and a 409 for the other. A closed lead is not raised again by the next screening as
long as the facts behind it are the same (`discovery.batch`: same household, programme and person, and for the
household programmes the same counted members, counted income and 低保 standard, told apart by the lead's
facts digest, `discovery.facts`: the lead does not keep the income itself).
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.applications import service as applications
from services.assistance.discovery.exclusions import household_exclusions
from services.assistance.households import service as households
from services.assistance.leads.models import Lead
from services.assistance.leads.schemas import (
    ExclusionOut,
    HouseholdLeadsOut,
    LeadClosureIn,
    LeadClosureOut,
    LeadDetailOut,
    LeadOut,
)
from shared import clock
from shared.areas import within_area
from shared.db import one_or_404, utcnow
from shared.errors import Conflict, InvalidInput, NotFound
from shared.identity import Principal
from shared.metrics import count_after_commit
from shared.pagination import PageParams, keyset

OPEN_STATES = ("open", "visited")


def detail_out(lead: Lead) -> LeadDetailOut:
    closure = (
        None
        if lead.state != "closed"
        else LeadClosureOut(
            outcome=lead.outcome,
            reason=lead.closing_reason,
            application_id=lead.application_id,
            closed_by=lead.closed_by,
            closed_at=lead.closed_at,
        )
    )
    return LeadDetailOut(**LeadOut.model_validate(lead).model_dump(), closure=closure)


def visible_to(principal: Principal):
    """The leads a caller may see: staff those of their area and below; nobody else."""
    if not principal.is_area_staff:
        return select(Lead).where(False)
    return select(Lead).where(within_area(Lead.area_code, principal.area))


async def get_visible(session: AsyncSession, principal: Principal, lead_id: int) -> Lead:
    return await one_or_404(
        session, visible_to(principal).where(Lead.id == lead_id), "no lead {lead_id} that you may see", lead_id=lead_id
    )


async def close(session: AsyncSession, principal: Principal, lead_id: int, data: LeadClosureIn) -> Lead:
    lead = await get_visible(session, principal, lead_id)
    if data.outcome == "applied":
        if data.application_id is None:
            raise InvalidInput("application_id", "a lead closed as applied names the application")
        try:
            application = await applications.get_visible(session, principal, data.application_id)
        except NotFound:
            raise InvalidInput(
                "application_id", "no application {application_id} that you may see", application_id=data.application_id
            ) from None
        if application.household_id != lead.household_id:
            raise InvalidInput(
                "application_id",
                "application {application_id} is of household {household_id}, not of the lead's {household_id2}",
                application_id=application.id,
                household_id=application.household_id,
                household_id2=lead.household_id,
            )
    elif data.application_id is not None:
        raise InvalidInput("application_id", "only a lead closed as applied names an application")
    if lead.state not in OPEN_STATES:
        raise Conflict(
            "lead {lead_id} is already closed ({outcome})",
            resource=f"leads/{lead.id}",
            lead_id=lead.id,
            outcome=lead.outcome,
        )
    closed = await session.execute(
        update(Lead)
        .where(Lead.id == lead.id, Lead.state.in_(OPEN_STATES))
        .values(
            state="closed",
            outcome=data.outcome,
            closing_reason=data.reason.strip(),
            application_id=data.application_id,
            closed_by=principal.subject,
            closed_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if closed.rowcount != 1:
        raise Conflict(
            "lead {lead_id} was closed by someone else meanwhile; reload it",
            resource=f"leads/{lead.id}",
            lead_id=lead.id,
        )
    await session.refresh(lead)
    count_after_commit(session, "assistance", "lead_closed", data.outcome)
    return lead


async def list_visible(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    area_code: str | None,
    state: str | None,
    outcome: str | None,
    programme: str | None,
    screening_id: int | None,
    household_id: int | None,
) -> list[Lead]:
    query = keyset(visible_to(principal), Lead.id, page)
    if area_code:
        query = query.where(within_area(Lead.area_code, area_code))
    for column, value in (
        (Lead.state, state),
        (Lead.outcome, outcome),
        (Lead.programme, programme),
        (Lead.screening_id, screening_id),
        (Lead.household_id, household_id),
    ):
        if value is not None:
            query = query.where(column == value)
    return list(await session.scalars(query))


async def of_household(session: AsyncSession, principal: Principal, household_id: int) -> HouseholdLeadsOut:
    """The household's open leads, and the programmes no lead is raised for today with the reason: staff who find
    no lead for a household that looks eligible see that it has applied (and how far it got) or receives it."""
    household = await households.get_visible(session, principal, household_id)
    today = clock.today()
    open_leads = await session.scalar(
        select(func.count()).select_from(Lead).where(Lead.household_id == household.id, Lead.state.in_(OPEN_STATES))
    )
    return HouseholdLeadsOut(
        household_id=household.id,
        as_of=today,
        open_leads=open_leads,
        excluded=[ExclusionOut(**x) for x in await household_exclusions(session, household.id, today)],
    )
