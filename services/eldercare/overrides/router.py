from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.eldercare.overrides import service
from services.eldercare.overrides.auth import OverridesReader
from services.eldercare.overrides.service import OverrideOut
from shared.db import Session
from shared.errors import problem_responses
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(tags=["audit 审计"])


@router.get(
    "/overrides",
    response_model=Page[OverrideOut],
    summary="Audit of overridden conflicts",
    description="Every conflict staff overrode (e.g. an emergency admission over another person's bed "
    "hold): who, when, what it produced, what was in the way, the reason and the request id, "
    "newest first. Staff auditors see the overrides in their area.",
    responses=problem_responses(401, 403, 422),
)
async def list_overrides(
    session: Session,
    principal: OverridesReader,
    page: Annotated[PageParams, Depends(page_params)],
    action: Annotated[str | None, Query(max_length=40)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[OverrideOut]:
    rows = await service.list_overrides(session, principal, page, action=action, actor=actor)
    return page_of([OverrideOut.model_validate(o) for o in rows], page, key=lambda o: o.id)
