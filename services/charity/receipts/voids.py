"""Voiding receipts (作废), and what a donation's receipt chain says about it: the rules a refund and an issue share.

A receipt is voided, never deleted nor renumbered: its number stays used. A refund voids the live receipt of
its donation (a merged one as a whole) in the refund's transaction; the donations it covered become receivable
again, a new receipt naming the voided one it follows (`DonationReceipt.replaces_receipt_id`).

On PostgreSQL a refund and an issue of the same donation serialise on the donation's row (`lock_donations`):
an issue reads the refunds and the chain after the lock, a refund reads the chain after it, so whichever comes
second sees the other's work. (Donations are never updated: the lock stops no one but these.) On SQLite every
transaction is serialised already.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.charity.donations.models import Donation
from services.charity.receipts.models import DonationReceipt, ReceiptVoid
from shared.db import conflict_insert, utcnow


@dataclass(frozen=True)
class Outcome:
    """The last row of a donation's chain: a decline (no receipt), a live receipt, or a voided one."""

    receipt_id: int | None
    voided: bool

    @property
    def live(self) -> bool:
        """A decline or a receipt not voided: the donation may not be receipted (again)."""
        return not self.voided


async def lock_donations(session: AsyncSession, donation_ids: list[int]) -> None:
    """FOR NO KEY UPDATE on the donations' rows, in id order (no deadlock between two callers). It does not
    conflict with the KEY SHARE locks that rows referring to a donation take."""
    if donation_ids:
        await session.execute(
            select(Donation.id)
            .where(Donation.id.in_(donation_ids))
            .order_by(Donation.id)
            .with_for_update(key_share=True)
        )


async def outcomes(session: AsyncSession, donation_ids: list[int]) -> dict[int, Outcome | None]:
    """Each donation's outcome, None for one never receipted nor declined. Core columns, read afresh."""
    found: dict[int, Outcome | None] = {d: None for d in donation_ids}
    if not donation_ids:
        return found
    last = (
        select(func.max(DonationReceipt.id))
        .where(DonationReceipt.donation_id.in_(donation_ids))
        .group_by(DonationReceipt.donation_id)
    )
    rows = await session.execute(
        select(DonationReceipt.donation_id, DonationReceipt.receipt_id, ReceiptVoid.receipt_id.is_not(None))
        .outerjoin(ReceiptVoid, ReceiptVoid.receipt_id == DonationReceipt.receipt_id)
        .where(DonationReceipt.id.in_(last))
    )
    for donation_id, receipt_id, voided in rows:
        found[donation_id] = Outcome(receipt_id, bool(voided))
    return found


async def void(
    session: AsyncSession, receipt_id: int, *, reason: str, by: str, refund_id: int | None = None
) -> ReceiptVoid | None:
    """Void the receipt; None if it was voided already (or is being voided by a transaction that then commits:
    PostgreSQL waits for it, and the primary key lets one void in)."""
    row = (
        await session.execute(
            conflict_insert(ReceiptVoid, session.get_bind().dialect.name)
            .values(receipt_id=receipt_id, voided_at=utcnow(), reason=reason, refund_id=refund_id, voided_by=by)
            .on_conflict_do_nothing(index_elements=["receipt_id"])
            .returning(ReceiptVoid.receipt_id)
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    return await session.get(ReceiptVoid, receipt_id, populate_existing=True)


async def void_for_refund(session: AsyncSession, donation_id: int, *, refund_id: int, reason: str, by: str) -> None:
    """A refund, even in part, voids the live receipt covering its donation: the receipt states an amount no
    longer given. What remains (of this donation, of the others on a merged receipt) may be receipted anew."""
    await lock_donations(session, [donation_id])
    outcome = (await outcomes(session, [donation_id]))[donation_id]
    if outcome is None or outcome.receipt_id is None or outcome.voided:
        return
    # None when a refund of another donation on the same merged receipt voided it meanwhile: nothing left to do.
    await void(session, outcome.receipt_id, reason=f"退款作废: {reason}"[:300], by=by, refund_id=refund_id)
