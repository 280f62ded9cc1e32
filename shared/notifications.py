"""Notifications (通知): people told when something happens to them or to those they care for, through an outbox.

One implementation for every service (docs/notifications.md):

- **Written with the event.** `outbox.notify(session, …)` adds one `notifications` row (the event's text, its
  audience, a unique `key`) and a `notifications.fan_out` job in the caller's own transaction: the notification
  exists exactly when the event was committed, and nothing about sending can roll the event back. The same key
  twice (a retried request, two racing transactions) is one notification.
- **Fanned out in the worker, a page at a time.** The job lists the audience (the emitting service resolves it:
  eldercare the carers of an older person, assistance the accepting worker) a page at a time and writes one
  in-app message each (a `notification_deliveries` row of channel `in_app`), so an event with thousands of
  recipients costs its request one row and its worker a few pages. Then, a page at a time, it asks the
  gateway for the recipients' contacts (their chosen channels, phone, WeChat openid, quiet hours: kept there,
  in one place, never copied here) and adds a delivery per extra channel. A unique key on (notification,
  person, channel) makes every step safe to repeat. Each job does the work of every notification pending, in
  batches, so a burst of events costs a few transactions and gateway requests per hundred, not per event.
- **Few jobs for many notifications.** A notification enqueues a `notifications.fan_out` job unless one is already
  queued (an emergency always enqueues its own); each job, and the scheduled `notifications.send_due`, does the work
  of every notification pending.
- **Sent with retries.** Due SMS and WeChat deliveries are claimed a page at a time (a conditional update; on
  PostgreSQL `FOR UPDATE SKIP LOCKED`, so workers share them), sent, and marked: `sent`; `queued` again after
  10 s, 40 s, 160 s … (shared.jobs.backoff) when the provider did not take it, up to `MAX_ATTEMPTS`, then
  `failed`; `failed` at once when the provider refused it for good; `skipped` when the person has no such
  channel any more. Inside the person's quiet hours a delivery waits for their end, unless the notification is
  an emergency. The scheduled `notifications.send_due` (every minute) sends what waited.
- **Read in the app.** The in-app message is always written and is the written record: `GET /messages`
  (`messages_router`) lists the caller's own.
"""

# No `from __future__ import annotations`: messages_router's routes are annotated with the `reader` it is given.

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol, cast

from fastapi import APIRouter, Depends, Query
from pydantic import Field
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.db import Database, RowId, Session, UTCDateTime, conflict_insert, utcnow
from shared.errors import NotFound, problem_responses
from shared.jobs import Every, JobContext, Tasks, backoff
from shared.pagination import Page, PageParams, keyset, page_of, page_params
from shared.peer import PeerClient
from shared.schemas import Schema
from shared.service_token import ClientCredentialsToken
from shared.settings import ServiceSettings
from shared.sms import SmsRejected, SmsSender, sms_sender
from shared.subject_data import MAX_RECORDS, HeldCategory, HeldRecord, row_id
from shared.wechat_messages import SubscribeMessages, WeChatRefused, subscribe_messages

log = logging.getLogger("shared.notifications")

CHANNELS = ("in_app", "sms", "wechat")
Channel = Literal["in_app", "sms", "wechat"]
STATUSES = ("queued", "sending", "sent", "failed", "skipped")
# Assumption (no figure in the domain brief): quiet hours 22:00–07:00 Asia/Shanghai for whoever set none.
DEFAULT_QUIET_HOURS = (22 * 60, 7 * 60)
MAX_ATTEMPTS = 5  # sends of one SMS or WeChat message before it is `failed` (its in-app message stays)
PAGE = 500  # recipients per page of a fan-out, deliveries per page of routing and of sending
BATCH = 100  # notifications per transaction of a fan-out
CONCURRENT_SENDS = 16  # calls to a provider at once, per worker
CONTACTS_PATH = "/api/notifications/v1/contacts"
ENQUEUED_IN = "notifications.fan_out enqueued in"  # session.info: the transaction that has a fan-out job queued


def minute_of(time: dt.time) -> int:
    return time.hour * 60 + time.minute


