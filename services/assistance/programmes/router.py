from fastapi import APIRouter

from services.assistance.programmes import service
from services.assistance.programmes.auth import StatusReader
from services.assistance.programmes.schemas import StatusLookupIn, StatusLookupOut
from shared.db import Session
from shared.errors import problem_responses

router = APIRouter(tags=["status 救助身份查询"])


@router.post(
    "/status-lookups",
    response_model=StatusLookupOut,
    summary="A person's current programmes",
    description="The programmes (低保, 低保边缘, 特困, 孤儿, 困境儿童, 残疾人两项补贴) a person receives today, "
    "each with the day it began; an empty list when they receive none (never a 404, so the "
    "answer does not reveal whether the person is known). The ID number goes in the body and "
    "comes back masked. For other services (eldercare prices meals with it) and staff only: "
    "kind `service` or `staff` with `assistance.status:read`. One index probe (by the blind "
    "index of the ID number); target p99 ≤ 20 ms. Every lookup is audited (`GET /pii-reads`, "
    "subject type `status_lookup`): who asked, about whom (the blind index, never the number), "
    "when, why (`purpose`, default `eligibility for <caller>`) and the request id.",
    responses=problem_responses(401, 403, 422),
)
async def status_lookup(data: StatusLookupIn, session: Session, principal: StatusReader) -> StatusLookupOut:
    return await service.lookup(session, principal, data.id_number, purpose=data.purpose)
