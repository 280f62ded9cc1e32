"""Campaign rules: units, payroll batches accepted whole or not at all, and participation."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import re

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from stdnum import exceptions as stdnum_errors
from stdnum.cn import uscc

from services.charity.campaigns.models import Campaign, CampaignUnit, PayrollBatch, PayrollRow
from services.charity.campaigns.schemas import CampaignIn, Participation, UnitIn, UnitParticipation
from services.charity.donations import service as donations
from services.charity.donations.models import Donation
from services.charity.donations.schemas import DonationIn, DonorIn, RefundIn
from services.charity.projects.models import Project
from services.charity.settings import LIMITS
from shared.areas import check_area, check_district
from shared.db import get_or_404, utcnow
from shared.errors import Conflict, DomainError, FieldProblem, Forbidden, InvalidInput, NotFound
from shared.i18n import N_
from shared.identity import Principal
from shared.money import MAX_PAYMENT_FEN, format_yuan

MAX_ERRORS_REPORTED = 20
Replacement = aliased(PayrollBatch)  # a later batch naming the one it replaces
ROWS_AT_ONCE = 1000  # rows read or written between two turns of the event loop
AMOUNT = re.compile(r"^\d{1,9}(\.\d{1,2})?$")  # yuan, at most two decimals
# Every control character, tab and line ends too (shared.schemas allows those in texts of several lines): a payroll
# number is one token, and rows_digest writes each row as "number<TAB>fen" lines, which one holding them would forge.
PAYROLL_NUMBER_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f]")


class BatchRejected(DomainError):
    """The whole batch is refused: every problem found is listed, and nothing is written."""

    status, slug, title = 422, "batch-rejected", N_("The batch was rejected as a whole")


async def create(session: AsyncSession, principal: Principal, data: CampaignIn) -> Campaign:
    principal.check_covers(data.area_code)
    check_area(data.area_code, "area_code")
    if data.ends_on < data.starts_on:
        raise InvalidInput("ends_on", "must be on or after starts_on")
    project = await session.get(Project, data.project_id)
    if project is None or project.status != "fundraising":
        raise InvalidInput("project_id", "the receiving project must exist and be fundraising (募捐中)")
    campaign = Campaign(**data.model_dump(), created_by=principal.subject, created_at=utcnow())
    session.add(campaign)
    await session.flush()
    return campaign


async def get(session: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await get_or_404(session, Campaign, campaign_id, "no campaign {campaign_id}", campaign_id=campaign_id)
    return campaign


async def add_unit(session: AsyncSession, principal: Principal, campaign_id: int, data: UnitIn) -> CampaignUnit:
    campaign = await get(session, campaign_id)
    if not principal.covers(campaign.area_code) or not principal.covers(data.district_code):
        raise Forbidden("the campaign or the unit's district is outside your area")
    check_district(data.district_code, "district_code", or_city=True)
    try:
        code = uscc.validate(data.credit_code)
    except stdnum_errors.ValidationError:
        raise InvalidInput("credit_code", "not a valid 统一社会信用代码 (GB 32100)") from None
    existing = await session.scalar(
        select(CampaignUnit.id).where(CampaignUnit.campaign_id == campaign.id, CampaignUnit.credit_code == code)
    )
    if existing is not None:
        raise Conflict("this unit already takes part in the campaign", resource=f"campaign-units/{existing}")
    unit = CampaignUnit(
        campaign_id=campaign.id,
        name=data.name,
        credit_code=code,
        district_code=data.district_code,
        headcount=data.headcount,
        created_at=utcnow(),
    )
    session.add(unit)
    await session.flush()
    return unit


def _decode(content: bytes) -> str:
    """Payroll systems export UTF-8 (with or without BOM) or GB18030 (Excel on Chinese Windows)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BatchRejected(
        "the file is neither UTF-8 nor GB18030 text",
        errors=[FieldProblem(field="body", location="body", message="undecodable")],
    )


async def parse_batch(content: bytes) -> list[tuple[int, str, int]]:
    """(line number, payroll number, amount in fen) of each row, or BatchRejected listing every problem.

    Columns by header: `employee_no` (工号) and `amount` (yuan, two decimals at most); others (a name) are
    ignored and not kept. Reading is pure Python, and the largest file a request may carry, read at once,
    would hold the event loop for seconds: it lets other requests in every ROWS_AT_ONCE rows (in a thread it
    would still take the GIL from the loop, as placenames' parser does).
    """
    # newline="": csv reads line ends itself, so a lone carriage return ends a line instead of failing the read.
    reader = csv.reader(io.StringIO(_decode(content), newline=""))
    try:
        return await _rows(reader)
    except csv.Error as error:  # a field past csv's size limit, say: not a payroll file
        raise BatchRejected(
            "line {line_num} is not CSV: {error}",
            errors=[FieldProblem(field=f"line {reader.line_num}", location="body", message=str(error))],
            line_num=reader.line_num,
            error=error,
        ) from None