def time_of(minute: int) -> dt.time:
    return dt.time(minute // 60, minute % 60)


class Contact(Schema):
    """How one person is reached: the gateway's answer for each subject (gateway/notifications)."""

    subject: str = Field(description="The person's subject")
    sms: bool = Field(False, description="Chose SMS")
    wechat: bool = Field(False, description="Chose WeChat subscription messages")
    phone: str | None = Field(None, description="The phone SMS goes to (in the clear: for the sending worker)")
    wechat_openid: str | None = Field(None, description="The openid WeChat messages go to")
    quiet_from_minute: int | None = Field(DEFAULT_QUIET_HOURS[0], ge=0, le=1439, description="Quiet from (minute)")
    quiet_until_minute: int | None = Field(DEFAULT_QUIET_HOURS[1], ge=0, le=1439, description="Quiet until (minute)")

    def quiet_until(self, now: dt.datetime) -> dt.datetime | None:
        """The end of the quiet hours `now` falls in (UTC), or None outside them."""
        start, end = self.quiet_from_minute, self.quiet_until_minute
        if start is None or end is None or start == end:
            return None
        local = now.astimezone(clock.SHANGHAI)
        minute = local.hour * 60 + local.minute
        inside = start <= minute < end if start < end else (minute >= start or minute < end)
        if not inside:
            return None
        until = local.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
        if until <= local:
            until += dt.timedelta(days=1)
        return until.astimezone(dt.UTC)

    def channels(self, emergency: bool) -> list[Channel]:
        """The channels beyond in-app this person gets. An emergency also goes by SMS to a phone on file, chosen
        or not (assumption: the care agreement a carer signs asks for it; docs/notifications.md)."""
        chosen: list[Channel] = []
        if self.phone and (self.sms or emergency):
            chosen.append("sms")
        if self.wechat_openid and self.wechat:
            chosen.append("wechat")
        return chosen


# --- tables ---------------------------------------------------------------------------------------------


def outbox_tables(metadata: MetaData) -> tuple[Table, Table]:
    """A service's outbox (`notifications`) and what became of it (`notification_deliveries`), in its database."""
    notifications = Table(
        "notifications",
        metadata,
        Column("id", Integer, primary_key=True),
        # What happened, once: "call.raised:12". The same key twice is one notification.
        Column("key", String(200), nullable=False, unique=True),
        Column("kind", String(40), nullable=False),
        Column("title", String(100), nullable=False),
        Column("body", Text, nullable=False),
        # The SMS and WeChat template's parameters, in the template's order.
        Column("params", JSON, nullable=False),
        Column("emergency", Boolean, nullable=False),
        # Who is told, as the emitting service resolves it (its `Audience`).
        Column("audience", JSON, nullable=False),
        Column("resource", String(200)),  # what it is about, as a path under the service: "emergency-calls/12"
        Column("created_at", UTCDateTime(), nullable=False),
        Column("fan_cursor", String(200)),  # the last subject given an in-app message
        Column("fanned_out_at", UTCDateTime()),
        Column("routed_through", Integer, nullable=False),  # the last in-app delivery whose channels were added
        Column("routed_at", UTCDateTime()),
        CheckConstraint("routed_through >= 0", name="routed_through_not_negative"),
    )
    deliveries = Table(
        "notification_deliveries",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("notification_id", ForeignKey("notifications.id"), nullable=False),
        Column("subject", String(200), nullable=False),
        Column("channel", String(10), nullable=False),
        Column("status", String(10), nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("run_after", UTCDateTime(), nullable=False),
        Column("lease_until", UTCDateTime()),
        Column("last_error", String(500)),
        Column("provider_ref", String(100)),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("sent_at", UTCDateTime()),
        Column("read_at", UTCDateTime()),  # in-app messages: when the person read it
        UniqueConstraint("notification_id", "subject", "channel"),
        CheckConstraint(f"channel IN ({', '.join(repr(c) for c in CHANNELS)})", name="channel_known"),
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in STATUSES)})", name="status_known"),
        CheckConstraint(f"attempts BETWEEN 0 AND {MAX_ATTEMPTS}", name="attempts_bounded"),
        Index("ix_notification_deliveries_due", "status", "run_after"),
        Index("ix_notification_deliveries_inbox", "subject", "channel", "id"),
    )
    return notifications, deliveries


# --- who is told, and how to reach them -------------------------------------------------------------------

# The emitting service's resolver: (session, the notification's audience, the last subject of the previous page
# or None, page size) → the next subjects in ascending order, without duplicates.
Audience = Callable[[AsyncSession, dict[str, Any], str | None, int], Awaitable[list[str]]]


