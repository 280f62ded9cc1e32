"""Who may hand out rights, and the record of every right handed out.

One rule for every grant (a client's scopes, a secret that carries them, a staff account's role and area):
a principal may grant only scopes it holds, and an area only within its own. A refused grant writes nothing;
an accepted one writes a `Grant` row in the same transaction, with the actor, the request id and what the
target holds afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.models import Grant
from shared.areas import CITY_CODE, covers
from shared.db import utcnow
from shared.errors import Forbidden, InvalidInput
from shared.identity import Principal
from shared.pagination import PageParams, keyset
from shared.request_id import current_request_id
from shared.scopes import scopes_held_by


def check_grantable(
    grantor: Principal, scopes: Iterable[str], *, area: str | None = None, citywide: bool = False
) -> None:
    """Forbidden unless `grantor` holds every one of `scopes` and its area covers `area` (when given), or the
    whole city when the rights are not bound to an area at all (`citywide`: a client's scopes)."""
    missing = sorted(set(scopes) - grantor.scopes)
    if missing:
        raise Forbidden("you may grant only scopes you hold; you do not hold: {missing}", missing=", ".join(missing))
    if area is not None and not grantor.covers(area):
        raise Forbidden("area {area} is outside your area {area2}", area=area, area2=grantor.area)
    if citywide and grantor.area is not None and not covers(grantor.area, CITY_CODE):
        raise Forbidden("a client's rights reach the whole city, beyond your area {area}", area=grantor.area)


# The kinds of client (gateway.auth.models.OAuthClient.kind), each a holder of the scope catalogue (shared.scopes).
CLIENT_KINDS = frozenset({"partner", "service"})


def holdable_by(kind: str, scopes: Iterable[str]) -> frozenset[str]:
    """Those of `scopes` the catalogue lets a client of `kind` hold: what its tokens carry, whatever its row says
    (a client registered with a staff-only scope before the catalogue was checked gets no such scope)."""
    return frozenset(scopes) & scopes_held_by(kind) if kind in CLIENT_KINDS else frozenset()


def check_holders(kind: str, scopes: Iterable[str]) -> None:
    """A 422 naming `scopes` unless the catalogue lets a client of `kind` hold every one of them: a staff-only
    scope (`auth.clients:write`, `privacy.requests:answer`, any `*.pii:read`) is never a client's, whoever grants
    it, and a scope with no holders (`*.subject_data:*`) is no one's."""
    foreign = sorted(set(scopes) - holdable_by(kind, scopes))
    if foreign:
        raise InvalidInput(
            "scopes",
            "a {kind} client may not hold: {foreign} (the scope catalogue keeps them for other principals)",
            kind=kind,
            foreign=", ".join(foreign),
        )


async def record(
    session: AsyncSession,
    actor: Principal,
    action: str,
    target: str,
    scopes: Iterable[str],
    area_code: str | None = None,
) -> None:
    session.add(
        Grant(
            at=utcnow(),
            actor=actor.subject,
            action=action,
            target=target,
            scopes=sorted(set(scopes)),
            area_code=area_code,
            request_id=current_request_id(),
        )
    )
    await session.flush()


async def list_grants(session: AsyncSession, page: PageParams, *, target: str | None) -> list[Grant]:
    query = keyset(select(Grant), Grant.id, page, descending=True)
    if target is not None:
        query = query.where(Grant.target == target)
    return list(await session.scalars(query))
