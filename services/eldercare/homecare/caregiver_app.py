"""The caregiver app: a caregiver (护理员) signs in at the gateway like a resident (an opaque subject), is paired to
their Caregiver record by a one-time code from the provider's area staff, and then sees and checks in and out of
the visits assigned to them, by the same rules as staff (homecare/service.py does the work).

Pairing codes: 8 characters from an alphabet without look-alikes (about 40 bits), kept only as a keyed hash
(the blind-index key: a stolen table does not give the codes), valid for a set number of hours, used once
(a conditional update: of two redemptions at once, one wins), replaced by a newer code for the same caregiver.
A wrong, expired, used or replaced code gets one and the same answer (nothing to enumerate). An account may
enter a set number of codes per hour (right or wrong), counted on a row of its own by a conditional update: of
many guesses sent at once, no more than the limit are tried.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import secrets

from sqlalchemy import case, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare.elders.models import Elder
from services.eldercare.homecare import service
from services.eldercare.homecare.models import Caregiver, CaregiverPairing, CaregiverPairingAttempts, HomeService, Visit
from services.eldercare.homecare.schemas import MyVisitOut, PairedCaregiverOut, PairingCodeOut, Position
from shared import clock
from shared.db import UTCDateTime, conflict_insert, utcnow
from shared.errors import Conflict, DomainError, Forbidden, NotFound, TooManyRequests
from shared.i18n import N_
from shared.identity import Principal
from shared.pii import blind_index

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
CODE_LENGTH = 8
CODE_PURPOSE = "caregiver_pairings.code"
ATTEMPTS_WINDOW = dt.timedelta(hours=1)


class PairingCodeRefused(DomainError):
    """One answer for every code that does not pair (wrong, expired, used, replaced): nothing to enumerate. The
    attempt stays counted (the request's writes are committed)."""

    status, slug, title = 400, "pairing-code-refused", N_("The pairing code was not accepted")

    def __init__(self):
        super().__init__(
            N_(
                "this pairing code is not valid: it may be mistyped, expired, already used or replaced by "
                "a newer one; ask the provider's staff for a new code"
            ),
            keep_writes=True,
        )


def normalise(code: str) -> str:
    return re.sub(r"[\s\-]", "", code).upper()


def code_hash(code: str) -> str:
    return blind_index(CODE_PURPOSE, normalise(code))


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def display(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


async def _caregiver_of_staff(session: AsyncSession, principal: Principal, caregiver_id: int) -> Caregiver:
    caregiver = await session.get(Caregiver, caregiver_id)
    if caregiver is None or not caregiver.is_active:
        raise NotFound("no active caregiver {caregiver_id}", caregiver_id=caregiver_id)
    await service._provider_of_staff(session, principal, caregiver.provider_id)
    return caregiver


async def _revoke_open_codes(session: AsyncSession, caregiver_id: int, now: dt.datetime) -> None:
    """Every code of the caregiver neither used nor replaced (expired ones too) is replaced now."""
    await session.execute(
        update(CaregiverPairing)
        .where(
            CaregiverPairing.caregiver_id == caregiver_id,
            CaregiverPairing.redeemed_at.is_(None),
            CaregiverPairing.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


async def issue_code(session: AsyncSession, principal: Principal, caregiver_id: int, *, hours: int) -> PairingCodeOut:
    """Staff of the provider's area: a new code for the caregiver; any code not yet used stops working."""
    if principal.kind != "staff":
        raise Forbidden("pairing codes are given by the provider's area staff")
    caregiver = await _caregiver_of_staff(session, principal, caregiver_id)
    now = utcnow()
    await _revoke_open_codes(session, caregiver.id, now)
    while True:  # a clash of two random 40-bit codes is all but impossible; the unique hash makes it harmless
        code = new_code()
        hashed = code_hash(code)
        if await session.scalar(select(CaregiverPairing.id).where(CaregiverPairing.code_hash == hashed)) is None:
            break
    pairing = CaregiverPairing(
        caregiver_id=caregiver.id,
        code_hash=hashed,
        issued_by=principal.subject,
        issued_at=now,
        expires_at=now + dt.timedelta(hours=hours),
    )
    session.add(pairing)
    try:
        await session.flush()
    except IntegrityError:  # another code for this caregiver was issued at the same moment (one open at a time)
        raise Conflict(
            "a pairing code for caregiver {caregiver_id} was just issued by someone else; ask again to replace it",
            resource=f"caregivers/{caregiver_id}",
            caregiver_id=caregiver_id,
        ) from None
    return PairingCodeOut(caregiver_id=caregiver.id, code=display(code), expires_at=pairing.expires_at)


async def unpair(session: AsyncSession, principal: Principal, caregiver_id: int) -> None:
    """Staff: the caregiver's app account stops acting for them, and codes not yet used stop working."""
    if principal.kind != "staff":
        raise Forbidden("app pairings are ended by the provider's area staff")
    caregiver = await _caregiver_of_staff(session, principal, caregiver_id)
    await _revoke_open_codes(session, caregiver.id, utcnow())
    await session.execute(
        update(Caregiver)
        .where(Caregiver.id == caregiver.id)
        .values(app_subject=None, app_paired_at=None)
        .execution_options(synchronize_session=False)
    )


async def _take_attempt(session: AsyncSession, subject: str, limit: int, now: dt.datetime) -> None:
    """Count one code entered by the account in its current hour, or refuse (429). The update locks the account's
    row until the request ends, so its requests are counted one after another."""
    table = CaregiverPairingAttempts
    await session.execute(
        conflict_insert(table, session.bind.dialect.name)
        .values(subject=subject, window_started_at=now, attempts=0)
        .on_conflict_do_nothing(index_elements=["subject"])
    )
    stale = table.window_started_at <= now - ATTEMPTS_WINDOW
    taken = await session.scalar(
        update(table)
        .where(table.subject == subject, or_(table.attempts < limit, stale))
        .values(
            attempts=case((stale, 1), else_=table.attempts + 1),
            window_started_at=case((stale, literal(now, UTCDateTime())), else_=table.window_started_at),
        )
        .returning(table.attempts)
        .execution_options(synchronize_session=False)
    )
    if taken is None:
        started = await session.scalar(select(table.window_started_at).where(table.subject == subject))
        retry = max(1, math.ceil((started + ATTEMPTS_WINDOW - now).total_seconds()))
        raise TooManyRequests(
            "this account entered {limit} pairing codes in the last hour; try again later",
            retry_after=retry,
            limit=limit,
        )


async def redeem(
    session: AsyncSession, principal: Principal, code: str, *, attempts_per_hour: int
) -> PairedCaregiverOut:
    """The signed-in caller becomes the caregiver's app account. The code is taken by a conditional update, so of
    two redemptions at once exactly one wins. An account already paired to another caregiver moves to this one
    (staff gave this code); a caregiver already paired to another account is re-paired to this one."""
    now = utcnow()
    await _take_attempt(session, principal.subject, attempts_per_hour, now)
    caregiver_id = (
        await session.execute(
            update(CaregiverPairing)
            .where(
                CaregiverPairing.code_hash == code_hash(code),
                CaregiverPairing.redeemed_at.is_(None),
                CaregiverPairing.revoked_at.is_(None),
                CaregiverPairing.expires_at > now,
                CaregiverPairing.caregiver_id.in_(select(Caregiver.id).where(Caregiver.is_active.is_(True))),
            )
            .values(redeemed_at=now, redeemed_by=principal.subject)
            .returning(CaregiverPairing.caregiver_id)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if caregiver_id is None:
        raise PairingCodeRefused()
    await session.execute(
        update(Caregiver)
        .where(Caregiver.app_subject == principal.subject, Caregiver.id != caregiver_id)
        .values(app_subject=None, app_paired_at=None)
        .execution_options(synchronize_session=False)
    )
    try:
        await session.execute(
            update(Caregiver)
            .where(Caregiver.id == caregiver_id)
            .values(app_subject=principal.subject, app_paired_at=now)
            .execution_options(synchronize_session=False)
        )
    except IntegrityError:  # the same account redeemed another caregiver's code at the same moment
        raise Conflict("this account was just paired to another caregiver; try again") from None
    return paired_out(await session.get(Caregiver, caregiver_id, populate_existing=True))


def paired_out(c: Caregiver) -> PairedCaregiverOut:
    """Not a 1:1 mapping: tells whether the certificate is valid today."""
    return PairedCaregiverOut(
        caregiver_id=c.id,
        provider_id=c.provider_id,
        name=c.name,
        certificate_expires_on=c.certificate_expires_on,
        certificate_valid=c.certificate_expires_on >= clock.today(),
        paired_at=c.app_paired_at,
    )


async def paired_caregiver(session: AsyncSession, principal: Principal) -> Caregiver | None:
    return await session.scalar(
        select(Caregiver).where(Caregiver.app_subject == principal.subject, Caregiver.is_active.is_(True))
    )


async def me(session: AsyncSession, principal: Principal) -> Caregiver:
    caregiver = await paired_caregiver(session, principal)
    if caregiver is None:
        raise NotFound("this account is not paired to a caregiver; enter the code from the provider's staff")
    return caregiver


LIVE_STATES = ("scheduled", "checked_in")  # a caregiver sees where to go and for whom only while it is to be done


async def my_visits(session: AsyncSession, principal: Principal, day: dt.date) -> list[MyVisitOut]:
    caregiver = await me(session, principal)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=clock.SHANGHAI)
    rows = (
        await session.execute(
            select(
                Visit,
                HomeService.name.label("service_name"),
                Elder.name.label("elder_name"),
                Elder.address,
                Elder.latitude,
                Elder.longitude,
            )
            .join(HomeService, HomeService.id == Visit.service_id)
            .join(Elder, Elder.id == Visit.elder_id)
            .where(
                Visit.caregiver_id == caregiver.id,
                Visit.starts_at >= start,
                Visit.starts_at < start + dt.timedelta(days=1),
            )
            .order_by(Visit.starts_at, Visit.id)
        )
    ).all()
    answers = []
    for row in rows:
        visit, live = row.Visit, row.Visit.status in LIVE_STATES
        out = service.visit_out(visit, await service.drawn_for(session, visit.id))
        answers.append(
            MyVisitOut(
                **out.model_dump(),
                service_name=row.service_name,
                elder_name=row.elder_name if live else None,
                address=row.address if live else None,
                home_latitude=row.latitude if live else None,
                home_longitude=row.longitude if live else None,
            )
        )
    return answers


async def _mine(session: AsyncSession, principal: Principal, visit_id: int) -> Caregiver:
    """The paired caregiver, if the visit is assigned to them; otherwise 404 (the same for anyone else)."""
    caregiver = await paired_caregiver(session, principal)
    if (
        caregiver is None
        or await session.scalar(select(Visit.id).where(Visit.id == visit_id, Visit.caregiver_id == caregiver.id))
        is None
    ):
        raise NotFound("no visit {visit_id} assigned to you", visit_id=visit_id)
    return caregiver


async def check_in(
    session: AsyncSession, principal: Principal, visit_id: int, pos: Position, *, evv: service.Evv
) -> Visit:
    """As staff check in, plus: a caregiver whose certificate has expired by the day of the check-in may not
    check in through the app (scheduling already refuses such a caregiver for that day; staff may still record
    the visit, with the operate scope, and correct it)."""
    caregiver = await _mine(session, principal, visit_id)
    day = pos.at.astimezone(clock.SHANGHAI).date()
    if caregiver.certificate_expires_on < day:
        raise Conflict(
            "your certificate expired on {certificate_expires_on}; a visit on {day} cannot be checked in through the app",
            resource=f"caregivers/{caregiver.id}",
            certificate_expires_on=caregiver.certificate_expires_on.isoformat(),
            day=day.isoformat(),
        )
    return await service.check_in(session, principal, visit_id, pos, evv=evv, caregiver_id=caregiver.id)


async def check_out(
    session: AsyncSession, principal: Principal, visit_id: int, pos: Position, *, evv: service.Evv
) -> tuple[Visit, int | None]:
    caregiver = await _mine(session, principal, visit_id)
    return await service.check_out(session, principal, visit_id, pos, evv=evv, caregiver_id=caregiver.id)
