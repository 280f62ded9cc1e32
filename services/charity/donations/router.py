from typing import Annotated

from fastapi import APIRouter, Depends, Request

from services.charity.database import IDEMPOTENCY_KEYS, PII_READS
from services.charity.donations import service
from services.charity.donations.auth import DonationsReader, DonationsWriter, DonorPhoneReader, FundsWriter
from services.charity.donations.schemas import (
    DisbursementIn,
    DisbursementOut,
    DonationIn,
    DonationOut,
    RefundIn,
    RefundOut,
)
from shared.db import Session
from shared.errors import problem_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent
from shared.pagination import Page, PageParams, page_of, page_params
from shared.pii_reads import PiiReadIn, PiiReadOut, record_pii_read

router = APIRouter(tags=["donations 捐赠"])


@router.post(
    "/donations",
    status_code=201,
    response_model=DonationOut,
    summary="Record a money donation",
    description="A donation (捐赠) reported by its payment channel, to a project that is fundraising "
    "(募捐中), within its period; else a 409. Posts one balanced ledger group (clearing → "
    "project fund). Counted once: a retry with the same `Idempotency-Key` replays the first "
    "response, and the same (channel, channel_txn_id) under any key returns the first "
    "donation (the schema holds that pair unique); the same transaction with another "
    "amount or project is a 409 naming the donation. Donors are people (个人), companies "
    "(企业, with a valid credit code) or anonymous (匿名, shown as 爱心人士).",
    responses=problem_responses(401, 403, 409, 422),
)
async def record_donation(
    data: DonationIn,
    request: Request,
    principal: DonationsWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> DonationOut:
    return await service.donate(request, principal, data)


@router.get(
    "/donations",
    response_model=Page[DonationOut],
    summary="List donations of your area",
    description="Donations to projects of organisations in your area; phones masked; refunded and still "
    "refundable amounts from the refunds recorded.",
    responses=problem_responses(401, 403, 422),
)
async def list_donations(
    session: Session,
    principal: DonationsReader,
    page: Annotated[PageParams, Depends(page_params)],
    project_id: int | None = None,
) -> Page[DonationOut]:
    rows = await service.list_visible(session, principal, page, project_id=project_id)
    return page_of(rows, page, key=lambda d: d.id)


@router.get(
    "/donations/{donation_id}",
    response_model=DonationOut,
    summary="One donation",
    description="A donation to a project of your area, with what was refunded and what may still be; "
    "the donor's phone masked.",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_donation(donation_id: int, session: Session, principal: DonationsReader) -> DonationOut:
    return await service.to_out(session, await service.get_visible(session, principal, donation_id))


@router.post(
    "/donations/{donation_id}/pii-reads",
    status_code=201,
    response_model=PiiReadOut,
    summary="Read a donor's phone in the clear (audited)",
    description="For a stated purpose (a receipt to send, a refund to arrange), the phone of the donor of a "
    "donation you may see, in the clear. Each read writes an append-only audit record (who, "
    "whose, when, why, request id) in the same transaction: if it cannot be written, nothing is "
    "answered. A donation outside your area is 404, as when reading it.",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_donor_pii(
    donation_id: int, data: PiiReadIn, session: Session, principal: DonorPhoneReader
) -> PiiReadOut:
    donation, district_code = await service.get_visible_with_area(session, principal, donation_id)
    return await record_pii_read(
        session,
        PII_READS,
        principal,
        subject_type="donor",
        subject_id=donation.id,
        subject_area=district_code,
        values={"donor_phone": donation.donor_phone},
        purpose=data.purpose,
    )


@router.post(
    "/donations/{donation_id}/refunds",
    status_code=201,
    response_model=RefundOut,
    summary="Refund part or all of a donation",
    description="A partial refund (部分退款) is a new ledger group reversing the donation's group in part "
    "(project fund → clearing), linked to it; the donation itself is never changed. Never more "
    "than what remains of the donation, nor than the project still holds (409 with the "
    "amounts). Concurrent refunds are serialised on the project's fund account. A live receipt "
    "covering the donation is voided (作废) in the same transaction, a merged one as a whole: its "
    "amount is no longer what was given; what remains may be receipted anew.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def refund_donation(
    donation_id: int,
    data: RefundIn,
    request: Request,
    session: Session,
    principal: FundsWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> RefundOut:
    async def create() -> RefundOut:
        return await service.refund(session, principal, donation_id, data)

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.get(
    "/donations/{donation_id}/refunds",
    response_model=list[RefundOut],
    summary="Refunds of a donation",
    description="Each partial refund (退款) with the ledger group that reverses part of the donation's.",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_refunds(donation_id: int, session: Session, principal: DonationsReader) -> list[RefundOut]:
    return await service.refunds_of(session, principal, donation_id)


@router.post(
    "/disbursements",
    status_code=201,
    response_model=DisbursementOut,
    summary="Disburse project funds",
    description="Pays a beneficiary (受益人) or a supplier (供应商) from a fundraising or executing project, "
    "under one of its budget lines, with at least one piece of evidence (invoice, contract, "
    "sign-off…). Never beyond the project's balance, nor beyond what its budget line (预算项) has "
    "left (a 409 naming the line and what remains; the budget has no approved change to spend "
    "past it): the fund account is locked while the balance and the line's spending are read and "
    "the group posted, so concurrent disbursements cannot overdraw either.",
    responses=problem_responses(401, 403, 409, 422),
)
async def disburse(
    data: DisbursementIn,
    request: Request,
    session: Session,
    principal: FundsWriter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> DisbursementOut:
    async def create() -> DisbursementOut:
        return DisbursementOut.model_validate(await service.disburse(session, principal, data))

    return await idempotent(request, session, IDEMPOTENCY_KEYS, principal, data, create)


@router.get(
    "/disbursements",
    response_model=Page[DisbursementOut],
    summary="List disbursements of your area",
    description="Payments (拨付) from projects of your area, oldest first, with their evidence.",
    responses=problem_responses(401, 403, 422),
)
async def list_disbursements(
    session: Session,
    principal: DonationsReader,
    page: Annotated[PageParams, Depends(page_params)],
    project_id: int | None = None,
) -> Page[DisbursementOut]:
    rows = await service.list_disbursements(session, principal, page, project_id=project_id)
    return page_of([DisbursementOut.model_validate(r) for r in rows], page, key=lambda d: d.id)


@router.get(
    "/disbursements/{disbursement_id}",
    response_model=DisbursementOut,
    summary="One disbursement",
    description="A payment from a project of your area with its budget line and evidence.",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_disbursement(disbursement_id: int, session: Session, principal: DonationsReader) -> DisbursementOut:
    return DisbursementOut.model_validate(await service.get_disbursement(session, principal, disbursement_id))
