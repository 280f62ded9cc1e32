from typing import Annotated

from fastapi import APIRouter, Path, Request

from services.placenames.database import IDEMPOTENCY_KEYS
from services.placenames.plates import service
from services.placenames.plates.auth import PlatesWriter
from services.placenames.plates.schemas import PLATE_CODE_PATTERN, PlateIn, PlateOut, ReplaceIn, RevokeIn
from shared.db import Session
from shared.errors import problem_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent

router = APIRouter(prefix="/door-plates", tags=["door plates 数字门牌"])
Code = Annotated[str, Path(pattern=PLATE_CODE_PATTERN, description="The plate's QR code, NBMP + 8 digits")]


@router.post(
    "",
    status_code=201,
    response_model=PlateOut,
    summary="Issue a door plate",
    description="门牌: a plate with a new QR code carrying one or more current standard addresses (一号多址); "
    "an address may carry several plates (多号一址). Staff issue plates in their area. A retry with the same "
    "`Idempotency-Key` returns the first plate instead of printing a second.",
    responses=problem_responses(401, 403, 409, 422),
)
async def issue_plate(
    data: PlateIn,
    request: Request,
    session: Session,
    principal: PlatesWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> PlateOut:
    async def create() -> PlateOut:
        return await service.out(session, await service.issue(session, principal, data))

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.get(
    "/{code}",
    response_model=PlateOut,
    summary="What a plate's QR code stands for (public)",
    description="Scanning a 数字门牌: the plate's status (issued 在用, replaced 已更换 with the new plate's code, "
    "revoked 已注销), its addresses and what is there.",
    responses=problem_responses(404, 422),
)
async def get_plate(code: Code, session: Session) -> PlateOut:
    return await service.out(session, await service.resolve(session, code))


@router.post(
    "/{code}/replace",
    status_code=201,
    response_model=PlateOut,
    summary="Replace a plate",
    description="换牌: a new plate with a new code for the same addresses; the old one reads replaced and "
    "names the new. Once only (409 after).",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def replace_plate(code: Code, data: ReplaceIn, session: Session, principal: PlatesWriter) -> PlateOut:
    return await service.out(session, await service.replace(session, principal, code, data))


@router.post(
    "/{code}/revoke",
    response_model=PlateOut,
    summary="Revoke a plate",
    description="注销: the plate reads revoked; its addresses stay.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def revoke_plate(code: Code, data: RevokeIn, session: Session, principal: PlatesWriter) -> PlateOut:
    return await service.out(session, await service.revoke(session, principal, code, data))
