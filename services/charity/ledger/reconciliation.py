"""Reconciliation (对账): the ledger checked against itself and against the business records.

Each check reads the organisations of the caller's area and returns its findings, one dict per difference;
`reconcile` runs them all and keeps the run. Nothing is corrected.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.charity.donations.models import Disbursement, Donation, Refund
from services.charity.ledger.models import LedgerAccount, LedgerEntry, LedgerGroup, LedgerSeal, Reconciliation
from services.charity.ledger.service import in_area, project_totals
from services.charity.projects.models import Project
from shared.db import utcnow
from shared.errors import NotFound
from shared.identity import Principal


async def unbalanced_groups(session: AsyncSession, principal: Principal) -> list[dict]:
    """Groups without a seal, with fewer than two entries, or whose entries do not sum to zero."""
    entry_sums = (
        select(LedgerEntry.group_id, func.sum(LedgerEntry.amount_fen).label("total"), func.count().label("n"))
        .group_by(LedgerEntry.group_id)
        .subquery()
    )
    rows = await session.execute(
        select(LedgerGroup.id, entry_sums.c.total, entry_sums.c.n, LedgerSeal.group_id)
        .outerjoin(entry_sums, entry_sums.c.group_id == LedgerGroup.id)
        .outerjoin(LedgerSeal, LedgerSeal.group_id == LedgerGroup.id)
        .where(
            in_area(principal, LedgerGroup.organization_id),
            or_(
                entry_sums.c.total.is_(None), entry_sums.c.total != 0, entry_sums.c.n < 2, LedgerSeal.group_id.is_(None)
            ),
        )
    )
    return [
        dict(
            kind="unbalanced_group",
            group_id=group_id,
            sum_fen=int(total or 0),
            entries=int(n or 0),
            sealed=sealed is not None,
        )
        for group_id, total, n, sealed in rows
    ]


async def records_unlike_their_groups(session: AsyncSession, principal: Principal) -> list[dict]:
    """Donations, refunds and disbursements whose group is of another kind, or whose project-account leg
    differs from the record's amount (a donation moves money in, a refund or disbursement out)."""
    project_leg = (
        select(LedgerEntry.group_id, func.sum(LedgerEntry.amount_fen).label("amount"))
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerAccount.kind == "project")
        .group_by(LedgerEntry.group_id)
        .subquery()
    )
    findings: list[dict] = []
    for model, kind, sign in ((Donation, "donation", 1), (Refund, "refund", -1), (Disbursement, "disbursement", -1)):
        rows = await session.execute(
            select(model.id, model.amount_fen, project_leg.c.amount)
            .join(LedgerGroup, LedgerGroup.id == model.ledger_group_id)
            .outerjoin(project_leg, project_leg.c.group_id == model.ledger_group_id)
            .where(
                in_area(principal, LedgerGroup.organization_id),
                or_(
                    project_leg.c.amount.is_(None),
                    project_leg.c.amount != sign * model.amount_fen,
                    LedgerGroup.kind != kind,
                ),
            )
        )
        findings += [
            dict(
                kind=f"{kind}_mismatch",
                record_id=record_id,
                record_fen=int(amount),
                ledger_fen=None if leg is None else sign * int(leg),
            )
            for record_id, amount, leg in rows
        ]
    return findings


async def over_refunded_donations(session: AsyncSession, principal: Principal) -> list[dict]:
    """Donations whose refunds add up to more than the donation."""
    refunded = (
        select(Refund.donation_id, func.sum(Refund.amount_fen).label("refunded"))
        .group_by(Refund.donation_id)
        .subquery()
    )
    rows = await session.execute(
        select(Donation.id, Donation.amount_fen, refunded.c.refunded)
        .join(refunded, refunded.c.donation_id == Donation.id)
        .join(LedgerGroup, LedgerGroup.id == Donation.ledger_group_id)
        .where(in_area(principal, LedgerGroup.organization_id), refunded.c.refunded > Donation.amount_fen)
    )
    return [
        dict(kind="over_refunded", donation_id=donation_id, donation_fen=int(amount), refunded_fen=int(total))
        for donation_id, amount, total in rows
    ]


