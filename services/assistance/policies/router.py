from typing import Annotated

from fastapi import APIRouter, Query

from services.assistance.policies import service
from services.assistance.policies.auth import PoliciesReader, PoliciesWriter
from services.assistance.policies.schemas import PoliciesInForce, PolicyCode, PolicyVersionIn, PolicyVersionOut
from services.assistance.policies.service import to_out
from shared import clock
from shared.areas import CITY_CODE, DISTRICT_OR_CITY_PATTERN
from shared.db import Session
from shared.errors import problem_responses
from shared.params import IsoDate

router = APIRouter(prefix="/policies", tags=["policies 救助政策参数"])


DistrictQuery = Annotated[
    str, Query(pattern=DISTRICT_OR_CITY_PATTERN, description="330200 (city-wide) or a district code")
]


@router.get(
    "",
    response_model=PoliciesInForce,
    summary="Policy parameters in force on a date",
    description="For each parameter (低保标准, 低保边缘倍数, 特困供养标准, 孤儿养育标准, 残疾人两项补贴, "
    "资产上限…), the version in force on `as_of` (default: today in Asia/Shanghai): the "
    "district's own version when it has one in force, else the city-wide (330200) one. Each "
    "item carries its version id, its citation and whether the figure is an assumption. "
    "404 when no rule was in force on that date.",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_in_force(
    session: Session,
    _principal: PoliciesReader,
    as_of: Annotated[IsoDate | None, Query(description="The day asked about (YYYY-MM-DD)")] = None,
    district: DistrictQuery = CITY_CODE,
    code: Annotated[PolicyCode | None, Query(description="Only this parameter")] = None,
) -> PoliciesInForce:
    day = as_of or clock.today()
    versions = await service.in_force(session, as_of=day, district_code=district, code=code)
    return PoliciesInForce(as_of=day, district_code=district, items=[to_out(v) for v in versions])


@router.get(
    "/{code}/versions",
    response_model=list[PolicyVersionOut],
    summary="History of one parameter",
    description="Every version of the parameter, by district (330200 city-wide first) then effective "
    "date. Versions are never rewritten, so this is the full record of what applied when.",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_versions(
    code: str,
    session: Session,
    _principal: PoliciesReader,
    district: Annotated[str | None, Query(pattern=DISTRICT_OR_CITY_PATTERN)] = None,
) -> list[PolicyVersionOut]:
    return [to_out(v) for v in await service.history(session, code, district_code=district)]


@router.post(
    "",
    status_code=201,
    response_model=PolicyVersionOut,
    summary="Add a version of a parameter",
    description="Adds a new dated version (city-wide or for one district); an existing version is never "
    "changed. City-level staff (area 330200) only. The unit must be the parameter's unit. A "
    "second version with the same code, district and effective date is a 409 naming the "
    "existing one.",
    responses=problem_responses(401, 403, 409, 422),
)
async def add_version(data: PolicyVersionIn, session: Session, principal: PoliciesWriter) -> PolicyVersionOut:
    return to_out(await service.add_version(session, principal, data))
