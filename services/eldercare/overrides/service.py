"""Overrides: staff holding `eldercare.overrides:write` go past a conflict where the domain allows it, with a
stated reason, and every override writes an audit row in the same transaction as what it did."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare.overrides.models import Override
from shared.areas import within_area
from shared.db import utcnow
from shared.errors import Forbidden
from shared.identity import Principal
from shared.pagination import PageParams, keyset
from shared.request_id import current_request_id
from shared.schemas import Schema


def _stated(value: str) -> str:
    value = value.strip()
    if len(value) < 4:
        raise ValueError("state the reason for the override in at least 4 characters")
    return value


OverrideReason = Annotated[
    str,
    Field(
        min_length=4,
        max_length=500,
        examples=["急诊转入，原预留人家属同意改期"],
        description="Why the conflict is overridden; kept in the audit",
    ),
    AfterValidator(_stated),
]


class OverrideOut(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: dt.datetime
    actor: str
    actor_area: str | None
    action: str
    resource: str
    conflict: str
    conflict_detail: str
    reason: str
    area_code: str
    request_id: str | None


def may_override(principal: Principal, area_code: str) -> None:
    """Only staff of the place, never a resident, whatever scopes a token carries."""
    if not principal.covers(area_code):
        raise Forbidden("only staff of area {area_code} may override this conflict", area_code=area_code)


async def record(
    session: AsyncSession,
    principal: Principal,
    *,
    action: str,
    resource: str,
    conflict: str,
    conflict_detail: str,
    reason: str,
    area_code: str,
) -> Override:
    row = Override(
        at=utcnow(),
        actor=principal.subject,
        actor_area=principal.area,
        action=action,
        resource=resource,
        conflict=conflict,
        conflict_detail=conflict_detail[:500],
        reason=reason,
        area_code=area_code,
        request_id=current_request_id(),
    )
    session.add(row)
    await session.flush()
    return row


async def list_overrides(
    session: AsyncSession, principal: Principal, page: PageParams, *, action: str | None, actor: str | None
) -> list[Override]:
    """Newest first: an auditor sees the overrides in their area (the scope is an auditor's, never a client's)."""
    if not principal.is_area_staff:
        return []
    query = keyset(select(Override), Override.id, page, descending=True).where(
        within_area(Override.area_code, principal.area)
    )
    if action:
        query = query.where(Override.action == action)
    if actor:
        query = query.where(Override.actor == actor)
    return list(await session.scalars(query))
