"""Posting balanced groups, deriving balances, locking a project's fund, and reading the ledger.

The reconciliation (对账) is in `reconciliation.py`."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from sqlalchemy import BigInteger, Insert, Integer, Select, Table, bindparam, case, func, insert, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from services.charity.ledger.models import LedgerAccount, LedgerEntry, LedgerGroup, LedgerSeal
from services.charity.organizations.models import Organization
from services.charity.projects.models import Project
from shared.areas import within_area
from shared.db import conflict_insert, utcnow
from shared.direct import Link
from shared.identity import Principal
from shared.pagination import PageParams, keyset


def account_key(kind: str, *, organization_id: int | None = None, project_id: int | None = None) -> str:
    return f"project:{project_id}" if kind == "project" else f"{kind}:{organization_id}"


async def open_accounts(session: AsyncSession, org: Organization, project: Project) -> None:
    """The project's fund, and its organisation's clearing and disbursement accounts if not there yet.

    INSERT ... ON CONFLICT DO NOTHING on the unique key: two projects of one organisation created at once
    still leave one clearing account.
    """
    dialect = session.get_bind().dialect.name
    now = utcnow()
    rows = [
        dict(
            key=account_key("clearing", organization_id=org.id),
            kind="clearing",
            organization_id=org.id,
            project_id=None,
            name=f"{org.name} 捐赠清算",
            created_at=now,
        ),
        dict(
            key=account_key("disbursement", organization_id=org.id),
            kind="disbursement",
            organization_id=org.id,
            project_id=None,
            name=f"{org.name} 拨付支出",
            created_at=now,
        ),
        dict(
            key=account_key("project", project_id=project.id),
            kind="project",
            organization_id=org.id,
            project_id=project.id,
            name=f"{project.title} 项目资金",
            created_at=now,
        ),
    ]
    await session.execute(
        conflict_insert(LedgerAccount, dialect).values(rows).on_conflict_do_nothing(index_elements=["key"])
    )


async def accounts_of(session: AsyncSession, project: Project) -> dict[str, int]:
    keys = {
        account_key("project", project_id=project.id): "project",
        account_key("clearing", organization_id=project.organization_id): "clearing",
        account_key("disbursement", organization_id=project.organization_id): "disbursement",
    }
    rows = await session.execute(select(LedgerAccount.key, LedgerAccount.id).where(LedgerAccount.key.in_(keys)))
    return {keys[key]: account_id for key, account_id in rows}


async def lock_project_fund(session: AsyncSession, project_id: int) -> None:
    """Hold the project's fund account until commit: every movement that takes money out of a project
    (refund, disbursement) takes this lock first, so the balance it reads cannot be spent twice.

    PostgreSQL: SELECT ... FOR NO KEY UPDATE on the account row; a waiter reads the balance again after
    the holder commits (READ COMMITTED takes a new snapshot per statement). NO KEY UPDATE rather than
    UPDATE because donations only add to the fund: the KEY SHARE lock their entries' foreign key takes
    does not conflict with it, so donations never queue behind a disbursement. SQLite: the clause is not
    rendered, and BEGIN IMMEDIATE has already serialised the whole transaction.
    """
    await session.execute(
        select(LedgerAccount.id).where(LedgerAccount.project_id == project_id).with_for_update(key_share=True)
    )


HEADER_COLUMNS = (
    "kind",
    "organization_id",
    "project_id",
    "budget_line_id",
    "reverses_group_id",
    "memo",
    "created_by",
    "created_at",
)


def _group_with_entries(record: Table | None = None):
    """PostgreSQL: the header inserted in a WITH clause, its id fed to the entries; the legs as two arrays
    unnested side by side. With `record` (the business row behind the group: a donation), that row is the
    statement's main INSERT, its `ledger_group_id` read from the header's WITH clause, and the entries are a
    second WITH clause (PostgreSQL runs every data-modifying WITH clause to completion, read or not). All
    bound parameters: compiled once and cached."""
    groups, entries = LedgerGroup.__table__, LedgerEntry.__table__  # Core: no ORM bulk machinery
    new_group = (
        insert(groups)
        .values({name: bindparam(name) for name in HEADER_COLUMNS})
        .returning(groups.c.id)
        .cte("new_group")
    )
    legs = insert(entries).from_select(
        ["group_id", "account_id", "amount_fen"],
        select(
            new_group.c.id,
            func.unnest(bindparam("account_ids", type_=ARRAY(Integer))),
            func.unnest(bindparam("amounts", type_=ARRAY(BigInteger))),
        ),
    )
    if record is None:
        return legs.returning(entries.c.group_id)
    # The record's parameters are prefixed: its columns share names with the header's (project_id, ...).
    values = {
        column: bindparam(f"record_{column.name}", type_=column.type)
        for column in record.c
        if column.name not in ("id", "ledger_group_id")
    }
    values[record.c.ledger_group_id] = select(new_group.c.id).scalar_subquery()
    return (
        insert(record).values(values).add_cte(legs.cte("new_entries")).returning(record.c.id, record.c.ledger_group_id)
    )


GROUP_WITH_ENTRIES = _group_with_entries()
# Each column a named parameter: the statements run on a `shared.direct` link too, which sends them compiled once.
SEAL = insert(LedgerSeal.__table__).values(
    group_id=bindparam("group_id"), entry_count=bindparam("entry_count"), sealed_at=bindparam("sealed_at")
)
INSERT_GROUP = (
    insert(LedgerGroup.__table__)
    .values({name: bindparam(name) for name in HEADER_COLUMNS})
    .returning(LedgerGroup.__table__.c.id)
)
INSERT_ENTRY = insert(LedgerEntry.__table__).values(
    group_id=bindparam("group_id"), account_id=bindparam("account_id"), amount_fen=bindparam("amount_fen")
)
_WITH_RECORD: dict[Table, Insert] = {}  # per record table, built on first use


def _check_balance(lines: Sequence[tuple[int, int]]) -> None:
    if len(lines) < 2 or any(amount == 0 for _, amount in lines) or sum(amount for _, amount in lines) != 0:
        raise ValueError(f"a ledger group must balance: {lines!r}")  # a bug in the caller, never user input


def _header(
    kind: str, project, memo: str, by: str, budget_line_id: int | None, reverses_group_id: int | None, now: dt.datetime
) -> dict:
    return dict(
        kind=kind,
        organization_id=project.organization_id,
        project_id=project.id,
        budget_line_id=budget_line_id,
        reverses_group_id=reverses_group_id,
        memo=memo[:300],
        created_by=by,
        created_at=now,
    )


async def post(
    session: AsyncSession,
    *,
    kind: str,
    project: Project,
    lines: Sequence[tuple[int, int]],
    memo: str,
    by: str,
    budget_line_id: int | None = None,
    reverses_group_id: int | None = None,
) -> LedgerGroup:
    """Append one balanced group. `lines` are (account id, amount in fen: > 0 into the account, < 0 out).

    Then seal it: the seal's trigger checks, in the database itself, that the group's entries balance. On
    PostgreSQL the group and its entries are one statement (the header inserted in a WITH clause, its id
    fed to the entries), the seal a second: the seal must be its own statement, after the entries, for
    its trigger to see them. SQLite has no INSERT in WITH: three statements.
    """
    _check_balance(lines)
    now = utcnow()
    header = _header(kind, project, memo, by, budget_line_id, reverses_group_id, now)
    if session.get_bind().dialect.name == "postgresql":
        group_id = (
            (
                await session.execute(
                    GROUP_WITH_ENTRIES,
                    dict(
                        header, account_ids=[account for account, _ in lines], amounts=[amount for _, amount in lines]
                    ),
                )
            )
            .scalars()
            .first()
        )
        group = LedgerGroup(id=group_id, **header)  # not added to the session: the row is written already
    else:
        group = LedgerGroup(**header)
        session.add(group)
        await session.flush()
        await session.execute(
            insert(LedgerEntry),
            [dict(group_id=group.id, account_id=account_id, amount_fen=amount) for account_id, amount in lines],
        )
    await session.execute(SEAL, dict(group_id=group.id, entry_count=len(lines), sealed_at=now))
    return group


async def post_with_record(
    link: Link,
    *,
    kind: str,
    project,
    lines: Sequence[tuple[int, int]],
    memo: str,
    by: str,
    record: Table,
    row: dict,
) -> tuple[int, int]:
    """As `post`, and insert `row` (by column name, without `ledger_group_id`) into `record`, the business
    table behind the group, pointing at it; returns (the record's id, the group's id).

    On PostgreSQL the group, its entries and the record are one statement and the seal a second: two round
    trips where `post` and an INSERT of the record took three. Plain Core on a `shared.direct` link (a request's
    own transaction, or a session's connection through `direct.on`): the rows are never changed, so nothing would
    track them. `project` needs only `id` and `organization_id`. The rules are the database's as with `post`: the
    seal's trigger refuses an unbalanced group, and the record's own constraints (a unique key) refuse it with the
    rest of the statement.
    """
    _check_balance(lines)
    now = utcnow()
    header = _header(kind, project, memo, by, None, None, now)
    if link.dialect == "postgresql":
        statement = _WITH_RECORD.get(record)
        if statement is None:
            statement = _WITH_RECORD[record] = _group_with_entries(record)
        params = dict(header, account_ids=[account for account, _ in lines], amounts=[amount for _, amount in lines])
        params.update({f"record_{name}": value for name, value in row.items()})
        written = await link.row(statement, params)
        assert written is not None  # an INSERT ... RETURNING of one row
        record_id, group_id = written["id"], written["ledger_group_id"]
    else:  # SQLite has no INSERT in WITH: one statement each
        group_id = await link.scalar(INSERT_GROUP, header)
        for account_id, amount in lines:
            await link.run(INSERT_ENTRY, dict(group_id=group_id, account_id=account_id, amount_fen=amount))
        record_id = await link.scalar(_insert_record(record), dict(row, ledger_group_id=group_id))
    await link.run(SEAL, dict(group_id=group_id, entry_count=len(lines), sealed_at=now))
    return record_id, group_id


_RECORD_INSERTS: dict[Table, Insert] = {}  # SQLite's insert of a record, per record table


def _insert_record(record: Table) -> Insert:
    statement = _RECORD_INSERTS.get(record)
    if statement is None:
        columns = [column for column in record.c if column.name != "id"]
        statement = _RECORD_INSERTS[record] = (
            insert(record)
            .values({column: bindparam(column.name, type_=column.type) for column in columns})
            .returning(record.c.id)
        )
    return statement


@dataclasses.dataclass
class Totals:
    donated_fen: int = 0
    refunded_fen: int = 0
    spent_fen: int = 0
    balance_fen: int = 0

    @property
    def raised_fen(self) -> int:
        return self.donated_fen - self.refunded_fen


def _project_sums() -> Select:
    amount = LedgerEntry.amount_fen
    return (
        select(
            LedgerAccount.project_id,
            func.coalesce(func.sum(case((LedgerGroup.kind == "donation", amount), else_=0)), 0),
            func.coalesce(func.sum(case((LedgerGroup.kind == "refund", -amount), else_=0)), 0),
            func.coalesce(func.sum(case((LedgerGroup.kind == "disbursement", -amount), else_=0)), 0),
            func.coalesce(func.sum(amount), 0),
        )
        .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .join(LedgerGroup, LedgerGroup.id == LedgerEntry.group_id)
        .where(LedgerAccount.kind == "project")
        .group_by(LedgerAccount.project_id)
    )


async def project_totals(session: AsyncSession, project_ids: Sequence[int]) -> dict[int, Totals]:
    """Raised, refunded, spent and balance of projects, summed from their fund accounts' entries."""
    if not project_ids:
        return {}
    rows = await session.execute(_project_sums().where(LedgerAccount.project_id.in_(project_ids)))
    found = {pid: Totals(int(d), int(r), int(s), int(b)) for pid, d, r, s, b in rows}
    return {pid: found.get(pid, Totals()) for pid in project_ids}


async def project_balance(session: AsyncSession, project_id: int) -> int:
    return int(
        await session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0))
            .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .where(LedgerAccount.project_id == project_id)
        )
    )


