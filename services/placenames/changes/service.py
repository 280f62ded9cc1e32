"""The change feed's outbox: changes recorded in the transaction that makes them, numbered as it commits.

Why numbers are given at commit, not at insert: an autoincrement id is taken when a row is inserted, and on
PostgreSQL a transaction that took id 7 may commit after one that took id 8. A reader that had already seen 8
would move its cursor past 7 and never see it. So a change is kept on the session (`record`) until its
transaction commits; just before the commit `assign_sequence` takes the next numbers from the feed's one
counter row, whose row lock is held until that commit. The next transaction's numbers wait for the lock, so they
are both higher and committed later: the feed's order is the commit order, with no gaps (a rolled-back
transaction gives its numbers back with its counter update). On SQLite every write transaction is serialised
(BEGIN IMMEDIATE), which gives the same order.

The hook runs on every session's commit in the process, but costs a dictionary lookup when the session recorded
nothing; the other services never record changes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from services.placenames.changes.models import Change, ChangeFeed
from shared.db import conflict_insert, utcnow
from shared.errors import DomainError, FieldProblem
from shared.i18n import N_

PENDING = "placenames.changes"  # session.info key: the changes recorded in the session's transaction


class CursorNotIssued(DomainError):
    status, slug, title = 400, "cursor-not-issued", N_("Cursor not issued by this feed")


class CursorTooOld(DomainError):
    status, slug, title = 410, "cursor-expired", N_("Cursor older than the changes kept")


def successor(
    code: str, text: str, area_code: str | None, latitude: float | None = None, longitude: float | None = None
):
    """What a subject became: a code, its standard text, the division it lies in, its coordinates."""
    return {"code": code, "text": text, "area_code": area_code, "latitude": latitude, "longitude": longitude}


def address_successor(address: Any) -> dict[str, Any]:
    """An address as a successor: its area is its community, else its township, else its district (the contract
    every consumer derives `area_code` by)."""
    area = address.community_code or address.township_code or address.district_code
    return successor(address.code, address.full_name, area, address.latitude, address.longitude)


def record(
    session: AsyncSession,
    kind: str,
    code: str,
    successors: list[dict[str, Any]],
    *,
    previous_text: str | None = None,
    decided_on: dt.date | None = None,
) -> None:
    """Add a change to the feed when (and only when) the session's transaction commits."""
    session.info.setdefault(PENDING, []).append(
        {
            "kind": kind,
            "code": code,
            "successors": successors,
            "previous_text": previous_text,
            "decided_on": decided_on,
            "recorded_at": utcnow(),
        }
    )


@event.listens_for(Session, "before_commit")
def assign_sequence(session: Session) -> None:
    """Number the session's recorded changes and insert them, just before its transaction commits.

    Runs inside the commit (SQLAlchemy's sync event, within the async session's greenlet, so `execute` here is
    the same connection's statement). The counter row stays locked until the commit ends.
    """
    changes = session.info.pop(PENDING, None)
    if not changes:
        return
    take = update(ChangeFeed).values(last_seq=ChangeFeed.last_seq + len(changes)).returning(ChangeFeed.last_seq)
    last = session.execute(take).scalar_one_or_none()
    if last is None:  # the row was lost (a wiped table): made again from the changes kept, then taken
        session.execute(_recreate(session.get_bind().dialect.name, *_kept(session.execute)))
        last = session.execute(take).scalar_one()
    first = last - len(changes) + 1
    session.execute(insert(Change), [dict(c, seq=first + i) for i, c in enumerate(changes)])


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous: SessionTransaction) -> None:
    """Changes of a transaction rolled back never happened. A savepoint rolled back inside it (a code counter
    made again) leaves them: no change is recorded inside a savepoint."""
    if not previous.nested:
        session.info.pop(PENDING, None)


def _kept(execute: Any) -> tuple[int, int]:
    """(pruned_through, last_seq) as the changes kept show them: below the first, and the last."""
    first, last = execute(select(func.min(Change.seq), func.max(Change.seq))).one()
    return (first - 1 if first else 0), (last or 0)


def _recreate(dialect: str, pruned_through: int, last_seq: int) -> Any:
    statement = conflict_insert(ChangeFeed, dialect).values(id=1, last_seq=last_seq, pruned_through=pruned_through)
    return statement.on_conflict_do_nothing()  # another transaction made it first: take numbers from theirs


async def bounds(session: AsyncSession) -> tuple[int, int]:
    """(pruned_through, last_seq): cursors from pruned_through to last_seq are ones the feed issued."""
    row = (await session.execute(select(ChangeFeed.pruned_through, ChangeFeed.last_seq))).first()
    if row is None:
        first, last = (await session.execute(select(func.min(Change.seq), func.max(Change.seq)))).one()
        return (first - 1 if first else 0), (last or 0)
    return row.pruned_through, row.last_seq


async def page(session: AsyncSession, after: int, limit: int) -> tuple[list[Change], int]:
    """The changes after the cursor `after`, in order, at most `limit`; and the feed's last seq.

    A cursor is the seq of the last change the reader applied (0: from the start). One above the last seq given
    was never issued (400); one below the pruned changes is too old (410): the reader must resynchronise from the
    registry and start again from the feed's current end.
    """
    pruned_through, last_seq = await bounds(session)
    if after > last_seq:
        raise CursorNotIssued(
            "after: {after} is beyond the feed's last change ({last_seq}); a cursor is the seq of a change it served",
            errors=[
                FieldProblem(
                    field="after", location="query", message="beyond the last change ({last_seq})"
                ).with_params(last_seq=last_seq)
            ],
            after=after,
            last_seq=last_seq,
        )
    if after < pruned_through:
        raise CursorTooOld(
            "after: the changes up to {pruned_through} are no longer kept; resynchronise the stored addresses "
            "from the registry, then follow from after={last_seq}",
            errors=[
                FieldProblem(field="after", location="query", message="older than {pruned_through}").with_params(
                    pruned_through=pruned_through
                )
            ],
            pruned_through=pruned_through,
            last_seq=last_seq,
        )
    rows = await session.scalars(select(Change).where(Change.seq > after).order_by(Change.seq).limit(limit))
    return list(rows), last_seq


async def prune(session: AsyncSession, older_than: dt.datetime) -> int:
    """Drop the changes recorded before `older_than`; cursors below the last dropped become too old (410)."""
    through = await session.scalar(select(func.max(Change.seq)).where(Change.recorded_at < older_than))
    if through is None:
        return 0
    removed = await session.execute(delete(Change).where(Change.seq <= through))
    await session.execute(update(ChangeFeed).where(ChangeFeed.pruned_through < through).values(pruned_through=through))
    return removed.rowcount
