"""Receipts: gap-free numbers, the donor's right to decline, merged receipts for small gifts, and voiding (作废)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.charity.access import visible_or_404
from services.charity.donations import service as donations
from services.charity.donations.models import Donation
from services.charity.donations.schemas import ANONYMOUS_NAME
from services.charity.organizations import service as organizations
from services.charity.organizations.models import Organization
from services.charity.receipts import voids
from services.charity.receipts.models import DonationReceipt, Receipt, ReceiptCounter, ReceiptVoid
from services.charity.receipts.schemas import (
    DeclineIn,
    DeclineOut,
    MergedReceiptIn,
    ReceiptIn,
    ReceiptOut,
    ReceiptStatus,
    VoidIn,
)
from shared import clock
from shared.areas import within_area
from shared.db import conflict_insert, get_or_404, utcnow
from shared.errors import Conflict, InvalidInput, NotFound
from shared.identity import Principal
from shared.pagination import PageParams, keyset

MERGE_LIMIT_FEN = 5_000  # gifts of 50 yuan or less may share one receipt per day


def receipt_out(receipt: Receipt, donation_ids: list[int], void: ReceiptVoid | None = None) -> ReceiptOut:
    """Computed: the receipt number as printed; adds the donations it covers and its void, if any."""
    return ReceiptOut(
        id=receipt.id,
        organization_id=receipt.organization_id,
        receipt_no=f"{receipt.year}-{receipt.number:06d}",
        year=receipt.year,
        number=receipt.number,
        kind=receipt.kind,
        gift_kind=receipt.gift_kind,
        donor_name=receipt.donor_name,
        donor_kind=receipt.donor_kind,
        amount_fen=receipt.amount_fen,
        quantity=receipt.quantity,
        handler=receipt.handler,
        issued_on=receipt.issued_on,
        donation_ids=donation_ids,
        created_at=receipt.created_at,
        status="voided" if void is not None else "issued",
        voided_at=void.voided_at if void is not None else None,
        void_reason=void.reason if void is not None else None,
        void_refund_id=void.refund_id if void is not None else None,
    )


async def next_number(session: AsyncSession, organization_id: int, year: int) -> int:
    """Take the organisation's next receipt number for the year.

    The UPDATE locks the counter row until commit (PostgreSQL) or runs inside BEGIN IMMEDIATE (SQLite):
    receipts of one organisation are issued one at a time, and a transaction that fails after taking a
    number rolls the counter back with it, so the numbers have no gaps.
    """
    await session.execute(
        conflict_insert(ReceiptCounter, session.get_bind().dialect.name)
        .values(organization_id=organization_id, year=year, last_number=0)
        .on_conflict_do_nothing(index_elements=["organization_id", "year"])
    )
    return (
        await session.execute(
            update(ReceiptCounter)
            .where(ReceiptCounter.organization_id == organization_id, ReceiptCounter.year == year)
            .values(last_number=ReceiptCounter.last_number + 1)
            .returning(ReceiptCounter.last_number)
        )
    ).scalar_one()


async def _receivable(session: AsyncSession, donation_id: int) -> int | None:
    """Under the donation's lock: the voided receipt a new one for the donation follows (None for its first), or
    the 409 naming its live receipt or its decline."""
    await voids.lock_donations(session, [donation_id])
    outcome = (await voids.outcomes(session, [donation_id]))[donation_id]
    if outcome is None:
        return None
    if outcome.live:
        raise _already(outcome, donation_id)
    return outcome.receipt_id


def _already(outcome: voids.Outcome, donation_id: int) -> Conflict:
    if outcome.receipt_id is not None:
        return Conflict(
            "donation {donation_id} already has receipt {receipt_id}",
            resource=f"receipts/{outcome.receipt_id}",
            donation_id=donation_id,
            receipt_id=outcome.receipt_id,
        )
    return Conflict(
        "the donor of donation {donation_id} declined a receipt",
        resource=f"donations/{donation_id}",
        donation_id=donation_id,
    )


async def _issue(
    session: AsyncSession,
    principal: Principal,
    *,
    organization_id: int,
    kind: str,
    donor_name: str,
    donor_kind: str,
    amount_fen: int,
    handler: str,
    donations: dict[int, int | None],
    number: int,
    year: int,
    today: dt.date,
) -> Receipt:
    receipt = Receipt(
        organization_id=organization_id,
        year=year,
        number=number,
        kind=kind,
        gift_kind="money",
        donor_name=donor_name,
        donor_kind=donor_kind,
        amount_fen=amount_fen,
        quantity=None,
        handler=handler,
        issued_on=today,
        issued_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(receipt)
    await session.flush()
    # Each donation with the voided receipt this one follows, if any: the chain's keys refuse a second live one.
    session.add_all(
        DonationReceipt(donation_id=d, receipt_id=receipt.id, replaces_receipt_id=r, recorded_by=principal.subject)
        for d, r in donations.items()
    )
    await session.flush()
    return receipt


async def issue(session: AsyncSession, principal: Principal, data: ReceiptIn) -> ReceiptOut:
    try:
        donation = await donations.get_visible(session, principal, data.donation_id)
    except NotFound:
        raise InvalidInput("donation_id", "no donation that you may see") from None
    today = clock.today()
    # The number first: it serialises this organisation's receipts; then the donation's lock, which a refund
    # takes too, so the checks below read settled state.
    number = await next_number(session, donation.organization_id, today.year)
    replaces = await _receivable(session, donation.id)
    refunded = (await donations.refunded_of(session, [donation.id]))[donation.id]
    if refunded >= donation.amount_fen:
        raise Conflict(
            "donation {donation_id} was refunded in full", resource=f"donations/{donation.id}", donation_id=donation.id
        )
    receipt = await _issue(
        session,
        principal,
        organization_id=donation.organization_id,
        kind="individual",
        donor_name=donations.donor_name(donation),
        donor_kind=donation.donor_kind,
        amount_fen=donation.amount_fen - refunded,
        handler=data.handler,
        donations={donation.id: replaces},
        number=number,
        year=today.year,
        today=today,
    )
    return receipt_out(receipt, [donation.id])


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=clock.SHANGHAI)
    return start, start + dt.timedelta(days=1)


async def issue_merged(session: AsyncSession, principal: Principal, data: MergedReceiptIn) -> ReceiptOut:
    """All of a day's gifts of 50 yuan or less, and anonymous ones, without a live receipt and not declined: one
    receipt under 爱心人士 for their sum (less refunds)."""
    try:
        org = await organizations.get(session, data.organization_id)
    except NotFound:
        raise InvalidInput("organization_id", "no such organisation") from None
    visible_or_404(principal, org.district_code, "no organisation {id} that you may see", id=org.id)
    today = clock.today()
    if data.day > today:
        raise InvalidInput("day", "cannot be in the future")
    number = await next_number(session, org.id, today.year)
    start, end = _day_bounds(data.day)
    live = (
        select(DonationReceipt.id)
        .outerjoin(ReceiptVoid, ReceiptVoid.receipt_id == DonationReceipt.receipt_id)
        .where(DonationReceipt.donation_id == Donation.id, ReceiptVoid.receipt_id.is_(None))
        .exists()
    )
    candidates = list(
        await session.scalars(
            select(Donation)
            .where(
                Donation.organization_id == org.id,
                Donation.donated_at >= start,
                Donation.donated_at < end,
                ~live,
                or_(Donation.amount_fen <= MERGE_LIMIT_FEN, Donation.donor_kind == "anonymous"),
            )
            .order_by(Donation.id)
        )
    )
    # Read again under the donations' locks: a refund may have come between the query and the locks.
    await voids.lock_donations(session, [d.id for d in candidates])
    outcomes = await voids.outcomes(session, [d.id for d in candidates])
    refunded = await donations.refunded_of(session, [d.id for d in candidates])
    merged = [d for d in candidates if d.amount_fen > refunded[d.id] and ((o := outcomes[d.id]) is None or not o.live)]
    if not merged:
        raise Conflict(
            "no gifts of 50 yuan or less, or anonymous, left to receipt on {day}",
            resource=f"organizations/{org.id}",
            day=data.day.isoformat(),
        )
    receipt = await _issue(
        session,
        principal,
        organization_id=org.id,
        kind="merged",
        donor_name=ANONYMOUS_NAME,
        donor_kind="anonymous",
        amount_fen=sum(d.amount_fen - refunded[d.id] for d in merged),
        handler=data.handler,
        donations={d.id: (o.receipt_id if (o := outcomes[d.id]) is not None else None) for d in merged},
        number=number,
        year=today.year,
        today=today,
    )
    return receipt_out(receipt, [d.id for d in merged])


async def decline(session: AsyncSession, principal: Principal, data: DeclineIn) -> DeclineOut:
    try:
        donation = await donations.get_visible(session, principal, data.donation_id)
    except NotFound:
        raise InvalidInput("donation_id", "no donation that you may see") from None
    replaces = await _receivable(session, donation.id)
    row = DonationReceipt(
        donation_id=donation.id,
        receipt_id=None,
        replaces_receipt_id=replaces,
        declined_at=utcnow(),
        decline_note=data.note,
        recorded_by=principal.subject,
    )
    session.add(row)
    await session.flush()  # the chain's keys refuse a concurrent receipt or decline of the same donation
    return DeclineOut(donation_id=donation.id, declined_at=row.declined_at, note=row.decline_note)


async def _donation_ids(session: AsyncSession, receipt_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {r: [] for r in receipt_ids}
    if receipt_ids:
        rows = await session.execute(
            select(DonationReceipt.receipt_id, DonationReceipt.donation_id)
            .where(DonationReceipt.receipt_id.in_(receipt_ids))
            .order_by(DonationReceipt.donation_id)
        )
        for receipt_id, donation_id in rows:
            found[receipt_id].append(donation_id)
    return found


async def _voids(session: AsyncSession, receipt_ids: list[int]) -> dict[int, ReceiptVoid]:
    if not receipt_ids:
        return {}
    rows = await session.scalars(
        select(ReceiptVoid).where(ReceiptVoid.receipt_id.in_(receipt_ids)).execution_options(populate_existing=True)
    )
    return {v.receipt_id: v for v in rows}


async def _visible_receipt(session: AsyncSession, principal: Principal, receipt_id: int) -> Receipt:
    receipt = await get_or_404(
        session, Receipt, receipt_id, "no receipt {receipt_id} that you may see", receipt_id=receipt_id
    )
    org = await organizations.get(session, receipt.organization_id)
    visible_or_404(principal, org.district_code, "no receipt {id} that you may see", id=receipt_id)
    return receipt


async def _out(session: AsyncSession, receipt: Receipt) -> ReceiptOut:
    donation_ids = (await _donation_ids(session, [receipt.id]))[receipt.id]
    return receipt_out(receipt, donation_ids, (await _voids(session, [receipt.id])).get(receipt.id))


async def get_visible(session: AsyncSession, principal: Principal, receipt_id: int) -> ReceiptOut:
    return await _out(session, await _visible_receipt(session, principal, receipt_id))


async def void(session: AsyncSession, principal: Principal, receipt_id: int, data: VoidIn) -> ReceiptOut:
    """Staff void a money receipt (作废), e.g. printed with a mistake: its number stays used, its donations may be
    receipted anew. A receipt for a non-cash gift belongs to the in-kind register (another scope): a 409."""
    receipt = await _visible_receipt(session, principal, receipt_id)
    where = f"receipts/{receipt.id}"
    if receipt.gift_kind != "money":
        raise Conflict(
            "receipt {receipt_id} is for a non-cash gift: the in-kind register keeps it",
            resource=where,
            receipt_id=receipt.id,
        )
    if await voids.void(session, receipt.id, reason=data.reason, by=principal.subject) is None:
        raise Conflict("receipt {receipt_id} is voided already", resource=where, receipt_id=receipt.id)
    return await _out(session, receipt)


async def list_visible(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    organization_id: int | None,
    year: int | None,
    status: ReceiptStatus | None = None,
) -> list[ReceiptOut]:
    if not principal.is_area_staff:
        return []

    query = keyset(
        select(Receipt)
        .join(Organization, Organization.id == Receipt.organization_id)
        .where(within_area(Organization.district_code, principal.area)),
        Receipt.id,
        page,
    )
    if organization_id is not None:
        query = query.where(Receipt.organization_id == organization_id)
    if year is not None:
        query = query.where(Receipt.year == year)
    if status is not None:
        voided = select(ReceiptVoid.receipt_id).where(ReceiptVoid.receipt_id == Receipt.id).exists()
        query = query.where(voided if status == "voided" else ~voided)
    rows = list(await session.scalars(query))
    ids = await _donation_ids(session, [r.id for r in rows])
    void_of = await _voids(session, [r.id for r in rows])
    return [receipt_out(r, ids[r.id], void_of.get(r.id)) for r in rows]
