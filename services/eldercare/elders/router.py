from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.eldercare.database import IDEMPOTENCY_KEYS, PII_READS
from services.eldercare.elders import service
from services.eldercare.elders.auth import ElderPiiReader, EldersReader, EldersWriter
from services.eldercare.elders.models import Elder
from services.eldercare.elders.schemas import ElderIn, ElderOut
from services.eldercare.elders.service import to_out
from services.eldercare.jobs import tasks
from shared.addresses import (
    AddressChangeIn,
    AddressStatus,
    enqueue_if_pending,
    give_address_again,
    placenames_of,
    standardise_input,
)
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
    "age derived). The home is a standard address (`address_code`) or free text standardised through "
    "placenames (`address`); its division (`area_code`) and position come from it. Staff register people in "
    "their own area only (403). Ambiguous text is a 422 with the ranked `candidates`; text that cannot be "
    "placed a 422 naming the part. While placenames cannot be reached the person is registered with "
    "`address_status` `pending`, and a job standardises the address shortly. A retry with the same "
    "`Idempotency-Key` returns the first result.",
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def register_elder(
    data: ElderIn,
    request: Request,
    session: Session,
    principal: EldersWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> ElderOut:
    # Asked before the transaction opens: a slow placenames holds no connection.
    address = await standardise_input(
        placenames_of(request.app), principal, data, latitude=data.latitude, longitude=data.longitude
    )

    async def create() -> ElderOut:
        elder = await service.register(session, principal, data, address)
        await enqueue_if_pending(session, tasks, address)
        return to_out(elder)

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
    address_status: Annotated[
        AddressStatus | None, Query(description="`unresolved`: the addresses staff must give again")
    ] = None,
) -> Page[ElderOut]:
    rows = await service.list_visible(
        session, principal, page, area_code=area_code, lives_alone=lives_alone, address_status=address_status
    )
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


@router.put(
    "/{elder_id}/address",
    response_model=ElderOut,
    summary="Give a person's home address again",
    description="A standard address code or free text, as at registration: the division and position follow the "
    "address. For an `unresolved` address above all, and for a move. The new address must lie in your area "
    "(403); while placenames cannot be reached it is kept as `pending`.",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def change_elder_address(
    elder_id: int, data: AddressChangeIn, request: Request, session: Session, principal: EldersWriter
) -> ElderOut:
    async def load(for_update: bool) -> Elder:
        return await service.get_visible(session, principal, elder_id, for_update=for_update)

    return to_out(await give_address_again(request, session, principal, data, tasks, load))


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