async def spent_by_line(session: AsyncSession, project_id: int) -> dict[int, int]:
    rows = await session.execute(
        select(LedgerGroup.budget_line_id, func.sum(-LedgerEntry.amount_fen))
        .join(LedgerEntry, LedgerEntry.group_id == LedgerGroup.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(
            LedgerGroup.project_id == project_id, LedgerGroup.kind == "disbursement", LedgerAccount.kind == "project"
        )
        .group_by(LedgerGroup.budget_line_id)
    )
    return {line_id: int(spent) for line_id, spent in rows}


# ---- reading the ledger (staff of the organisation's area) ----


def in_area(principal: Principal, organization_id_column) -> object:
    """Rows of organisations in the staff member's area; nothing for anyone else."""
    if not principal.is_area_staff:
        return literal(False)
    return organization_id_column.in_(
        select(Organization.id).where(within_area(Organization.district_code, principal.area))
    )


async def list_accounts(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    organization_id: int | None,
    project_id: int | None,
    kind: str | None,
) -> list[tuple[LedgerAccount, int, int, int]]:
    """Accounts with their debits, credits and balance, summed from the entries."""
    sums = (
        select(
            LedgerEntry.account_id,
            func.sum(case((LedgerEntry.amount_fen > 0, LedgerEntry.amount_fen), else_=0)).label("debits"),
            func.sum(case((LedgerEntry.amount_fen < 0, -LedgerEntry.amount_fen), else_=0)).label("credits"),
        )
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    query = keyset(
        select(LedgerAccount, func.coalesce(sums.c.debits, 0), func.coalesce(sums.c.credits, 0))
        .outerjoin(sums, sums.c.account_id == LedgerAccount.id)
        .where(in_area(principal, LedgerAccount.organization_id)),
        LedgerAccount.id,
        page,
    )
    if organization_id is not None:
        query = query.where(LedgerAccount.organization_id == organization_id)
    if project_id is not None:
        query = query.where(LedgerAccount.project_id == project_id)
    if kind is not None:
        query = query.where(LedgerAccount.kind == kind)
    return [(account, int(d), int(c), int(d) - int(c)) for account, d, c in await session.execute(query)]


async def list_entries(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    account_id: int | None,
    group_id: int | None,
    project_id: int | None,
) -> list[tuple[LedgerEntry, LedgerGroup, LedgerAccount]]:
    query = keyset(
        select(LedgerEntry, LedgerGroup, LedgerAccount)
        .join(LedgerGroup, LedgerGroup.id == LedgerEntry.group_id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(in_area(principal, LedgerGroup.organization_id)),
        LedgerEntry.id,
        page,
    )
    if account_id is not None:
        query = query.where(LedgerEntry.account_id == account_id)
    if group_id is not None:
        query = query.where(LedgerEntry.group_id == group_id)
    if project_id is not None:
        query = query.where(LedgerGroup.project_id == project_id)
    return [tuple(row) for row in await session.execute(query)]