def next_page(sources: Iterable[Iterable[str]], after: str | None, limit: int) -> list[str]:
    """The union of sorted sources (each already `> after` and at most `limit` long), as the next page."""
    merged = {s for source in sources for s in source if after is None or s > after}
    return sorted(merged)[:limit]


class Directory(Protocol):
    async def contacts(self, subjects: list[str]) -> dict[str, Contact]: ...

    async def aclose(self) -> None: ...


class GatewayDirectory:
    """The recipients' contacts from the gateway (`POST /api/notifications/v1/contacts`), as this service."""

    def __init__(self, settings: ServiceSettings):
        token = getattr(settings, "peer_token", None)
        provider: Any = (
            (lambda: token)
            if token
            else ClientCredentialsToken(settings.gateway_url, settings.service_name, settings.peer_client_secret)
        )
        self.peer = PeerClient("gateway", settings.gateway_url, timeout_s=5.0, retries=1, token_provider=provider)

    async def contacts(self, subjects: list[str]) -> dict[str, Contact]:
        answer = await self.peer.post_json(CONTACTS_PATH, {"subjects": subjects})
        return {item["subject"]: Contact.model_validate(item) for item in answer["items"]}

    async def aclose(self) -> None:
        await self.peer.aclose()


@dataclass
class Channels:
    """What a worker sends with: the providers configured (shared/sms.py, shared/wechat_messages.py) and the
    gateway's directory. Made once per event loop of a worker process."""

    directory: Directory
    sms: SmsSender | None
    wechat: SubscribeMessages | None

    async def aclose(self) -> None:
        await self.directory.aclose()
        if self.wechat is not None:
            await self.wechat.aclose()


# --- the outbox -------------------------------------------------------------------------------------------


