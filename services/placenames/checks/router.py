from fastapi import APIRouter, Request

from services.placenames import gazetteer
from services.placenames.checks import service
from services.placenames.checks.auth import ParseUser
from services.placenames.checks.schemas import NameCheckIn, NameCheckOut
from shared.db import Session
from shared.errors import problem_responses

router = APIRouter(tags=["name checks 地名核验"])


@router.post(
    "/name-checks",
    response_model=NameCheckOut,
    summary="Is this name standard?",
    description="地名规范性核验 for other agencies (market regulation, public security, post): a registered "
    "standard name; an alias or old name with today's standard form; or an unregistered name "
    "with what breaks the naming rules (夸大、洋化, a wrong 通名, Latin letters) and similar "
    "standard names: for a road, first those that sound the same or alike or are one character "
    "off (中山西陆 → 中山西路, same sound), each with its reason.",
    responses=problem_responses(401, 403, 422),
)
async def check_name(data: NameCheckIn, request: Request, session: Session, _: ParseUser) -> NameCheckOut:
    gaz = await gazetteer.current(request.app, session)
    return await service.check(session, gaz, data)