async def _rows(reader) -> list[tuple[int, str, int]]:
    header = [h.strip().lower() for h in next(reader, [])]
    aliases = {"工号": "employee_no", "金额": "amount"}
    header = [aliases.get(h, h) for h in header]
    if "employee_no" not in header or "amount" not in header:
        raise BatchRejected(
            "the header must name the columns employee_no (工号) and amount (金额)",
            errors=[FieldProblem(field="header", location="body", message="missing columns")],
        )
    no_at, amount_at = header.index("employee_no"), header.index("amount")
    rows, problems, seen = [], [], {}
    for line_no, cells in enumerate(reader, start=2):
        if line_no % ROWS_AT_ONCE == 0:
            await asyncio.sleep(0)
        if not any(c.strip() for c in cells):
            continue
        employee_no = cells[no_at].strip() if no_at < len(cells) else ""
        amount = cells[amount_at].strip() if amount_at < len(cells) else ""
        if not employee_no or len(employee_no) > 40 or PAYROLL_NUMBER_UNSAFE.search(employee_no):
            problems.append(
                FieldProblem(
                    field=f"line {line_no}.employee_no",
                    location="body",
                    message="a payroll number of 1 to 40 characters, none of them a control character, is required",
                )
            )
        elif employee_no in seen:
            problems.append(
                FieldProblem(
                    field=f"line {line_no}.employee_no", location="body", message="already on line {line}"
                ).with_params(line=seen[employee_no])
            )
        else:
            seen[employee_no] = line_no
        if not AMOUNT.match(amount) or not 0 < (fen := _fen(amount)) <= MAX_PAYMENT_FEN:
            problems.append(
                FieldProblem(
                    field=f"line {line_no}.amount",
                    location="body",
                    message="a positive amount in yuan with at most two decimals, at most {most}",
                ).with_params(most=format_yuan(MAX_PAYMENT_FEN))
            )
        elif employee_no:
            rows.append((line_no, employee_no, fen))
    if problems:
        raise BatchRejected(
            "{count} row problem(s); the batch was not imported",
            errors=problems[:MAX_ERRORS_REPORTED],
            count=len(problems),
        )
    if not rows:
        raise BatchRejected(
            "the batch has no rows", errors=[FieldProblem(field="body", location="body", message="empty")]
        )
    return rows


def _fen(amount: str) -> int:
    whole, _, cents = amount.partition(".")
    return int(whole) * 100 + int((cents + "00")[:2])


def rows_digest(rows: list[tuple[int, str, int]]) -> str:
    """The SHA-256 of a batch's rows, whatever file carried them: `payroll number<TAB>amount in fen` lines sorted
    by payroll number (neither holds a tab or a line end: `_rows` refuses such a number). The same payroll sent
    again as GBK, with other columns, line ends or row order, has the same digest."""
    lines = sorted(f"{employee_no}\t{fen}" for _, employee_no, fen in rows)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


