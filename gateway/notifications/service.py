"""Notification preferences (the person's own) and contacts (for the services' workers), kept at the gateway.

The gateway is where a phone and a WeChat openid were proven (by SMS code, by WeChat sign-in), so it is the one
place they are kept for notifications; each service's worker asks for a page of its recipients' contacts when it
sends (shared/notifications.py) and keeps none of them.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.models import Resident
from gateway.notifications.models import NotificationPreference
from gateway.notifications.schemas import PreferencesIn, PreferencesOut, QuietHours
from gateway.settings import GatewaySettings
from shared.db import utcnow
from shared.errors import Forbidden, InvalidInput
from shared.identity import Principal
from shared.idnumbers import mask_phone
from shared.notifications import DEFAULT_QUIET_HOURS, Contact, minute_of, time_of


def _out(row: NotificationPreference | None) -> PreferencesOut:
    if row is None:
        start, end = DEFAULT_QUIET_HOURS
        return PreferencesOut(
            sms=False,
            wechat=False,
            phone_masked=None,
            wechat_linked=False,
            quiet_hours=QuietHours(start=time_of(start), end=time_of(end)),
        )
    quiet = None
    if row.quiet_from_minute is not None and row.quiet_until_minute is not None:
        quiet = QuietHours(start=time_of(row.quiet_from_minute), end=time_of(row.quiet_until_minute))
    return PreferencesOut(
        sms=row.sms,
        wechat=row.wechat,
        phone_masked=mask_phone(row.phone) if row.phone else None,
        wechat_linked=row.wechat_openid is not None,
        quiet_hours=quiet,
    )


def _person(principal: Principal) -> None:
    if principal.kind not in ("resident", "staff"):
        raise Forbidden("notification preferences are a person's own: residents and staff only")


async def _row(session: AsyncSession, subject: str) -> NotificationPreference | None:
    return await session.scalar(
        select(NotificationPreference).where(NotificationPreference.subject == subject).with_for_update()
    )


async def get_preferences(session: AsyncSession, principal: Principal) -> PreferencesOut:
    _person(principal)
    return _out(await session.get(NotificationPreference, principal.subject))


async def set_preferences(
    session: AsyncSession, settings: GatewaySettings, principal: Principal, data: PreferencesIn
) -> PreferencesOut:
    _person(principal)
    from gateway.auth.service import keyed_digest  # (gateway.auth.service imports this module)

    row = await _row(session, principal.subject)
    if row is None:
        start, end = DEFAULT_QUIET_HOURS
        row = NotificationPreference(
            subject=principal.subject,
            sms=False,
            wechat=False,
            quiet_from_minute=start,
            quiet_until_minute=end,
            updated_at=utcnow(),
        )
        session.add(row)
    if data.phone is not None:
        if principal.kind == "resident":
            resident = await session.scalar(select(Resident).where(Resident.subject == principal.subject))
            if resident is None or resident.phone_index != keyed_digest(settings.token_secret, data.phone):
                raise InvalidInput("phone", "must be the phone you sign in with by SMS code")
        row.phone = data.phone
    if data.sms and row.phone is None:
        raise InvalidInput("phone", "SMS needs a phone: give the one you sign in with")
    if data.wechat and row.wechat_openid is None:
        raise InvalidInput("wechat", "WeChat messages need a sign-in with WeChat in the mini-program first")
    row.sms, row.wechat = data.sms, data.wechat
    if data.quiet_hours is None:
        row.quiet_from_minute = row.quiet_until_minute = None
    else:
        row.quiet_from_minute = minute_of(data.quiet_hours.start)
        row.quiet_until_minute = minute_of(data.quiet_hours.end)
    row.updated_at = utcnow()
    await session.flush()
    return _out(row)


async def remember_openid(session: AsyncSession, subject: str, openid: str) -> None:
    """At a WeChat sign-in: the openid a subscription message is addressed to (WeChat stays off until chosen)."""
    row = await _row(session, subject)
    if row is None:
        start, end = DEFAULT_QUIET_HOURS
        row = NotificationPreference(
            subject=subject,
            sms=False,
            wechat=False,
            quiet_from_minute=start,
            quiet_until_minute=end,
            updated_at=utcnow(),
        )
        session.add(row)
    if row.wechat_openid != openid:
        row.wechat_openid = openid
        row.updated_at = utcnow()
    await session.flush()


async def contacts(session: AsyncSession, subjects: list[str]) -> list[Contact]:
    rows = {
        row.subject: row
        for row in await session.scalars(
            select(NotificationPreference).where(NotificationPreference.subject.in_(set(subjects)))
        )
    }
    answer = []
    for subject in dict.fromkeys(subjects):
        row = rows.get(subject)
        if row is None:
            answer.append(Contact(subject=subject))
            continue
        answer.append(
            Contact(
                subject=subject,
                sms=row.sms,
                wechat=row.wechat,
                phone=row.phone,
                wechat_openid=row.wechat_openid,
                quiet_from_minute=row.quiet_from_minute,
                quiet_until_minute=row.quiet_until_minute,
            )
        )
    return answer