class Outbox:
    """A service's notifications: `notify` in a request's transaction; the tasks its worker runs; the inbox."""

    def __init__(
        self,
        service: str,
        tables: tuple[Table, Table],
        jobs: Table,
        *,
        audience: Audience,
        settings: Callable[[], ServiceSettings],
    ):
        self.service = service
        self.notifications, self.deliveries = tables  # outbox_tables(), made in the service's database.py
        self.audience = audience
        self.settings = settings
        self.page = PAGE
        self._channels: tuple[asyncio.AbstractEventLoop, Channels] | None = None
        # The outbox's own tasks; the service's registry includes them (services/<name>/jobs.py).
        self.tasks = Tasks(jobs)
        self.tasks.task("notifications.fan_out", max_attempts=8)(self._fan_out_job)
        self.tasks.task("notifications.send_due", singleton=True, schedule=Every(1))(self._send_due_job)

    # -- in the request ------------------------------------------------------------------------------------

    async def notify(
        self,
        session: AsyncSession,
        *,
        key: str,
        kind: str,
        title: str,
        body: str,
        audience: dict[str, Any],
        params: list[str] | None = None,
        emergency: bool = False,
        resource: str | None = None,
    ) -> int | None:
        """Record a notification in the caller's transaction and enqueue its fan-out; None when `key` was
        already notified (nothing is added)."""
        table = self.notifications
        values = dict(
            key=key,
            kind=kind,
            title=title[:100],
            body=body,
            params=list(params or []),
            emergency=emergency,
            audience=audience,
            resource=resource,
            created_at=utcnow(),
            routed_through=0,
        )
        dialect = session.get_bind().dialect.name
        insert = conflict_insert(table, dialect).values(**values)
        notification_id: int | None = await session.scalar(
            insert.on_conflict_do_nothing(index_elements=["key"]).returning(table.c.id)
        )
        if notification_id is None:
            return None
        # One queued fan-out job does the work of every notification pending, so a burst of events enqueues few (one
        # waiting out a retry's backoff does not count). An emergency always gets its own: a queued job might be
        # claimed, and look, just before this one commits.
        jobs, transaction = self.tasks.table, session.get_transaction()
        if not emergency and session.info.get(ENQUEUED_IN) is transaction:
            return notification_id  # this transaction enqueued one already (many notices of one event)
        waiting = None
        if not emergency:
            waiting = await session.scalar(
                select(jobs.c.id)
                .where(jobs.c.task == "notifications.fan_out", jobs.c.status == "queued", jobs.c.run_after <= utcnow())
                .limit(1)
            )
        if waiting is None:
            await self.tasks.enqueue(session, "notifications.fan_out", {"notification_id": notification_id})
        session.info[ENQUEUED_IN] = transaction
        return notification_id

    # -- in the worker -------------------------------------------------------------------------------------

    async def close_channels(self) -> None:
        """Close the providers' connections (a worker stopping; tests changing the environment)."""
        if self._channels is not None:
            await self._channels[1].aclose()
            self._channels = None

    def channels(self) -> Channels:
        loop = asyncio.get_running_loop()
        if self._channels is None or self._channels[0] is not loop:
            made = Channels(GatewayDirectory(self.settings()), sms_sender(), subscribe_messages())
            self._channels = (loop, made)
        return self._channels[1]

    async def _fan_out_job(self, ctx: JobContext) -> dict[str, Any]:
        """Enqueued with a notification; it does the work of every notification pending (a batch per transaction),
        so one job carries a burst of them."""
        return {"notification_id": int(ctx.args["notification_id"])} | await self.dispatch(ctx)

    async def _send_due_job(self, ctx: JobContext) -> dict[str, Any]:
        """Every minute: what waited (quiet hours, backoff), and any notification a fan-out job did not see."""
        return await self.dispatch(ctx)

    async def dispatch(self, ctx: JobContext) -> dict[str, Any]:
        messages = await self.fan_out(ctx.database, progress=ctx.progress)
        routed = await self.route(ctx.database, progress=ctx.progress)
        return {"in_app": messages, "routed": routed} | await self.send_due(ctx.database)

    async def fan_out(self, database: Database, *, progress: Callable[[int], Awaitable[None]] | None = None) -> int:
        """Write the in-app message of every recipient of every notification not yet fanned out: per transaction,
        a batch of notifications (taken with SKIP LOCKED: workers share them), a page of recipients each; a
        notification with a larger audience goes on at its cursor in the next transaction."""
        n = self.notifications
        written = turns = 0
        while True:
            async with database.sessionmaker() as session, session.begin():
                pending = (
                    (
                        await session.execute(
                            select(n.c.id, n.c.audience, n.c.fan_cursor)
                            .where(n.c.fanned_out_at.is_(None))
                            .order_by(n.c.id)
                            .limit(BATCH)
                            .with_for_update(skip_locked=True)
                        )
                    )
                    .mappings()
                    .all()
                )
                if not pending:
                    return written
                now = utcnow()
                values = []
                for row in pending:
                    subjects = await self.audience(session, row["audience"], row["fan_cursor"], self.page)
                    values += [
                        dict(
                            notification_id=row["id"],
                            subject=subject,
                            channel="in_app",
                            status="sent",
                            attempts=0,
                            run_after=now,
                            created_at=now,
                            sent_at=now,
                        )
                        for subject in subjects
                    ]
                    done = {"fanned_out_at": now} if len(subjects) < self.page else {}
                    cursor = subjects[-1] if subjects else row["fan_cursor"]
                    await session.execute(update(n).where(n.c.id == row["id"]).values(fan_cursor=cursor, **done))
                if values:
                    await self._insert_deliveries(session, values)
                written += len(values)
            turns += 1
            if progress is not None:
                await progress(min(40, turns))  # renews the lease between pages of a large audience

    async def route(self, database: Database, *, progress: Callable[[int], Awaitable[None]] | None = None) -> int:
        """Add the SMS and WeChat deliveries of every notification fanned out and not yet routed: a page of its
        in-app messages at a time (across notifications), one request to the gateway for their contacts each."""
        n, d = self.notifications, self.deliveries
        added = turns = 0
        while True:
            async with database.sessionmaker() as session:
                batch = (
                    (
                        await session.execute(
                            select(n.c.id, n.c.emergency)
                            .where(n.c.fanned_out_at.is_not(None), n.c.routed_at.is_(None))
                            .order_by(n.c.id)
                            .limit(BATCH)
                        )
                    )
                    .mappings()
                    .all()
                )
                if not batch:
                    return added
                page = (
                    await session.execute(
                        select(d.c.id, d.c.notification_id, d.c.subject)
                        .join(n, n.c.id == d.c.notification_id)
                        .where(
                            n.c.id.in_([b["id"] for b in batch]), d.c.channel == "in_app", d.c.id > n.c.routed_through
                        )
                        .order_by(d.c.notification_id, d.c.id)
                        .limit(self.page)
                    )
                ).all()
            # Outside any transaction: a slow gateway holds no lock. Unavailable, the job is retried later.
            contacts = await self.channels().directory.contacts(sorted({p.subject for p in page})) if page else {}
            emergency = {b["id"]: b["emergency"] for b in batch}
            now = utcnow()
            values = [
                dict(
                    notification_id=p.notification_id,
                    subject=p.subject,
                    channel=channel,
                    status="queued",
                    attempts=0,
                    run_after=now,
                    created_at=now,
                )
                for p in page
                for channel in contacts.get(p.subject, Contact(subject=p.subject)).channels(
                    emergency[p.notification_id]
                )
            ]
            # Ordered by notification, so only the page's last notification may have messages beyond it (when the
            # page is full); every other one of the batch is routed to its end.
            last = page[-1] if len(page) == self.page else None
            async with database.sessionmaker() as session, session.begin():
                if values:
                    await self._insert_deliveries(session, values)
                    added += len(values)
                for notification_id in emergency:
                    if last is not None and notification_id > last.notification_id:
                        continue  # not reached by this page
                    if last is not None and notification_id == last.notification_id:
                        marks = {"routed_through": last.id}
                    else:
                        marks = {"routed_at": now}
                    await session.execute(update(n).where(n.c.id == notification_id).values(**marks))
            turns += 1
            if progress is not None:
                await progress(min(80, 40 + turns))

    async def _insert_deliveries(self, session: AsyncSession, values: list[dict[str, Any]]) -> None:
        dialect = session.get_bind().dialect.name
        insert = conflict_insert(self.deliveries, dialect)
        await session.execute(insert.on_conflict_do_nothing(), values)

    async def _claim(self, database: Database, notification_id: int | None) -> list[dict[str, Any]]:
        d, now = self.deliveries, utcnow()
        due = or_(
            and_(d.c.status == "queued", d.c.run_after <= now),
            and_(d.c.status == "sending", d.c.lease_until < now),  # its worker died mid-send
        )
        due = and_(due, d.c.attempts < MAX_ATTEMPTS)
        candidates = select(d.c.id).where(d.c.channel != "in_app", due)
        if notification_id is not None:
            candidates = candidates.where(d.c.notification_id == notification_id)
        candidates = candidates.order_by(d.c.run_after, d.c.id).limit(self.page).with_for_update(skip_locked=True)
        async with database.sessionmaker() as session, session.begin():
            # A delivery whose worker died on its last attempt is not sent again: it failed.
            await session.execute(
                update(d)
                .where(d.c.status == "sending", d.c.lease_until < now, d.c.attempts >= MAX_ATTEMPTS)
                .values(status="failed", lease_until=None, last_error="abandoned by its worker on the last attempt")
            )
            # The candidates first, then the update: inside `UPDATE … WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP
            # LOCKED)` PostgreSQL may run the subquery again per row and claim far more than a page.
            picked = list(await session.scalars(candidates))
            if not picked:
                return []
            rows = (
                await session.execute(
                    update(d)
                    .where(d.c.id.in_(picked), due)
                    .values(status="sending", lease_until=now + dt.timedelta(minutes=5), attempts=d.c.attempts + 1)
                    .returning(d.c.id, d.c.notification_id, d.c.subject, d.c.channel, d.c.attempts)
                )
            ).mappings()
            claimed = [dict(r) for r in rows]
            if claimed:
                n = self.notifications
                ids = {c["notification_id"] for c in claimed}
                about = {
                    r["id"]: dict(r)
                    for r in (
                        await session.execute(
                            select(n.c.id, n.c.kind, n.c.params, n.c.emergency).where(n.c.id.in_(ids))
                        )
                    ).mappings()
                }
                for c in claimed:
                    c["notification"] = about[c["notification_id"]]
        return claimed

    async def send_due(self, database: Database, *, notification_id: int | None = None) -> dict[str, int]:
        """Send the due SMS and WeChat deliveries (of one notification, or all), a page at a time."""
        report = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0, "deferred": 0}
        channels = self.channels()
        while claimed := await self._claim(database, notification_id):
            try:
                contacts = await channels.directory.contacts(sorted({c["subject"] for c in claimed}))
            except Exception as error:  # the gateway is away: not the message's fault, so not one of its attempts
                log.warning("notification contacts unavailable: %s", error)
                wait = utcnow() + dt.timedelta(minutes=1)
                outcomes = [
                    {
                        "outcome": "deferred",
                        "status": "queued",
                        "run_after": wait,
                        "attempts": c["attempts"] - 1,
                        "last_error": f"contacts unavailable: {error}"[:500],
                    }
                    for c in claimed
                ]
            else:
                outcomes = await self._deliver_all(channels, claimed, contacts)
            d = self.deliveries
            async with database.sessionmaker() as session, session.begin():
                for claim, outcome in zip(claimed, outcomes, strict=True):
                    report[outcome.pop("outcome")] += 1
                    await session.execute(
                        update(d)
                        .where(d.c.id == claim["id"], d.c.status == "sending")
                        .values(lease_until=None, **outcome)
                    )
            if len(claimed) < self.page:
                break  # a short page: nothing more was due when it was claimed
        return report

    async def _deliver_all(
        self, channels: Channels, claimed: list[dict[str, Any]], contacts: dict[str, Contact]
    ) -> list[dict[str, Any]]:
        limit = asyncio.Semaphore(CONCURRENT_SENDS)

        async def one(claim: dict[str, Any]) -> dict[str, Any]:
            async with limit:
                contact = contacts.get(claim["subject"], Contact(subject=claim["subject"]))
                return await self._deliver(channels, claim, contact)

        return list(await asyncio.gather(*(one(c) for c in claimed)))

    def _retry(self, claim: dict[str, Any], error: str) -> dict[str, Any]:
        if claim["attempts"] >= MAX_ATTEMPTS:
            return {"outcome": "failed", "status": "failed", "last_error": error[:500]}
        return {
            "outcome": "retry",
            "status": "queued",
            "run_after": utcnow() + backoff(claim["attempts"]),
            "last_error": error[:500],
        }

    async def _deliver(self, channels: Channels, claim: dict[str, Any], contact: Contact) -> dict[str, Any]:
        about, channel = claim["notification"], claim["channel"]
        now = utcnow()
        if not about["emergency"] and (until := contact.quiet_until(now)) is not None:
            # Quiet hours: wait for their end; the wait is not an attempt.
            return {"outcome": "deferred", "status": "queued", "run_after": until, "attempts": claim["attempts"] - 1}
        if channel not in contact.channels(about["emergency"]):
            return {"outcome": "skipped", "status": "skipped", "last_error": f"the person no longer gets {channel}"}
        reference = f"{self.service}:{claim['id']}"
        try:
            if channel == "sms":
                if channels.sms is None:
                    return {"outcome": "skipped", "status": "skipped", "last_error": "no SMS provider configured"}
                assert contact.phone is not None
                ref = (
                    await channels.sms.send(contact.phone, about["kind"], about["params"], reference=reference)
                ).serial
            else:
                if channels.wechat is None:
                    return {
                        "outcome": "skipped",
                        "status": "skipped",
                        "last_error": "no WeChat mini-program configured",
                    }
                assert contact.wechat_openid is not None
                ref = await channels.wechat.send(contact.wechat_openid, about["kind"], about["params"])
        except (SmsRejected, WeChatRefused) as refused:
            return {"outcome": "failed", "status": "failed", "last_error": str(refused)[:500]}
        except Exception as error:  # the provider did not take it this time (SmsUnavailable, a timeout, …)
            log.warning("notification %s by %s not sent: %s", reference, channel, error)
            return self._retry(claim, str(error) or type(error).__name__)
        return {"outcome": "sent", "status": "sent", "sent_at": now, "provider_ref": ref[:100], "last_error": None}

    # -- personal-data requests (shared/subject_data.py) ---------------------------------------------------

    category = "notifications"

    async def held(self, session: AsyncSession, subject: str) -> HeldCategory:
        """What this service sent or means to send the person: one record a channel, newest first. The body is left
        out (it may name the people the person acts for, who are listed in their own categories)."""
        n, d = self.notifications, self.deliveries
        mine = d.c.subject == subject
        count = await session.scalar(select(func.count()).select_from(d).where(mine)) or 0
        rows = (
            await session.execute(
                select(
                    d.c.id,
                    n.c.kind,
                    n.c.title,
                    n.c.resource,
                    d.c.channel,
                    d.c.status,
                    d.c.sent_at,
                    d.c.read_at,
                    d.c.created_at,
                )
                .join(n, n.c.id == d.c.notification_id)
                .where(mine)
                .order_by(d.c.id.desc())
                .limit(MAX_RECORDS)
            )
        ).all()
        return HeldCategory(
            category=self.category,
            title="通知消息 the notifications sent to this account (in-app, SMS, WeChat)",
            count=count,
            records=[
                HeldRecord(
                    id=str(row.id),
                    about="self",
                    fields={
                        "kind": row.kind,
                        "title": row.title,
                        "resource": row.resource,
                        "channel": row.channel,
                        "status": row.status,
                        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
                        "read_at": row.read_at.isoformat() if row.read_at else None,
                    },
                    recorded_at=row.created_at,
                    erasable=True,  # a copy of what the person was told; the event itself is kept with its record
                    retention=None,
                    correctable=[],
                )
                for row in rows
            ],
        )

    async def erase_held(self, session: AsyncSession, subject: str, record_id: str) -> None:
        d = self.deliveries
        erased = 0
        if (row := row_id(record_id)) is not None:
            result = await session.execute(delete(d).where(d.c.id == row, d.c.subject == subject))
            erased = cast(CursorResult[Any], result).rowcount
        if erased != 1:
            raise NotFound("no notification {record_id} of this subject", record_id=record_id)

    # -- the inbox -----------------------------------------------------------------------------------------

    def messages_router(self, *, reader: Any) -> APIRouter:
        """`GET /messages` and `POST /messages/{id}/read` for the caller's own in-app messages."""
        router = APIRouter(prefix="/messages", tags=["messages 消息"])
        n, d = self.notifications, self.deliveries
        columns = (d.c.id, n.c.kind, n.c.title, n.c.body, n.c.resource, n.c.emergency, d.c.created_at, d.c.read_at)

        def mine(principal: Any) -> Any:
            return (
                select(*columns)
                .join(n, n.c.id == d.c.notification_id)
                .where(d.c.subject == principal.subject, d.c.channel == "in_app")
            )

        @router.get(
            "",
            response_model=Page[Message],
            summary="My messages",
            description=f"The caller's in-app messages from {self.service}, newest first: every notification "
            "(an emergency call, a visit, a bed offer, a meal order, an application, a review) is kept here "
            "whatever channels the person chose, so this list is complete even when an SMS or WeChat message "
            "could not go. `unread=true` gives those not yet read.",
            responses=problem_responses(401, 422),
        )
        async def list_messages(
            session: Session,
            principal: reader,
            page: Annotated[PageParams, Depends(page_params)],
            unread: Annotated[bool, Query(description="Only the unread ones")] = False,
        ) -> Page[Message]:
            query = mine(principal)
            if unread:
                query = query.where(d.c.read_at.is_(None))
            rows = (await session.execute(keyset(query, d.c.id, page, descending=True))).mappings().all()
            return page_of([Message.model_validate(dict(r)) for r in rows], page, key=lambda m: m.id)

        @router.post(
            "/{message_id}/read",
            response_model=Message,
            summary="Mark a message read",
            description="Marks one of the caller's own messages read (again: no change). Another person's is a 404.",
            responses=problem_responses(401, 404, 422),
        )
        async def read_message(session: Session, principal: reader, message_id: RowId) -> Message:
            await session.execute(
                update(d)
                .where(
                    d.c.id == message_id,
                    d.c.subject == principal.subject,
                    d.c.channel == "in_app",
                    d.c.read_at.is_(None),
                )
                .values(read_at=utcnow())
            )
            row = (await session.execute(mine(principal).where(d.c.id == message_id))).mappings().first()
            if row is None:
                raise NotFound("no message {message_id} of yours", message_id=message_id)
            return Message.model_validate(dict(row))

        return router


class Message(Schema):
    """An in-app message (站内消息): what happened, to whom, and whether it was read."""

    id: int = Field(description="The message's id")
    kind: str = Field(description="What happened, e.g. `call.raised`, `application.decided`")
    title: str = Field(description="A short title (Chinese)")
    body: str = Field(description="What happened and what to do (Chinese)")
    resource: str | None = Field(description="What it is about, as a path under the service, e.g. `emergency-calls/12`")
    emergency: bool = Field(description="An emergency: sent in quiet hours too")
    created_at: dt.datetime = Field(description="When it was written")
    read_at: dt.datetime | None = Field(description="When the person read it")