async def upload(
    session: AsyncSession,
    principal: Principal,
    campaign_id: int,
    unit_id: int,
    *,
    batch_no: str,
    control_rows: int,
    control_total_fen: int,
    content: bytes,
    replaces: str | None = None,
) -> tuple[PayrollBatch, bool]:
    """Import a batch whole; returns it and whether it was new. Rows and control totals must agree. With
    `replaces`, the batch corrects an earlier one of the unit, in the same transaction: the earlier one's
    donation is refunded through the ledger and its rows no longer count."""
    campaign = await get(session, campaign_id)
    unit = await session.get(CampaignUnit, unit_id)
    if unit is None or unit.campaign_id != campaign.id:
        raise NotFound("no unit {unit_id} in campaign {campaign_id}", unit_id=unit_id, campaign_id=campaign_id)
    if principal.kind == "staff" and not principal.covers(unit.district_code):
        raise NotFound("no unit {unit_id} that you may upload for", unit_id=unit_id)
    digest = hashlib.sha256(content).hexdigest()
    rows = await parse_batch(content)
    same_rows = rows_digest(rows)
    same = await _same(session, unit.id, batch_no, same_rows)
    if same:
        return _replayed(same, batch_no, same_rows), False
    total = sum(fen for _, _, fen in rows)
    mismatch = []
    if len(rows) != control_rows:
        mismatch.append(
            FieldProblem(
                field="control_rows",
                location="query",
                message="the file has {count} rows, the control says {control_rows}",
            ).with_params(count=len(rows), control_rows=control_rows)
        )
    if total != control_total_fen:
        mismatch.append(
            FieldProblem(
                field="control_total_fen",
                location="query",
                message="the rows add up to {total} fen, the control says {control_total_fen}",
            ).with_params(total=total, control_total_fen=control_total_fen)
        )
    if mismatch:
        raise BatchRejected("the control totals do not match the file; the batch was not imported", errors=mismatch)
    if total > LIMITS.max_donation_fen:  # the batch is recorded as one donation of the unit
        raise BatchRejected(
            "the batch adds up to {total}, more than one donation may be ({max_donation_fen}); split it into batches",
            errors=[FieldProblem(field="control_total_fen", location="query", message="too large")],
            total=format_yuan(total),
            max_donation_fen=format_yuan(LIMITS.max_donation_fen),
        )
    earlier = None if replaces is None else await _replaceable(session, principal, unit, replaces)
    try:
        async with session.begin_nested():
            if earlier is not None:
                await _reverse(session, principal, earlier, batch_no)
            donation = await donations.record(
                session,
                DonationIn(
                    project_id=campaign.project_id,
                    channel="bank",
                    channel_txn_id=payroll_txn_id(unit.id, batch_no),
                    amount_fen=total,
                    donor=DonorIn(kind="company", name=unit.name, credit_code=unit.credit_code),
                    honour_opt_in=True,
                ),
                by=principal.subject,
            )
            batch = PayrollBatch(
                campaign_id=campaign.id,
                unit_id=unit.id,
                batch_no=batch_no,
                content_sha256=digest,
                rows_sha256=same_rows,
                replaces_id=earlier.id if earlier else None,
                row_count=len(rows),
                total_fen=total,
                donation_id=donation.id,
                uploaded_by=principal.subject,
                uploaded_at=utcnow(),
            )
            session.add(batch)
            await session.flush()
            await _insert_rows(session, batch.id, unit.id, rows)
    except IntegrityError:
        # The same batch (number or rows) arrived concurrently and committed first: answer with it.
        same = await _same(session, unit.id, batch_no, same_rows)
        if not same:
            if earlier is not None:  # another correction of the same batch committed first
                raise Conflict(
                    "batch {batch_no} has been replaced already",
                    resource=f"payroll-batches/{earlier.id}",
                    batch_no=earlier.batch_no,
                ) from None
            raise
        return _replayed(same, batch_no, same_rows), False
    return batch, True


def payroll_txn_id(unit_id: int, batch_no: str) -> str:
    """The channel transaction of a batch's donation: unit and batch number, one per batch. A batch number (up to 60
    characters) too long for the column's 64 is replaced by its digest, not cut: two numbers alike in their first
    characters were one transaction, and the second batch was refused. `#` keeps a digest apart from a number."""
    plain = f"payroll-{unit_id}-{batch_no}"
    if len(plain) <= 64:
        return plain
    return f"payroll-{unit_id}#{hashlib.sha256(batch_no.encode()).hexdigest()[:40]}"


async def _same(session: AsyncSession, unit_id: int, batch_no: str, rows_sha256: str) -> list[PayrollBatch]:
    """The unit's batches with this number or these rows (two at most)."""
    return list(
        await session.scalars(
            select(PayrollBatch)
            .where(
                PayrollBatch.unit_id == unit_id,
                (PayrollBatch.batch_no == batch_no) | (PayrollBatch.rows_sha256 == rows_sha256),
            )
            .order_by(PayrollBatch.id)
        )
    )


