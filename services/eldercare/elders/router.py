from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.eldercare.database import IDEMPOTENCY_KEYS, PII_READS
from services.eldercare.elders import service
from services.eldercare.elders.auth import ElderPiiReader, EldersReader, EldersWriter
from services.eldercare.elders.schemas import ElderIn, ElderOut
from services.eldercare.elders.service import to_out
from shared.areas import DIVISION_CODE_PATTERN
from shared.db import Session
from shared.errors import problem_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent
from shared.pagination import Page, PageParams, page_of, page_params
from shared.pii_reads import PiiReadIn, PiiReadOut, record_pii_read

router = APIRouter(prefix="/elders", tags=["elders 老年人"])


@router.post(
    "",
    status_code=201,
    response_model=ElderOut,
    summary="Register an older person",
    description="Registers a person aged 60 or more by resident ID number (validated; birth date, sex and "
    "age derived). Staff register people in their own area only. A retry with the same "
    "`Idempotency-Key` returns the first result.",
    responses=problem_responses(401, 403, 409, 422),
)
async def register_elder(
    data: ElderIn,
    request: Request,
    session: Session,
    principal: EldersWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> ElderOut:
    async def create() -> ElderOut:
        return to_out(await service.register(session, principal, data))

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.get(
    "",
    response_model=Page[ElderOut],
    summary="List older people you may see",
    description="Staff see their area and below; a resident sees themself and the people they care for.",
    responses=problem_responses(401, 403),
)
async def list_elders(
    session: Session,
    principal: EldersReader,
    page: Annotated[PageParams, Depends(page_params)],
    area_code: Annotated[str | None, Query(pattern=DIVISION_CODE_PATTERN)] = None,
    lives_alone: bool | None = None,
) -> Page[ElderOut]:
    rows = await service.list_visible(session, principal, page, area_code=area_code, lives_alone=lives_alone)
    return page_of([to_out(r) for r in rows], page, key=lambda e: e.id)


@router.get(
    "/{elder_id}",
    response_model=ElderOut,
    summary="One older person",
    description="The person with ID number and phone masked; another area's staff, or a resident not caring for them, get 404.",
    responses=problem_responses(401, 403, 404),
)
async def get_elder(elder_id: int, session: Session, principal: EldersReader) -> ElderOut:
    return to_out(await service.get_visible(session, principal, elder_id))


@router.post(
    "/{elder_id}/pii-reads",
    status_code=201,
    response_model=PiiReadOut,
    summary="Read one person's ID number and phone in the clear (audited)",
    description="For a stated purpose, the ID number and phone of a person you may see, in the clear. Each "
    "read writes an append-only audit record (who, whose, when, why, request id) in the same "
    "transaction: if it cannot be written, nothing is answered. Another area's person is 404.",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_elder_pii(elder_id: int, data: PiiReadIn, session: Session, principal: ElderPiiReader) -> PiiReadOut:
    elder = await service.get_visible(session, principal, elder_id)
    return await record_pii_read(
        session,
        PII_READS,
        principal,
        subject_type="elder",
        subject_id=elder.id,
        subject_area=elder.area_code,
        values={"id_number": elder.id_number, "phone": elder.phone},
        purpose=data.purpose,
    )
