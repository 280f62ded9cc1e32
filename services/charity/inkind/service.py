"""Non-cash gifts: valued on a stated basis, kept apart from cash, used or disposed of never beyond what came in."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.charity.access import visible_or_404
from services.charity.donations.schemas import ANONYMOUS_NAME
from services.charity.donations.service import donor_fields
from services.charity.inkind.models import InKindDisposition, InKindDonation, InKindReceipt
from services.charity.inkind.schemas import DispositionIn, DispositionOut, InKindIn, InKindOut, InKindReceiptIn
from services.charity.organizations import service as organizations
from services.charity.projects.models import Project
from services.charity.receipts import service as receipts
from services.charity.receipts import voids
from services.charity.receipts.models import Receipt, ReceiptVoid
from services.charity.receipts.schemas import ReceiptOut, VoidIn
from shared import clock
from shared.areas import within_area
from shared.db import one_or_404, utcnow
from shared.errors import Conflict, InvalidInput, NotFound
from shared.identity import Principal
from shared.pagination import PageParams, keyset


async def to_out(session: AsyncSession, gift: InKindDonation) -> InKindOut:
    """Computed: what remains after the dispositions, the receipt, and the name shown for an anonymous donor."""
    dispositions = [
        DispositionOut.model_validate(d)
        for d in await session.scalars(
            select(InKindDisposition).where(InKindDisposition.gift_id == gift.id).order_by(InKindDisposition.id)
        )
    ]
    last = await _last_receipt(session, gift.id)
    receipt_id = last[0] if last is not None else None
    return InKindOut(
        id=gift.id,
        organization_id=gift.organization_id,
        project_id=gift.project_id,
        kind=gift.kind,
        description=gift.description,
        quantity=gift.quantity,
        unit=gift.unit,
        remaining_quantity=gift.quantity - sum(d.quantity for d in dispositions),
        valuation_fen=gift.valuation_fen,
        valuation_basis=gift.valuation_basis,
        basis_note=gift.basis_note,
        donor_kind=gift.donor_kind,
        donor_name=gift.donor_name or ANONYMOUS_NAME,
        honour_opt_in=gift.honour_opt_in,
        received_on=gift.received_on,
        receipt_id=receipt_id,
        dispositions=dispositions,
        created_at=gift.created_at,
    )


async def record(session: AsyncSession, principal: Principal, data: InKindIn) -> InKindDonation:
    try:
        org = await organizations.get(session, data.organization_id)
    except NotFound:
        raise InvalidInput("organization_id", "no such organisation") from None
    visible_or_404(principal, org.district_code, "no organisation {id} that you may see", id=org.id)
    if data.project_id is not None:
        project = await session.get(Project, data.project_id)
        if project is None or project.organization_id != org.id:
            raise InvalidInput("project_id", "not a project of organisation {org_id}", org_id=org.id)
    if data.received_on > clock.today():
        raise InvalidInput("received_on", "cannot be in the future")
    donor = donor_fields(data.donor)
    gift = InKindDonation(
        organization_id=org.id,
        district_code=org.district_code,
        project_id=data.project_id,
        kind=data.kind,
        description=data.description,
        quantity=data.quantity,
        unit=data.unit,
        valuation_fen=data.valuation_fen,
        valuation_basis=data.valuation_basis,
        basis_note=data.basis_note,
        donor_kind=donor["donor_kind"],
        donor_name=donor["donor_name"],
        donor_credit_code=donor["donor_credit_code"],
        honour_opt_in=data.honour_opt_in,
        received_on=data.received_on,
        recorded_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(gift)
    await session.flush()
    return gift


async def get_visible(
    session: AsyncSession, principal: Principal, gift_id: int, *, lock: bool = False
) -> InKindDonation:
    query = select(InKindDonation).where(InKindDonation.id == gift_id)
    if lock:
        # Dispositions of one gift are taken one at a time (FOR NO KEY UPDATE on PostgreSQL; SQLite's BEGIN
        # IMMEDIATE already serialises), so what remains is read by the one that uses it.
        query = query.with_for_update(key_share=True).execution_options(populate_existing=True)
    gift = await one_or_404(session, query, "no non-cash gift {gift_id} that you may see", gift_id=gift_id)
    visible_or_404(principal, gift.district_code, "no non-cash gift {id} that you may see", id=gift_id)
    return gift


async def dispose(session: AsyncSession, principal: Principal, gift_id: int, data: DispositionIn) -> DispositionOut:
    gift = await get_visible(session, principal, gift_id, lock=True)
    if data.occurred_on > clock.today() or data.occurred_on < gift.received_on:
        raise InvalidInput("occurred_on", "between the day the gift was received and today")
    if (data.proceeds_fen is not None) != (data.action in ("sold", "transferred")):
        raise InvalidInput("proceeds_fen", "given for sold or transferred, and only then")
    used = int(
        await session.scalar(
            select(func.coalesce(func.sum(InKindDisposition.quantity), 0)).where(InKindDisposition.gift_id == gift.id)
        )
    )
    remaining = gift.quantity - used
    if data.quantity > remaining:
        raise Conflict(
            "only {remaining} {unit} of gift {gift_id} remain",
            resource=f"in-kind-donations/{gift.id}",
            remaining=remaining,
            unit=gift.unit,
            gift_id=gift.id,
        )
    row = InKindDisposition(
        gift_id=gift.id,
        action=data.action,
        quantity=data.quantity,
        proceeds_fen=data.proceeds_fen,
        occurred_on=data.occurred_on,
        note=data.note,
        recorded_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return DispositionOut.model_validate(row)


async def list_visible(
    session: AsyncSession, principal: Principal, page: PageParams, *, organization_id: int | None, kind: str | None
) -> list[InKindDonation]:
    if not principal.is_area_staff:
        return []
    query = keyset(
        select(InKindDonation).where(within_area(InKindDonation.district_code, principal.area)), InKindDonation.id, page
    )
    if organization_id is not None:
        query = query.where(InKindDonation.organization_id == organization_id)
    if kind is not None:
        query = query.where(InKindDonation.kind == kind)
    return list(await session.scalars(query))


async def _last_receipt(session: AsyncSession, gift_id: int) -> tuple[int, bool] | None:
    """The last receipt of the gift's chain (each later receipt has a later id) and whether it is voided; None for a
    gift never receipted. Core columns, read afresh."""
    row = (
        await session.execute(
            select(InKindReceipt.receipt_id, ReceiptVoid.receipt_id.is_not(None))
            .outerjoin(ReceiptVoid, ReceiptVoid.receipt_id == InKindReceipt.receipt_id)
            .where(InKindReceipt.gift_id == gift_id)
            .order_by(InKindReceipt.receipt_id.desc())
            .limit(1)
        )
    ).first()
    return (row[0], bool(row[1])) if row is not None else None


async def issue_receipt(session: AsyncSession, principal: Principal, gift_id: int, data: InKindReceiptIn) -> ReceiptOut:
    """A receipt stating the gift's kind and quantity (and its stated value in the description), numbered in
    the organisation's one sequence with its money receipts. One live receipt per gift: after its receipt is
    voided (作废), a new one follows it in the gift's chain."""
    gift = await get_visible(session, principal, gift_id)
    today = clock.today()
    # The number first: it serialises the organisation's receipts, so the chain read below is settled.
    number = await receipts.next_number(session, gift.organization_id, today.year)
    last = await _last_receipt(session, gift.id)
    if last is not None and not last[1]:
        raise Conflict(
            "gift {gift_id} already has receipt {existing}",
            resource=f"receipts/{last[0]}",
            gift_id=gift.id,
            existing=last[0],
        )
    receipt = Receipt(
        organization_id=gift.organization_id,
        year=today.year,
        number=number,
        kind="individual",
        gift_kind="in_kind",
        donor_name=gift.donor_name or ANONYMOUS_NAME,
        donor_kind=gift.donor_kind,
        amount_fen=None,
        quantity=f"{gift.description} {gift.quantity}{gift.unit}"[:200],
        handler=data.handler,
        issued_on=today,
        issued_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(receipt)
    await session.flush()
    # The chain's keys refuse a second live receipt of the gift.
    session.add(
        InKindReceipt(gift_id=gift.id, receipt_id=receipt.id, replaces_receipt_id=last[0] if last is not None else None)
    )
    await session.flush()
    return receipts.receipt_out(receipt, [])


async def void_receipt(session: AsyncSession, principal: Principal, gift_id: int, data: VoidIn) -> ReceiptOut:
    """Staff void the gift's live receipt (作废), e.g. printed with a mistake: it keeps its number (the sequence stays
    gap-free) and the gift may be receipted anew. The register has no return of a gift to its donor to void it."""
    gift = await get_visible(session, principal, gift_id)
    last = await _last_receipt(session, gift.id)
    if last is None:
        raise Conflict(
            "gift {gift_id} has no receipt to void", resource=f"in-kind-donations/{gift.id}", gift_id=gift.id
        )
    where = f"receipts/{last[0]}"
    if last[1] or await voids.void(session, last[0], reason=data.reason, by=principal.subject) is None:
        raise Conflict("receipt {receipt_id} is voided already", resource=where, receipt_id=last[0])
    receipt = await session.get(Receipt, last[0])
    assert receipt is not None  # the chain's foreign key
    return receipts.receipt_out(receipt, [], await session.get(ReceiptVoid, last[0]))
