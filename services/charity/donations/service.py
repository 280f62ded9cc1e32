"""Rules of money: donations (once per channel transaction), partial refunds, and disbursements.

Money leaves a project only under the lock on its fund account (ledger.lock_project_fund), so the
balance a refund or a disbursement checks is the balance it spends from.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from types import SimpleNamespace
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, false, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from starlette.requests import Request
from starlette.responses import JSONResponse
from stdnum import exceptions as stdnum_errors
from stdnum.cn import uscc

from services.charity.access import visible_or_404
from services.charity.database import IDEMPOTENCY_KEYS
from services.charity.donations.models import Disbursement, Donation, Refund
from services.charity.donations.schemas import (
    ANONYMOUS_NAME,
    DisbursementIn,
    DonationIn,
    DonationOut,
    DonorIn,
    RefundIn,
    RefundOut,
)
from services.charity.ledger import service as ledger
from services.charity.ledger.models import LedgerAccount, LedgerEntry, LedgerGroup
from services.charity.projects import service as projects
from services.charity.projects.models import BudgetLine, Project
from services.charity.receipts import voids as receipt_voids
from shared import clock, direct
from shared.areas import within_area
from shared.db import get_or_404, utcnow
from shared.direct import Link
from shared.errors import Conflict, InvalidInput, NotFound
from shared.idempotency import idempotent_direct
from shared.identity import Principal
from shared.idnumbers import mask_phone
from shared.metrics import count_after_commit, count_event
from shared.pagination import PageParams, keyset
from shared.pii import blind_index

SPENDING_STATUSES = ("fundraising", "executing")
PHONE_INDEX = "charity.donor_phone"  # the blind index's purpose: one donor's gifts are told apart by it


async def audit_subjects(session: AsyncSession, phone: str) -> list[tuple[str, str]]:
    """The audit subjects that are the donor with this phone: each of their donations, found by blind index."""
    ids = await session.scalars(
        select(Donation.id).where(Donation.donor_phone_index == blind_index(PHONE_INDEX, phone))
    )
    return [("donor", str(donation_id)) for donation_id in ids]


def donor_name(donation: Donation | SimpleNamespace) -> str:
    return donation.donor_name if donation.donor_kind != "anonymous" else ANONYMOUS_NAME


def donation_out(donation: Donation | SimpleNamespace, refunded_fen: int) -> DonationOut:
    """Computed: what is still refundable, the name shown for the donor, and the phone masked."""
    return DonationOut(
        id=donation.id,
        project_id=donation.project_id,
        organization_id=donation.organization_id,
        channel=donation.channel,
        channel_txn_id=donation.channel_txn_id,
        amount_fen=donation.amount_fen,
        refunded_fen=refunded_fen,
        refundable_fen=donation.amount_fen - refunded_fen,
        donor_kind=donation.donor_kind,
        donor_name=donor_name(donation),
        donor_phone_masked=mask_phone(donation.donor_phone) if donation.donor_phone else None,
        honour_opt_in=donation.honour_opt_in,
        donated_at=donation.donated_at,
        ledger_group_id=donation.ledger_group_id,
        created_at=donation.created_at,
    )


def still_given() -> ColumnElement[bool]:
    """SQL: the donation was not refunded in full. A gift given back whole is no gift: counts of donations and
    donors leave it out; one refunded in part still counts (what remains of it was given)."""
    refunded = (
        select(func.coalesce(func.sum(Refund.amount_fen), 0))
        .where(Refund.donation_id == Donation.id)
        .correlate(Donation)
        .scalar_subquery()
    )
    return Donation.amount_fen > refunded


async def refunded_of(session: AsyncSession, donation_ids: list[int]) -> dict[int, int]:
    if not donation_ids:
        return {}
    rows = await session.execute(
        select(Refund.donation_id, func.sum(Refund.amount_fen))
        .where(Refund.donation_id.in_(donation_ids))
        .group_by(Refund.donation_id)
    )
    found = {donation_id: int(total) for donation_id, total in rows}
    return {donation_id: found.get(donation_id, 0) for donation_id in donation_ids}


async def to_out(session: AsyncSession, donation: Donation) -> DonationOut:
    return donation_out(donation, (await refunded_of(session, [donation.id]))[donation.id])


def donor_fields(donor: DonorIn) -> dict:
    """The donor columns of a gift, checked: anonymous gives nothing; people and companies a name; companies a
    valid credit code."""
    if donor.kind == "anonymous":
        if donor.name is not None or donor.phone is not None or donor.credit_code is not None:
            raise InvalidInput("donor.name", "an anonymous donor gives no name, phone or credit code")
        return dict(
            donor_kind="anonymous", donor_name=None, donor_phone=None, donor_phone_index=None, donor_credit_code=None
        )
    if donor.name is None or not donor.name.strip():
        raise InvalidInput(
            "donor.name", "a {donor_kind} donor has a name; choose kind anonymous to give none", donor_kind=donor.kind
        )
    credit_code = None
    if donor.kind == "company":
        if donor.credit_code is None:
            raise InvalidInput("donor.credit_code", "a company donor gives its 统一社会信用代码")
        try:
            credit_code = uscc.validate(donor.credit_code)
        except stdnum_errors.ValidationError:
            raise InvalidInput("donor.credit_code", "not a valid 统一社会信用代码 (GB 32100)") from None
    elif donor.credit_code is not None:
        raise InvalidInput("donor.credit_code", "only a company donor has a credit code")
    return dict(
        donor_kind=donor.kind,
        donor_name=donor.name.strip(),
        donor_phone=donor.phone,
        donor_phone_index=blind_index(PHONE_INDEX, donor.phone) if donor.phone else None,
        donor_credit_code=credit_code,
    )


def _replay(existing: SimpleNamespace, data: DonationIn) -> SimpleNamespace:
    """The channel sent a transaction already recorded: the same one is answered with the first donation."""
    if (existing.project_id, existing.amount_fen) != (data.project_id, data.amount_fen):
        raise Conflict(
            "{channel} transaction {channel_txn_id} is already recorded as donation {existing_id} with another project or amount",
            resource=f"donations/{existing.id}",
            channel=data.channel,
            channel_txn_id=data.channel_txn_id,
            existing_id=existing.id,
        )
    return existing


COLUMN_OF = {attribute.key: attribute.columns[0].name for attribute in Donation.__mapper__.column_attrs}
ATTRIBUTE_OF = {column: attribute for attribute, column in COLUMN_OF.items()}
_donations, _refunds = Donation.__table__, Refund.__table__
# The donation that records a channel transaction, with what was refunded of it: a replayed payment's answer in one
# read.
BY_CHANNEL_TXN = select(
    _donations,
    select(func.coalesce(func.sum(_refunds.c.amount_fen), 0))
    .where(_refunds.c.donation_id == _donations.c.id)
    .scalar_subquery()
    .label("refunded_fen"),
).where(_donations.c.channel == bindparam("channel"), _donations.c.channel_txn_id == bindparam("channel_txn_id"))


def _lock_and_find() -> Select:
    """The project re-read under the shared lock of `projects.lock_status` (`FOR SHARE OF projects`: only
    the project row; the accounts are read, not locked, the entries' foreign keys take their KEY SHARE
    locks), the ids of its fund and of its organisation's clearing account, and the id of a donation that
    already records the channel transaction, if any: a new donation's only read, in one round trip. Core
    columns, not the ORM entity: nothing of the project is kept but what the rules read."""
    fund, clearing = aliased(LedgerAccount), aliased(LedgerAccount)
    return (
        select(
            Project.id,
            Project.organization_id,
            Project.district_code,
            Project.status,
            Project.starts_on,
            Project.ends_on,
            fund.id.label("fund_id"),
            clearing.id.label("clearing_id"),
            Donation.id.label("existing_id"),
        )
        .outerjoin(fund, and_(fund.project_id == Project.id, fund.kind == "project"))
        .outerjoin(clearing, and_(clearing.organization_id == Project.organization_id, clearing.kind == "clearing"))
        .outerjoin(
            Donation,
            and_(Donation.channel == bindparam("channel"), Donation.channel_txn_id == bindparam("channel_txn_id")),
        )
        .where(Project.id == bindparam("project_id"))
        .with_for_update(read=True, of=Project.__table__)
    )


LOCK_AND_FIND = _lock_and_find()  # built once: the hot path spends no time assembling it


async def _by_channel_txn(link: Link, data: DonationIn) -> tuple[SimpleNamespace, int] | None:
    """The donation recorded for this channel transaction, and the fen refunded of it."""
    row = await link.row(BY_CHANNEL_TXN, {"channel": data.channel, "channel_txn_id": data.channel_txn_id})
    if row is None:
        return None
    refunded = int(row.pop("refunded_fen"))
    return SimpleNamespace(**{ATTRIBUTE_OF[column]: value for column, value in row.items()}), refunded


async def donate(request: Request, principal: Principal, data: DonationIn) -> JSONResponse:
    """The donation a payment channel (partner, service: any project) or staff (their area's) reports, once per
    Idempotency-Key, in one transaction whose statements go straight to the driver (shared.direct); a transaction
    already recorded is answered with its first donation."""
    new = False

    async def create(link: Link) -> DonationOut:
        nonlocal new
        donation, refunded, new = await _record(link, data, by=principal.subject, principal=principal, savepoint=None)
        return donation_out(donation, refunded)

    try:
        answer = await idempotent_direct(request, IDEMPOTENCY_KEYS, principal, data, create)
    except IntegrityError:
        # A concurrent request committed the same channel transaction first: the unique key refused our row and our
        # transaction rolled back, the key's claim with it. A fresh transaction answers theirs (its first read finds
        # it); anything else refused again is raised.
        new = False
        answer = await idempotent_direct(request, IDEMPOTENCY_KEYS, principal, data, create)
    if new:  # committed; a replay is not counted: it changed nothing
        count_event("charity", "donation_recorded")
    return answer


async def record(session: AsyncSession, data: DonationIn, *, by: str) -> SimpleNamespace:
    """The rules of every money donation, whoever reports it (a payment channel, a payroll batch): once per
    channel transaction, to a fundraising project within its period, as one balanced ledger group. In the
    session's transaction, which has other work: the group is written inside a savepoint."""
    link = direct.on(await session.connection())
    donation, _, new = await _record(link, data, by=by, principal=None, savepoint=session.begin_nested)
    if new:
        count_after_commit(session, "charity", "donation_recorded")
    return donation


async def _record(
    link: Link,
    data: DonationIn,
    *,
    by: str,
    principal: Principal | None,
    savepoint: Callable[[], AbstractAsyncContextManager[Any]] | None,
) -> tuple[SimpleNamespace, int, bool]:
    """The donation, the fen refunded of it, and whether it is new. Round trips of a new donation on PostgreSQL:
    the project's lock with its accounts and the lookup of the channel transaction; the group with its entries and
    the donation row; the seal (see docs/benchmarks/charity.md).

    A channel transaction already recorded is answered with its first donation, before any other rule. If
    a concurrent request with the same channel transaction commits first, the unique key refuses our row
    and we answer with theirs. Our group must then vanish too: inside a `savepoint` when the caller has other
    work in the transaction (a payroll batch); else the `IntegrityError` is raised, for the caller to roll the
    whole transaction back and ask again (`donate`), which spares the two round trips of a savepoint on every
    donation.
    """
    found = await link.row(
        LOCK_AND_FIND, {"project_id": data.project_id, "channel": data.channel, "channel_txn_id": data.channel_txn_id}
    )
    if found is None or found["existing_id"] is not None:
        # Recorded already (or no such project, where a recorded transaction still answers first).
        existing = await _by_channel_txn(link, data)
        if existing is not None:
            return _replay(existing[0], data), existing[1], False
    donor = donor_fields(data.donor)
    donated_at = data.donated_at or utcnow()
    if donated_at > utcnow() + dt.timedelta(minutes=5):
        raise InvalidInput("donated_at", "cannot be in the future")
    if found is None or (
        principal is not None and principal.kind == "staff" and not principal.covers(found["district_code"])
    ):
        raise InvalidInput("project_id", "no such project that you may record donations for")
    project = SimpleNamespace(**found)
    if project.fund_id is None or project.clearing_id is None:
        raise RuntimeError(f"project {project.id} has no ledger accounts")  # opened with the project: a bug
    if project.status != "fundraising":
        raise Conflict(
            "project {project_id} is {project_status}: donations are accepted only while it is fundraising",
            resource=projects.resource(project.id),
            project_id=project.id,
            project_status=project.status,
        )
    day = donated_at.astimezone(clock.SHANGHAI).date()
    if not project.starts_on <= day <= project.ends_on:
        raise Conflict(
            "the fundraising period is {starts_on} to {ends_on}",
            resource=projects.resource(project.id),
            starts_on=project.starts_on.isoformat(),
            ends_on=project.ends_on.isoformat(),
        )
    row = dict(
        project_id=project.id,
        organization_id=project.organization_id,
        channel=data.channel,
        channel_txn_id=data.channel_txn_id,
        amount_fen=data.amount_fen,
        **donor,
        honour_opt_in=data.honour_opt_in,
        donated_at=donated_at,
        recorded_by=by,
        created_at=utcnow(),
    )
    try:
        async with savepoint() if savepoint is not None else contextlib.nullcontext():
            # Plain INSERTs (the rows are never changed). The record's parameters are named by column (the phone's
            # column is donor_phone_enc).
            donation_id, group_id = await ledger.post_with_record(
                link,
                kind="donation",
                project=project,
                by=by,
                memo=f"{data.channel} {data.channel_txn_id}",
                lines=[(project.clearing_id, -data.amount_fen), (project.fund_id, data.amount_fen)],
                record=Donation.__table__,
                row={COLUMN_OF[name]: value for name, value in row.items()},
            )
    except IntegrityError:
        if savepoint is None:
            raise
        existing = await _by_channel_txn(link, data)
        if existing is None:
            raise
        return _replay(existing[0], data), existing[1], False
    # The callers read its attributes only: a plain namespace (the row is written already).
    return SimpleNamespace(id=donation_id, ledger_group_id=group_id, **row), 0, True


async def get_visible_with_area(session: AsyncSession, principal: Principal, donation_id: int) -> tuple[Donation, str]:
    """A donation the caller may see, with its project's district."""
    row = (
        await session.execute(
            select(Donation, Project.district_code)
            .join(Project, Project.id == Donation.project_id)
            .where(Donation.id == donation_id)
        )
    ).first()
    if row is None:
        raise NotFound("no donation {donation_id} that you may see", donation_id=donation_id)
    visible_or_404(principal, row[1], "no donation {id} that you may see", id=donation_id)
    return row[0], row[1]


async def get_visible(session: AsyncSession, principal: Principal, donation_id: int) -> Donation:
    return (await get_visible_with_area(session, principal, donation_id))[0]


def visible_to(principal: Principal) -> Select:
    """The donations a caller may list: staff those to projects of their area and below; nobody else."""
    if not principal.is_area_staff:
        return select(Donation).where(false())
    return (
        select(Donation)
        .join(Project, Project.id == Donation.project_id)
        .where(within_area(Project.district_code, principal.area))
    )


async def list_visible(
    session: AsyncSession, principal: Principal, page: PageParams, *, project_id: int | None
) -> list[DonationOut]:
    if not principal.is_area_staff:
        return []
    query = keyset(visible_to(principal), Donation.id, page)
    if project_id is not None:
        query = query.where(Donation.project_id == project_id)
    rows = list(await session.scalars(query))
    refunded = await refunded_of(session, [d.id for d in rows])
    return [donation_out(d, refunded[d.id]) for d in rows]


# ---- refunds (退款): a new reversing group, never more than what remains ----


def refund_out(refund: Refund, reverses_group_id: int) -> RefundOut:
    """Not 1:1: adds the ledger group the refund reverses (the donation's)."""
    return RefundOut(
        id=refund.id,
        donation_id=refund.donation_id,
        amount_fen=refund.amount_fen,
        reason=refund.reason,
        ledger_group_id=refund.ledger_group_id,
        reverses_group_id=reverses_group_id,
        created_at=refund.created_at,
    )


async def refund(session: AsyncSession, principal: Principal, donation_id: int, data: RefundIn) -> RefundOut:
    donation = await get_visible(session, principal, donation_id)
    # Locks in one order everywhere (project row, then its fund account), so movements never deadlock.
    project = await projects.lock_status(session, donation.project_id)
    if project.status not in SPENDING_STATUSES:
        raise Conflict(
            "project {project_id} is {project_status}: its money no longer moves",
            resource=projects.resource(project.id),
            project_id=project.id,
            project_status=project.status,
        )
    await ledger.lock_project_fund(session, donation.project_id)
    # Read under the lock: a concurrent refund of the same donation has committed or not started.
    refunded = (await refunded_of(session, [donation.id]))[donation.id]
    remaining = donation.amount_fen - refunded
    where = f"donations/{donation.id}"
    if data.amount_fen > remaining:
        raise Conflict(
            "donation {donation_id} of {amount_fen} fen has {remaining} fen left to refund ({refunded} fen refunded already)",
            resource=where,
            donation_id=donation.id,
            amount_fen=donation.amount_fen,
            remaining=remaining,
            refunded=refunded,
        )
    balance = await ledger.project_balance(session, project.id)
    if data.amount_fen > balance:
        raise Conflict(
            "project {project_id} holds {balance} fen; the rest has been disbursed",
            resource=projects.resource(project.id),
            project_id=project.id,
            balance=balance,
        )
    accounts = await ledger.accounts_of(session, project)
    group = await ledger.post(
        session,
        kind="refund",
        project=project,
        by=principal.subject,
        memo=f"refund of donation {donation.id}",
        reverses_group_id=donation.ledger_group_id,
        lines=[(accounts["project"], -data.amount_fen), (accounts["clearing"], data.amount_fen)],
    )
    row = Refund(
        donation_id=donation.id,
        amount_fen=data.amount_fen,
        reason=data.reason,
        ledger_group_id=group.id,
        created_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    # In the refund's transaction: a receipt for money given back must not stand (作废).
    await receipt_voids.void_for_refund(
        session, donation.id, refund_id=row.id, reason=data.reason, by=principal.subject
    )
    count_after_commit(session, "charity", "donation_refunded")
    return refund_out(row, donation.ledger_group_id)


async def refunds_of(session: AsyncSession, principal: Principal, donation_id: int) -> list[RefundOut]:
    donation = await get_visible(session, principal, donation_id)
    rows = await session.scalars(select(Refund).where(Refund.donation_id == donation.id).order_by(Refund.id))
    return [refund_out(r, donation.ledger_group_id) for r in rows]


# ---- disbursements (拨付): never beyond the project's balance, nor beyond their budget line ----


async def spent_on_line(session: AsyncSession, project_id: int, line_id: int) -> int:
    """What a budget line has spent: its disbursement groups' legs out of the project's fund, from the ledger
    (the project's disbursement groups are found by their index, then the line's among them)."""
    return int(
        await session.scalar(
            select(func.coalesce(func.sum(-LedgerEntry.amount_fen), 0))
            .select_from(LedgerGroup)
            .join(LedgerEntry, LedgerEntry.group_id == LedgerGroup.id)
            .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .where(
                LedgerGroup.project_id == project_id,
                LedgerGroup.kind == "disbursement",
                LedgerGroup.budget_line_id == line_id,
                LedgerAccount.kind == "project",
            )
        )
        or 0
    )


async def disburse(session: AsyncSession, principal: Principal, data: DisbursementIn) -> Disbursement:
    try:
        project = await projects.get_visible(session, principal, data.project_id)
    except NotFound:
        raise InvalidInput("project_id", "no such project that you may see") from None
    line = await session.get(BudgetLine, data.budget_line_id)
    if line is None or line.project_id != project.id:
        raise InvalidInput("budget_line_id", "not a budget line of project {project_id}", project_id=project.id)
    paid_on = data.paid_on or clock.today()
    if paid_on > clock.today():
        raise InvalidInput("paid_on", "cannot be in the future")
    project = await projects.lock_status(session, project.id)
    if project.status not in SPENDING_STATUSES:
        raise Conflict(
            "project {project_id} is {project_status}: money is disbursed only while it is fundraising or executing",
            resource=projects.resource(project.id),
            project_id=project.id,
            project_status=project.status,
        )
    await ledger.lock_project_fund(session, project.id)
    # Read under the fund's lock, which every disbursement of the project takes: what the line has spent cannot
    # change until this one commits or rolls back, so concurrent payments never take the line past its amount.
    spent = await spent_on_line(session, project.id, line.id)
    if spent + data.amount_fen > line.amount_fen:
        raise Conflict(
            "budget line {line_no} ({line_name}) of project {project_id} has {remaining} fen left of its "
            "{line_amount} fen, less than the {amount_fen} fen asked",
            resource=f"{projects.resource(project.id)}/budget-lines/{line.id}",
            code="budget_line_exceeded",
            line_no=line.line_no,
            line_name=line.name,
            project_id=project.id,
            remaining=line.amount_fen - spent,
            line_amount=line.amount_fen,
            amount_fen=data.amount_fen,
        )
    balance = await ledger.project_balance(session, project.id)
    if data.amount_fen > balance:
        raise Conflict(
            "project {project_id} holds {balance} fen, less than the {amount_fen} fen asked",
            resource=projects.resource(project.id),
            project_id=project.id,
            balance=balance,
            amount_fen=data.amount_fen,
        )
    accounts = await ledger.accounts_of(session, project)
    group = await ledger.post(
        session,
        kind="disbursement",
        project=project,
        by=principal.subject,
        memo=f"{data.payee_kind}: {data.purpose}",
        budget_line_id=line.id,
        lines=[(accounts["project"], -data.amount_fen), (accounts["disbursement"], data.amount_fen)],
    )
    row = Disbursement(
        project_id=project.id,
        budget_line_id=line.id,
        payee_kind=data.payee_kind,
        payee_name=data.payee_name,
        amount_fen=data.amount_fen,
        purpose=data.purpose,
        paid_on=paid_on,
        evidence=[e.model_dump() for e in data.evidence],
        ledger_group_id=group.id,
        created_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    count_after_commit(session, "charity", "disbursement_made")
    return row


async def get_disbursement(session: AsyncSession, principal: Principal, disbursement_id: int) -> Disbursement:
    row = await get_or_404(
        session,
        Disbursement,
        disbursement_id,
        "no disbursement {disbursement_id} that you may see",
        disbursement_id=disbursement_id,
    )
    await projects.get_visible(session, principal, row.project_id)
    return row


async def list_disbursements(
    session: AsyncSession, principal: Principal, page: PageParams, *, project_id: int | None
) -> list[Disbursement]:
    if not principal.is_area_staff:
        return []

    query = keyset(
        select(Disbursement)
        .join(Project, Project.id == Disbursement.project_id)
        .where(within_area(Project.district_code, principal.area)),
        Disbursement.id,
        page,
    )
    if project_id is not None:
        query = query.where(Disbursement.project_id == project_id)
    return list(await session.scalars(query))
