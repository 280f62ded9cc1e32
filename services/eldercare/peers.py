"""The services eldercare asks over HTTP, through the gateway, and what it does when they do not answer.

Assistance (社会救助) knows whether a person is 特困, 低保, 低保边缘 or receives a disability subsidy. Meal prices
and the bed waitlist depend on it, and neither may stop working when assistance is slow or down: every
answer is cached per person, and an answer younger than `status_cache_hours` stands in for a live one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from fastapi import FastAPI, Request
from sqlalchemy import Select, and_, bindparam, select

from services.eldercare.elders.models import AssistanceStatus, Elder
from services.eldercare.elders.service import visible_to
from services.eldercare.settings import EldercareSettings
from shared.db import Database, PerCaller, conflict_insert, one_statement, utcnow
from shared.errors import NotFound
from shared.identity import Principal
from shared.peer import PeerClient, PeerRejected, PeerUnavailable
from shared.programmes import PROGRAMMES
from shared.service_token import ClientCredentialsToken

STATUS_LOOKUP_PATH = "/api/assistance/v1/status-lookups"

StatusSource = Literal["assistance", "cache", "none"]


@dataclass(frozen=True)
class AssistanceFacts:
    """The assistance programmes a person is in, and where that knowledge came from."""

    programmes: frozenset[str]
    source: StatusSource  # "assistance": a live answer; "cache": a recent one; "none": nothing usable
    as_of: dt.date | None = None

    @property
    def live(self) -> bool:
        return self.source == "assistance"


def assistance_peer(settings: EldercareSettings) -> PeerClient:
    """Assistance through the gateway, as this service: its own client-credentials token (a fixed
    ELDERCARE_PEER_TOKEN, when an operator sets one, takes its place)."""
    if settings.peer_token:
        token_provider = lambda: settings.peer_token  # noqa: E731
    elif settings.peer_client_secret:
        token_provider = ClientCredentialsToken(
            settings.gateway_url, settings.service_name, settings.peer_client_secret
        )
    else:
        token_provider = None  # no identity: lookups are refused and pricing falls back
    return PeerClient(
        "assistance", settings.gateway_url, timeout_s=settings.peer_timeout_s, retries=1, token_provider=token_provider
    )


async def open_peers(app: FastAPI) -> None:
    """The peer clients (one pool and one breaker each) live as long as the app."""
    app.state.assistance = assistance_peer(app.state.settings)


async def close_peers(app: FastAPI) -> None:
    await app.state.assistance.aclose()


def assistance_of(request: Request) -> PeerClient:
    return request.app.state.assistance


def _parse(answer: object) -> tuple[frozenset[str], dt.date]:
    """The programme codes of an answer; ValueError when it does not follow the contract."""
    if not isinstance(answer, dict) or not isinstance(answer.get("programmes"), list):
        raise ValueError("answer without a programmes list")
    codes = set()
    for item in answer["programmes"]:
        code = item.get("code") if isinstance(item, dict) else None
        if code in PROGRAMMES:  # a code added later by assistance is ignored, not an error
            codes.add(code)
    return frozenset(codes), dt.date.fromisoformat(str(answer.get("as_of")))


async def _store(database: Database, elder_id: int, answer: dict, as_of: dt.date) -> None:
    values = dict(elder_id=elder_id, programmes=answer["programmes"], as_of=as_of, fetched_at=utcnow())
    statement = conflict_insert(AssistanceStatus, database.dialect).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["elder_id"], set_={k: statement.excluded[k] for k in values if k != "elder_id"}
    )
    async with one_statement(database) as session:
        await session.execute(statement)


async def _ask(database: Database, peer: PeerClient, elder_id: int, id_number: str) -> AssistanceFacts | None:
    """A live answer from assistance (stored for later fallbacks), or None when there is none."""
    try:
        answer = await peer.post_json(STATUS_LOOKUP_PATH, {"id_number": id_number})
        programmes, as_of = _parse(answer)
    except (PeerUnavailable, PeerRejected, ValueError, TypeError):
        return None
    await _store(database, elder_id, answer, as_of)
    return AssistanceFacts(programmes, "assistance", as_of)


def _from_cache(cached: AssistanceStatus | None) -> AssistanceFacts:
    if cached is not None:
        codes = frozenset(p["code"] for p in cached.programmes if p.get("code") in PROGRAMMES)
        return AssistanceFacts(codes, "cache", cached.as_of)
    return AssistanceFacts(frozenset(), "none")


def _fresh_status(elder_id, cache_hours: int):
    return and_(
        AssistanceStatus.elder_id == elder_id, AssistanceStatus.fetched_at >= utcnow() - dt.timedelta(hours=cache_hours)
    )


async def assistance_facts(
    database: Database, peer: PeerClient, *, elder_id: int, id_number: str, cache_hours: int
) -> AssistanceFacts:
    """Ask assistance (the ID number goes in the body, never in a URL); on no answer, use the cache.

    Called with no transaction open, so a slow peer never holds a database connection or SQLite's write
    lock; the cache is read and written in short transactions of its own.
    """
    live = await _ask(database, peer, elder_id, id_number)
    if live is not None:
        return live
    async with one_statement(database) as session:
        cached = await session.scalar(select(AssistanceStatus).where(_fresh_status(elder_id, cache_hours)))
    return _from_cache(cached)


def _elder_with_status(principal: Principal) -> Select:
    return (
        visible_to(principal)
        .where(Elder.id == bindparam("elder_id"))
        .add_columns(AssistanceStatus)
        .outerjoin(
            AssistanceStatus,
            and_(AssistanceStatus.elder_id == Elder.id, AssistanceStatus.fetched_at >= bindparam("status_since")),
        )
    )


# The person the caller may act for, with their recent cached status (or None), as a query a caller may add
# columns to, so that what it needs before its transaction comes in the same statement. Its parameters:
# `status_params`.
elder_with_status = PerCaller(_elder_with_status)


def status_params(elder_id: int, cache_hours: int) -> dict:
    return {"elder_id": elder_id, "status_since": utcnow() - dt.timedelta(hours=cache_hours)}


def no_such_elder(elder_id: int) -> NotFound:
    return NotFound(
        "no older person {elder_id} that you may see", elder_id=elder_id
    )  # as elders.service.get_visible says


async def facts_of(
    database: Database, peer: PeerClient, elder: Elder, cached: AssistanceStatus | None
) -> AssistanceFacts:
    """Assistance's live answer about a person already read, or else the cached status read with them."""
    live = await _ask(database, peer, elder.id, elder.id_number)
    return live if live is not None else _from_cache(cached)


async def elder_and_facts(
    database: Database, peer: PeerClient, principal: Principal, elder_id: int, *, cache_hours: int
) -> tuple[Elder, AssistanceFacts]:
    """A person the caller may act for (404 otherwise, before asking anyone) and their assistance facts.

    One statement reads the person and their cached status together, outside any transaction of the
    request (see `shared.db.one_statement`); it is over before assistance is asked, so a slow peer holds no connection
    and no lock. When assistance does not answer, the status read beforehand is the fallback. The person is
    returned, detached, so the caller's own transaction need not read them again.
    """
    async with one_statement(database) as session:
        row = (await session.execute(elder_with_status(principal), status_params(elder_id, cache_hours))).first()
    if row is None:
        raise no_such_elder(elder_id)
    elder, cached = row
    return elder, await facts_of(database, peer, elder, cached)


async def facts_for_elder(
    database: Database, peer: PeerClient, principal: Principal, elder_id: int, *, cache_hours: int
) -> AssistanceFacts:
    """Assistance facts about a person the caller may act for (404 otherwise, before asking anyone)."""
    return (await elder_and_facts(database, peer, principal, elder_id, cache_hours=cache_hours))[1]