async def negative_balances(session: AsyncSession, principal: Principal) -> list[dict]:
    """Project funds and disbursement accounts below zero, and clearing accounts above it (a clearing
    account's balance is minus the money held for donors' gifts)."""
    balance = func.sum(LedgerEntry.amount_fen)
    rows = await session.execute(
        select(LedgerAccount.id, LedgerAccount.kind, balance)
        .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .where(in_area(principal, LedgerAccount.organization_id))
        .group_by(LedgerAccount.id, LedgerAccount.kind)
        .having(
            or_(
                and_(LedgerAccount.kind != "clearing", balance < 0), and_(LedgerAccount.kind == "clearing", balance > 0)
            )
        )
    )
    return [
        dict(kind="negative_balance", account_id=account_id, account_kind=kind, balance_fen=int(total))
        for account_id, kind, total in rows
    ]


async def project_totals_unlike_records(session: AsyncSession, project_ids: Sequence[int]) -> list[dict]:
    """Projects whose donated, refunded and spent totals from the ledger differ from the sums of their
    donations, refunds and disbursements."""
    ledger = await project_totals(session, project_ids)
    records: dict[int, list[int]] = {pid: [0, 0, 0] for pid in project_ids}
    for index, query in enumerate(
        (
            select(Donation.project_id, func.sum(Donation.amount_fen)).group_by(Donation.project_id),
            select(Donation.project_id, func.sum(Refund.amount_fen))
            .join(Donation, Donation.id == Refund.donation_id)
            .group_by(Donation.project_id),
            select(Disbursement.project_id, func.sum(Disbursement.amount_fen)).group_by(Disbursement.project_id),
        )
    ):
        for pid, total in await session.execute(query):
            if pid in records:
                records[pid][index] = int(total)
    findings: list[dict] = []
    for pid in project_ids:
        donated, refunded, spent = records[pid]
        found = ledger[pid]
        if (found.donated_fen, found.refunded_fen, found.spent_fen) != (donated, refunded, spent):
            findings.append(
                dict(
                    kind="project_totals",
                    project_id=pid,
                    ledger=dict(
                        donated_fen=found.donated_fen, refunded_fen=found.refunded_fen, spent_fen=found.spent_fen
                    ),
                    records=dict(donated_fen=donated, refunded_fen=refunded, spent_fen=spent),
                )
            )
    return findings


async def reconcile(session: AsyncSession, principal: Principal) -> Reconciliation:
    """Check, for the organisations of the caller's area, that every group is sealed and balances, that every
    donation, refund and disbursement matches its group, that no donation is refunded beyond its amount,
    that no project fund or payout account is negative, and that each project's totals from the ledger equal
    those of the business records. Every difference found is reported; nothing is corrected.
    """
    started = utcnow()
    groups_in_area = in_area(principal, LedgerGroup.organization_id)
    groups_checked = int(await session.scalar(select(func.count()).select_from(LedgerGroup).where(groups_in_area)))
    entries_checked = int(
        await session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .join(LedgerGroup, LedgerGroup.id == LedgerEntry.group_id)
            .where(groups_in_area)
        )
    )
    project_ids = list(await session.scalars(select(Project.id).where(in_area(principal, Project.organization_id))))
    differences = [
        *await unbalanced_groups(session, principal),
        *await records_unlike_their_groups(session, principal),
        *await over_refunded_donations(session, principal),
        *await negative_balances(session, principal),
        *await project_totals_unlike_records(session, project_ids),
    ]
    run = Reconciliation(
        balanced=not differences,
        groups_checked=groups_checked,
        entries_checked=entries_checked,
        projects_checked=len(project_ids),
        differences=differences,
        area_code=principal.area or "",
        started_at=started,
        finished_at=utcnow(),
        run_by=principal.subject,
    )
    session.add(run)
    await session.flush()
    return run


async def nightly(session: AsyncSession, principal: Principal, night: dt.datetime) -> Reconciliation:
    """The night's run (the scheduled `ledger.reconcile`, jobs.py): the one `principal` kept since the night's
    slot began, when its job is taken over after the worker died, or else a new one."""
    kept = await session.scalar(
        select(Reconciliation)
        .where(Reconciliation.run_by == principal.subject, Reconciliation.started_at >= night)
        .order_by(Reconciliation.id)
        .limit(1)
    )
    return kept or await reconcile(session, principal)


async def get_reconciliation(session: AsyncSession, principal: Principal, run_id: int) -> Reconciliation:
    run = await session.get(Reconciliation, run_id)
    if run is None or not principal.covers(run.area_code):
        raise NotFound("no reconciliation {run_id} that you may see", run_id=run_id)
    return run