async def _replaceable(session: AsyncSession, principal: Principal, unit: CampaignUnit, batch_no: str) -> PayrollBatch:
    """The unit's batch `batch_no`, locked, that a correction may replace: not replaced yet."""
    if principal.kind != "staff":
        raise Forbidden("a correction refunds money already received: staff of the unit's area replace a batch")
    earlier = await session.scalar(
        select(PayrollBatch)
        .where(PayrollBatch.unit_id == unit.id, PayrollBatch.batch_no == batch_no)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if earlier is None:
        raise InvalidInput("replaces", "unit {unit_id} has no batch {batch_no}", unit_id=unit.id, batch_no=batch_no)
    later = await session.scalar(select(PayrollBatch).where(PayrollBatch.replaces_id == earlier.id))
    if later is not None:
        raise Conflict(
            "batch {batch_no} was replaced by batch {batch_no2} already",
            resource=f"payroll-batches/{later.id}",
            batch_no=batch_no,
            batch_no2=later.batch_no,
        )
    return earlier


async def _reverse(session: AsyncSession, principal: Principal, earlier: PayrollBatch, batch_no: str) -> None:
    """Refund what is left of the earlier batch's donation, as a refund of it (a reversing ledger group)."""
    left = earlier.total_fen - (await donations.refunded_of(session, [earlier.donation_id]))[earlier.donation_id]
    if left > 0:
        await donations.refund(
            session,
            principal,
            earlier.donation_id,
            RefundIn(amount_fen=left, reason=f"payroll batch {earlier.batch_no} replaced by batch {batch_no}"[:300]),
        )


ROW_COLUMNS = ("batch_id", "unit_id", "line_no", "employee_no", "amount_fen")


async def _insert_rows(session: AsyncSession, batch_id: int, unit_id: int, rows: list[tuple[int, str, int]]) -> None:
    """The rows of a batch, in the batch's transaction. PostgreSQL: one COPY stream (parameter sets through
    the ORM took most of the import's time); SQLite: one executemany of plain INSERTs. Duplicates were
    refused while parsing; the table's constraints hold all the same."""
    if session.get_bind().dialect.name == "postgresql":

        async def records():  # made as COPY asks for them, letting other requests in between blocks
            for at in range(0, len(rows), ROWS_AT_ONCE):
                for line_no, employee_no, fen in rows[at : at + ROWS_AT_ONCE]:
                    yield batch_id, unit_id, line_no, employee_no, fen
                await asyncio.sleep(0)

        connection = await (await session.connection()).get_raw_connection()
        await connection.driver_connection.copy_records_to_table(
            PayrollRow.__tablename__, columns=ROW_COLUMNS, records=records()
        )
        return
    for at in range(0, len(rows), ROWS_AT_ONCE):  # one executemany per block: the loop gets its turn between
        await session.execute(
            insert(PayrollRow.__table__),
            [
                dict(batch_id=batch_id, unit_id=unit_id, line_no=line_no, employee_no=employee_no, amount_fen=fen)
                for line_no, employee_no, fen in rows[at : at + ROWS_AT_ONCE]
            ],
        )


def _replayed(same: list[PayrollBatch], batch_no: str, rows_sha256: str) -> PayrollBatch:
    """The answer to a batch whose number or rows the unit has sent already."""
    for batch in same:
        if batch.batch_no == batch_no and batch.rows_sha256 == rows_sha256:
            return batch  # the same batch again: nothing changes
    for batch in same:
        if batch.rows_sha256 == rows_sha256:
            raise Conflict(
                "these rows were already imported as batch {batch_no}; to correct a batch, name the one it replaces",
                resource=f"payroll-batches/{batch.id}",
                batch_no=batch.batch_no,
            )
    batch = same[0]
    raise Conflict(
        "batch {batch_no} was already imported with other content; give a new batch number",
        resource=f"payroll-batches/{batch.id}",
        batch_no=batch_no,
    )


async def participation(session: AsyncSession, principal: Principal | None, campaign_id: int) -> Participation:
    """Per unit and overall; staff see their area's units, `None` (the indicators) every unit."""
    campaign = await get(session, campaign_id)
    units = list(
        await session.scalars(
            select(CampaignUnit).where(CampaignUnit.campaign_id == campaign.id).order_by(CampaignUnit.id)
        )
    )
    if principal is not None and principal.kind == "staff":
        units = [u for u in units if principal.covers(u.district_code)]
    # A replaced batch no longer counts: its correction does. Nor does one whose donation was refunded in full: its
    # people gave nothing in the end (one refunded in part still counts).
    counted = (
        select(PayrollBatch.id, PayrollBatch.unit_id, PayrollBatch.total_fen)
        .where(
            PayrollBatch.campaign_id == campaign.id,
            ~select(Replacement.id).where(Replacement.replaces_id == PayrollBatch.id).exists(),
            select(Donation.id).where(Donation.id == PayrollBatch.donation_id, donations.still_given()).exists(),
        )
        .subquery()
    )
    people = dict(
        (
            await session.execute(
                select(PayrollRow.unit_id, func.count(func.distinct(PayrollRow.employee_no)))
                .join(counted, counted.c.id == PayrollRow.batch_id)
                .group_by(PayrollRow.unit_id)
            )
        ).all()
    )
    money = dict(
        (
            await session.execute(select(counted.c.unit_id, func.sum(counted.c.total_fen)).group_by(counted.c.unit_id))
        ).all()
    )
    target = campaign.participation_target_pct

    def rate(part: int, whole: int) -> float:
        return round(100 * part / whole, 2) if whole else 0.0

    lines = [
        UnitParticipation(
            unit_id=u.id,
            name=u.name,
            district_code=u.district_code,
            headcount=u.headcount,
            participants=int(people.get(u.id, 0)),
            rate_pct=rate(int(people.get(u.id, 0)), u.headcount),
            met=100 * int(people.get(u.id, 0)) >= target * u.headcount,
            donated_fen=int(money.get(u.id, 0)),
        )
        for u in units
    ]
    headcount = sum(u.headcount for u in lines)
    participants = sum(u.participants for u in lines)
    return Participation(
        campaign_id=campaign.id,
        target_pct=target,
        headcount=headcount,
        participants=participants,
        rate_pct=rate(participants, headcount),
        met=headcount > 0 and 100 * participants >= target * headcount,
        donated_fen=sum(u.donated_fen for u in lines),
        units=lines,
    )
