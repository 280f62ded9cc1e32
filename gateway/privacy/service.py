"""The register of personal-data requests: copies given at once, corrections and deletions tracked to an answer by
their due day, deletions of records the law requires to be kept refused at once with the reason, every step
audited (append-only `data_request_events`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.models import Resident
from gateway.privacy.models import DataRequest, DataRequestEvent
from gateway.privacy.peers import SubjectDataPeers, Unanswered
from gateway.privacy.schemas import (
    AnswerIn,
    CopyOut,
    DataRequestDetailOut,
    DataRequestIn,
    DataRequestOut,
    EventOut,
    ServiceHeld,
)
from gateway.scopes import PRIVACY_REQUESTS_ANSWER, PRIVACY_REQUESTS_READ
from shared import clock
from shared.db import utcnow
from shared.errors import Conflict, InvalidInput, NotFound, ServiceUnavailable
from shared.i18n import N_
from shared.identity import Principal
from shared.pagination import PageParams, keyset
from shared.request_id import current_request_id
from shared.subject_data import HeldCategory, HeldRecord

SYSTEM = "system:gateway-privacy"
KEEP_ACCOUNT = N_(
    "the account every record above is tied to: while any of them is kept, so is the account that lets you see and "
    "correct them; to close it once nothing is kept, ask at a civil-affairs counter"
)


def _event(session: AsyncSession, request: DataRequest, actor: str, action: str, detail: str | None = None) -> None:
    session.add(
        DataRequestEvent(
            data_request_id=request.id,
            at=utcnow(),
            actor=actor,
            action=action,
            detail=detail,
            request_id=current_request_id(),
        )
    )


async def _account(session: AsyncSession, subject: str) -> ServiceHeld:
    """What the gateway itself holds: the account (its phone masked; no phone or openid is kept in the clear)."""
    resident = await session.scalar(select(Resident).where(Resident.subject == subject))
    records = []
    if resident is not None:
        fields = {"phone": resident.phone_masked, "wechat_linked": resident.wechat_index is not None}
        records.append(
            HeldRecord(
                id=str(resident.id),
                about="self",
                fields=fields,
                recorded_at=resident.created_at,
                erasable=False,
                retention=KEEP_ACCOUNT,
                correctable=[],
            )
        )
    category = HeldCategory(
        category="account", title="居民账户 the sign-in account", count=len(records), records=records
    )
    return ServiceHeld(service="gateway", available=True, categories=[category])


async def copy_for(session: AsyncSession, peers: SubjectDataPeers, principal: Principal) -> CopyOut:
    """A copy of what every service holds about the caller, itself recorded as an access request answered at once."""
    held = [await _account(session, principal.subject), *await peers.search_all(principal.subject)]
    now, today = utcnow(), clock.today()
    given = [s.service for s in held if s.available]
    missing = [s.service for s in held if not s.available]
    answer = f"copy given from {', '.join(given)}" + (f"; not answering now: {', '.join(missing)}" if missing else "")
    request = DataRequest(
        subject=principal.subject,
        kind="access",
        status="done",
        answer=answer,
        answered_by=SYSTEM,
        answered_at=now,
        created_on=today,
        due_on=today,
        created_at=now,
    )
    session.add(request)
    await session.flush()
    _event(session, request, principal.subject, "copied", answer)
    return CopyOut(request_id=request.id, subject=principal.subject, services=held)


def _find(held: list[HeldCategory], category: str, record_id: str) -> HeldRecord | None:
    for found in held:
        if found.category == category:
            return next((r for r in found.records if r.id == record_id), None)
    return None


async def submit(
    session: AsyncSession, peers: SubjectDataPeers, principal: Principal, data: DataRequestIn, *, answer_days: int
) -> DataRequest:
    """A correction or deletion of a record the caller's copy names (404 for any other record, whosever it is). A
    deletion of a record the law requires to be kept is refused at once, with the reason."""
    if data.service == "gateway":
        categories = (await _account(session, principal.subject)).categories
    else:
        try:
            categories = (await peers.search(data.service, principal.subject)).categories
        except Unanswered as error:
            raise ServiceUnavailable("{error}: the request was not recorded; ask again later", error=error) from None
    record = _find(categories, data.category, data.record_id)
    if record is None:
        raise NotFound(
            "{service} holds no {category} record {record_id} about you",
            service=data.service,
            category=data.category,
            record_id=data.record_id,
        )
    if data.kind == "correction":
        if data.field is None or data.field not in record.correctable:
            can = ", ".join(record.correctable) or "none of its fields"
            raise InvalidInput("field", "a correction of this record may name: {can}", can=can)
        if data.corrected_value is None:
            raise InvalidInput("corrected_value", "say what the field should read")
    elif data.field is not None or data.corrected_value is not None:
        raise InvalidInput("field", "only a correction names a field and a corrected value")
    now, today = utcnow(), clock.today()
    request = DataRequest(
        subject=principal.subject,
        kind=data.kind,
        service=data.service,
        category=data.category,
        record_id=data.record_id,
        about=record.about,
        field=data.field,
        corrected_value=data.corrected_value,
        reason=data.reason,
        status="open",
        created_on=today,
        due_on=today + dt.timedelta(days=answer_days),
        created_at=now,
    )
    refused = data.kind == "deletion" and not record.erasable
    if refused:
        request.status, request.answered_by, request.answered_at = "refused", SYSTEM, now
        request.answer = f"kept by law: {record.retention}"
    try:
        async with session.begin_nested():
            session.add(request)
            await session.flush()
    except IntegrityError:
        existing = await session.scalar(
            select(DataRequest.id).where(
                DataRequest.subject == principal.subject,
                DataRequest.kind == data.kind,
                DataRequest.service == data.service,
                DataRequest.category == data.category,
                DataRequest.record_id == data.record_id,
                DataRequest.status == "open",
            )
        )
        raise Conflict(
            "your {kind} request {existing} about this record is still open",
            resource=f"data-requests/{existing}",
            kind=data.kind,
            existing=existing,
        ) from None
    _event(session, request, principal.subject, "submitted", data.reason)
    if refused:
        _event(session, request, SYSTEM, "refused", request.answer)
    return request


def may_see_all(principal: Principal) -> bool:
    return principal.kind == "staff" and (
        principal.has(PRIVACY_REQUESTS_ANSWER) or principal.has(PRIVACY_REQUESTS_READ)
    )


def _masked(value: str | None) -> str | None:
    """A corrected value as lists show it to anyone but the resident: its first character, the rest starred."""
    return None if value is None else value[:1] + "*" * (len(value) - 1)


def request_out(request: DataRequest, *, clear: bool = False) -> DataRequestOut:
    """The request; its corrected value (personal data) in the clear only with `clear` (the resident's own request,
    or one staff opened to answer), masked otherwise."""
    return DataRequestOut.model_validate(
        {
            **{c.key: getattr(request, c.key) for c in DataRequest.__table__.columns},
            "corrected_value": request.corrected_value if clear else _masked(request.corrected_value),
            "overdue": request.status == "open" and clock.today() > request.due_on,
        }
    )


async def _visible(session: AsyncSession, principal: Principal, request_id: int) -> DataRequest:
    query = select(DataRequest).where(DataRequest.id == request_id)
    if not may_see_all(principal):
        query = query.where(DataRequest.subject == principal.subject)
    request = await session.scalar(query)
    if request is None:
        raise NotFound("no personal-data request {request_id} that you may see", request_id=request_id)
    return request


async def detail(session: AsyncSession, principal: Principal, request_id: int) -> DataRequestDetailOut:
    request = await _visible(session, principal, request_id)
    events = await session.scalars(
        select(DataRequestEvent).where(DataRequestEvent.data_request_id == request.id).order_by(DataRequestEvent.id)
    )
    return DataRequestDetailOut(
        **request_out(request, clear=True).model_dump(), events=[EventOut.model_validate(e) for e in events]
    )


async def list_requests(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    status: str | None,
    kind: str | None,
    overdue: bool | None,
) -> list[DataRequest]:
    query = keyset(select(DataRequest), DataRequest.id, page, descending=True)
    if not may_see_all(principal):
        query = query.where(DataRequest.subject == principal.subject)
    if status is not None:
        query = query.where(DataRequest.status == status)
    if kind is not None:
        query = query.where(DataRequest.kind == kind)
    if overdue is True:
        query = query.where(DataRequest.status == "open", DataRequest.due_on < clock.today())
    elif overdue is False:
        query = query.where((DataRequest.status != "open") | (DataRequest.due_on >= clock.today()))
    return list(await session.scalars(query))


async def answer(
    session: AsyncSession, peers: SubjectDataPeers, principal: Principal, request_id: int, data: AnswerIn
) -> DataRequest:
    """Staff answer an open request, once. Agreeing to a deletion first has the service erase the record (again
    harmless: a record already erased by an earlier try counts as erased). No row lock is held across that call: the
    erasure is idempotent, and the conditional update lets one answer through."""
    request = await _visible(session, principal, request_id)
    if request.status != "open":
        raise Conflict(
            "personal-data request {request_id} was already answered ({request_status})",
            resource=f"data-requests/{request_id}",
            request_id=request_id,
            request_status=request.status,
        )
    erased = None
    if request.kind == "deletion" and data.outcome == "done" and request.service != "gateway":
        erased = await peers.erase(request.service, request.subject, request.category, request.record_id)
    answered = await session.execute(
        update(DataRequest)
        .where(DataRequest.id == request.id, DataRequest.status == "open")
        .values(status=data.outcome, answer=data.answer, answered_by=principal.subject, answered_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if answered.rowcount != 1:  # SQLite takes no row lock: the conditional update settles a race there
        raise Conflict(
            "personal-data request {request_id} was answered meanwhile",
            resource=f"data-requests/{request_id}",
            request_id=request_id,
        )
    if erased is not None:
        _event(session, request, principal.subject, "erased", "erased" if erased else "already gone")
    _event(session, request, principal.subject, "answered", f"{data.outcome}: {data.answer}")
    await session.refresh(request)
    return request
