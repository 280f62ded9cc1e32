"""Following placenames' change feed (地名地址变更): stored addresses kept current by renames, splits, merges,
retirements and division changes.

Placenames records each change in the transaction that makes it and serves them in commit order
(`GET /api/placenames/v1/changes?after=<cursor>`, docs/changes.md). A service that stores addresses follows that
feed in its worker process (`shared.worker`), through the gateway with its own identity:

- its cursor (the `seq` of the last change it applied) lives in its own database, in `feed_cursors`;
- a page of changes and the cursor's advance are one transaction: a follower stopped half-way (a restart, a
  crash) applied nothing of the page, and the next one starts again from the stored cursor;
- delivery is at least once, so applying is idempotent, and a change at or below the stored cursor (one served
  again) is skipped: whatever arrives twice is applied once. Two followers of one service (two workers) check
  the cursor under its row lock; the one that finds it moved drops its page.

Which tables hold addresses is declared by the model itself: every table of the service carrying the columns of
`shared.addresses.StandardAddress` is followed (`address_tables`).

What a change does to the rows that hold its subject:
- an address renamed, moved (its division changed) or merged: the rows with its code take the successor's
  code, standard text, area and coordinates;
- an address split into several: the rows become `pending`, and the standardisation job places what was
  written again (one of the parts, or `unresolved` for staff when the text fits several);
- an address retired with no successor: the rows become `unresolved`, for staff to give the address again;
- a division merged or moved (江东区 into 鄞州区, a town to 海曙区): the rows with its code as `area_code` take
  the successor's code. Area-scoped access follows at once.
Names, door plates and new addresses change no stored address (their addresses' own changes do).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from sqlalchemy import BigInteger, CheckConstraint, Column, MetaData, String, Table, select, update
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from shared.addresses import AddressTable, Placenames, StandardAddress
from shared.db import Database, UTCDateTime, conflict_insert, new_metadata, utcnow
from shared.peer import PeerRejected, PeerUnavailable
from shared.settings import ServiceSettings

log = logging.getLogger("shared.changefeed")

FEED = "placenames"  # the feed followed, the key of its cursor
FEED_PATH = "/api/placenames/v1/changes"
PAGE = 500  # changes asked for at a time; the feed serves up to 1000
# A page is no one's request waiting: the follower gives the feed far longer than a write gives placenames.
FEED_TIMEOUT_S = 10.0
# A feed that cannot be read is tried again after a pause doubling from the poll interval up to this.
MAX_PAUSE_S = 10.0

# The new address of rows whose address was renamed, moved or merged; a split needs the written text placed
# again; a retirement needs staff.
FOLLOW_SUCCESSOR = frozenset({"address.renamed", "address.moved", "address.merged", "address.split"})
AREA_CHANGES = frozenset({"division.merged", "division.moved"})

Fetch = Callable[[int, int], Awaitable[dict[str, Any]]]


def feed_cursors_table(metadata: MetaData) -> Table:
    """Where a service keeps its place in each feed it follows, in its own database."""
    return Table(
        "feed_cursors",
        metadata,
        Column("feed", String(40), primary_key=True),
        Column("position", BigInteger, nullable=False),  # the seq of the last change applied
        Column("applied", BigInteger, nullable=False),  # how many changes were applied through it (for operators)
        Column("updated_at", UTCDateTime(), nullable=False),
        CheckConstraint("position >= 0 AND applied >= 0", name="counts_positive"),
    )


def create_feed_cursors_table(bind: Connection) -> None:
    """The migration of a service that follows the feed (`feed_cursors` as this module defines it today)."""
    feed_cursors_table(new_metadata()).create(bind)


def drop_feed_cursors_table(bind: Connection) -> None:
    feed_cursors_table(new_metadata()).drop(bind)


def address_tables(base: type[DeclarativeBase]) -> list[AddressTable]:
    """Every model of a service that carries the standard address columns: the tables the feed updates."""
    return sorted(
        (
            AddressTable(mapper.class_, cast(Table, mapper.local_table).name)
            for mapper in base.registry.mappers
            if issubclass(mapper.class_, StandardAddress)
        ),
        key=lambda table: table.name,
    )


def over_gateway(placenames: Placenames) -> Fetch:
    """The feed through the gateway, as the service (its client-credentials token)."""

    async def fetch(after: int, limit: int) -> dict[str, Any]:
        page: dict[str, Any] = await placenames.peer.get_json(f"{FEED_PATH}?after={after}&limit={limit}")
        return page

    return fetch


async def apply(session: AsyncSession, tables: Sequence[AddressTable], change: dict[str, Any]) -> int:
    """What one change does to the stored addresses of `tables` (see the module's docstring); rows touched."""
    kind, code, successors = change["kind"], change["code"], change["successors"]
    values: dict[str, Any] | None = None
    by_area = False
    if kind in FOLLOW_SUCCESSOR and len(successors) == 1:
        new = successors[0]
        values = dict(
            address=new["text"],
            address_code=new["code"],
            address_status="standard",
            area_code=new["area_code"],
            latitude=new["latitude"],
            longitude=new["longitude"],
        )
        if new["latitude"] is None or new["longitude"] is None:  # keep the position the record had
            del values["latitude"], values["longitude"]
    elif kind == "address.split":
        values = dict(address_status="pending")
    elif kind == "address.retired":
        values = dict(address_status="unresolved")
    elif kind in AREA_CHANGES and len(successors) == 1:
        values, by_area = dict(area_code=successors[0]["code"]), True
    if values is None:
        return 0
    touched = 0
    for table in tables:
        model = table.model
        where = model.area_code == code if by_area else model.address_code == code
        result = cast(
            CursorResult[Any],
            await session.execute(
                update(model).where(where).values(**values).execution_options(synchronize_session=False)
            ),
        )
        touched += result.rowcount
    return touched


class Follower:
    """Follows the feed for one service: `step` applies one page, `run` loops until stopped."""

    def __init__(
        self,
        database: Database,
        cursors: Table,
        tables: Sequence[AddressTable],
        fetch: Fetch,
        *,
        feed: str = FEED,
        page: int = PAGE,
        poll_s: float = 1.0,
        close: Callable[[], Awaitable[None]] | None = None,
    ):
        self.database, self.cursors, self.tables, self.fetch = database, cursors, list(tables), fetch
        self.feed, self.page, self.poll_s, self._close = feed, page, poll_s, close
        self.applied = 0  # changes this follower applied (its process's share of the cursor's count)
        self.behind = 0  # changes the feed had beyond the cursor at the last page read

    @classmethod
    def of_service(
        cls, settings: ServiceSettings, database: Database, base: type[DeclarativeBase], cursors: Table
    ) -> Follower:
        """The follower of a service's worker: the feed through the gateway as the service, every table of `base`
        with the standard address columns, the cursor in `cursors`."""
        placenames = Placenames.for_service(settings.model_copy(update={"placenames_timeout_s": FEED_TIMEOUT_S}))
        return cls(
            database,
            cursors,
            address_tables(base),
            over_gateway(placenames),
            poll_s=settings.change_feed_poll_s,
            close=placenames.aclose,
        )

    async def aclose(self) -> None:
        if self._close is not None:
            await self._close()

    async def position(self) -> int:
        """The stored cursor: the seq of the last change applied (0 before the first)."""
        async with self.database.sessionmaker() as session:
            stored = await session.scalar(select(self.cursors.c.position).where(self.cursors.c.feed == self.feed))
        return int(stored or 0)

    async def _locked_position(self, session: AsyncSession) -> int:
        cursors = self.cursors
        await session.execute(
            conflict_insert(cursors, session.get_bind().dialect.name)
            .values(feed=self.feed, position=0, applied=0, updated_at=utcnow())
            .on_conflict_do_nothing()
        )
        stored = await session.scalar(select(cursors.c.position).where(cursors.c.feed == self.feed).with_for_update())
        return int(stored or 0)

    async def step(self) -> int:
        """Fetch the page after the stored cursor and apply it with the cursor's advance, in one transaction.
        Returns how many changes were applied (0: up to date, or another follower applied the page first).
        Raises PeerUnavailable / PeerRejected when the feed cannot be read."""
        after = await self.position()
        page = await self.fetch(after, self.page)  # no transaction open while the feed answers
        changes = [c for c in page["changes"] if c["seq"] > after]
        self.behind = int(page["last_seq"]) - (changes[-1]["seq"] if changes else after)
        if not changes:
            return 0
        async with self.database.sessionmaker() as session, session.begin():
            if await self._locked_position(session) != after:
                return 0  # another follower moved the cursor meanwhile: its page, not ours
            for change in changes:
                await apply(session, self.tables, change)
            await session.execute(
                update(self.cursors)
                .where(self.cursors.c.feed == self.feed)
                .values(
                    position=changes[-1]["seq"],
                    applied=self.cursors.c.applied + len(changes),
                    updated_at=utcnow(),
                )
            )
        self.applied += len(changes)
        return len(changes)

    async def catch_up(self) -> int:
        """Apply pages until the feed has nothing new; returns how many changes were applied."""
        total = 0
        while True:
            applied = await self.step()
            total += applied
            if not applied and not self.behind:
                return total

    async def run(self, stop: asyncio.Event) -> None:
        """The worker process's loop: a page as soon as the last one was full, else a pause of `poll_s`.

        A feed that cannot be read (placenames or the gateway down, our token refused) is tried again after a
        pause that grows to `MAX_PAUSE_S`; a cursor the feed refuses (400: never issued, after placenames' database
        was restored from an older backup; 410: older than the changes kept) needs an operator
        (docs/changes.md) and is logged as an error at each try.
        """
        pause = self.poll_s
        while not stop.is_set():
            try:
                applied = await self.step()
                pause = self.poll_s
            except PeerRejected as refused:
                level = logging.ERROR if refused.status_code in (400, 410) else logging.WARNING
                log.log(level, "the change feed refused our request", extra={"fields": {"status": refused.status_code}})
                applied, pause = 0, min(MAX_PAUSE_S, pause * 2)
            except PeerUnavailable as down:
                log.warning("the change feed cannot be read", extra={"fields": {"reason": down.reason}})
                applied, pause = 0, min(MAX_PAUSE_S, pause * 2)
            except Exception:  # the database away, a change of an unknown shape: try again, never exit the loop
                log.exception("following the change feed failed")
                applied, pause = 0, min(MAX_PAUSE_S, pause * 2)
            if applied and self.behind > 0:
                continue  # more is waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=pause)


def following(base: type[DeclarativeBase], cursors: Table) -> Callable[[ServiceSettings, Database], Follower]:
    """What a service's worker passes to `shared.worker.main`: its follower, made once the database is open."""

    def make(settings: ServiceSettings, database: Database) -> Follower:
        # Every model of the service, as its API process has them, so that each table given standard addresses
        # is followed, whether or not one of the worker's jobs imports it.
        importlib.import_module(f"services.{settings.service_name}.main")
        return Follower.of_service(settings, database, base, cursors)

    return make
