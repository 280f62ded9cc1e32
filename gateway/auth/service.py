"""Sign-in rules: client credentials, staff passwords with lock-out, refresh tokens that rotate.

Failures that must be remembered (a wrong password counts towards lock-out; a reused refresh token
revokes its family) are written in the request's transaction and raised with `keep_writes=True`, so
they are committed although the request is refused.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import grants
from gateway.auth.grants import check_grantable, check_holders, holdable_by
from gateway.auth.models import OAuthClient, OneTimeCode, RefreshToken, Resident, StaffUser
from gateway.notifications import service as notifications
from gateway.settings import GatewaySettings
from shared.areas import CITY_CODE
from shared.db import utcnow
from shared.divisions import division, is_current
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests, Unauthorized
from shared.identity import Principal
from shared.idnumbers import mask_phone
from shared.scopes import scopes_held_by

PASSWORDS = PasswordHasher()  # Argon2id with the library's (RFC 9106 low-memory) parameters


@functools.cache
def _unknown_user_hash() -> str:
    """Verified against when the username is unknown, so timing does not tell which usernames exist.
    Made on first use: Argon2 is slow by design, and hashing at import slowed the start of every process that
    imports this module."""
    return PASSWORDS.hash(secrets.token_urlsafe(16))


ROLE_HOLDERS = {
    "community_worker": ("staff",),
    "street": ("staff",),
    "district": ("staff",),
    "city": ("staff", "city_staff"),
    "auditor": ("auditor",),
}
ROLE_AREA_LENGTHS = {"community_worker": 12, "street": 9, "district": 6, "city": 6, "auditor": 6}
# The level of division each role works for (shared.divisions): district and city codes are both 6 digits, and a
# `city` account holds the city bureau's scopes (`city_staff`: client and staff administration, the answering of
# personal-data requests, every job), which reach the whole city whatever its area says.
ROLE_LEVELS = {
    "community_worker": ("village",),
    "street": ("township",),
    "district": ("district",),
    "city": ("city",),
    "auditor": ("city", "district"),
}


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


# Clients ------------------------------------------------------------------------------------------


def client_principal(client: OAuthClient) -> Principal:
    # Only what the catalogue lets its kind hold: a row given a staff-only scope before grants checked the
    # catalogue (or a scope since withdrawn from partners) does not carry it into a token.
    return Principal(
        subject=f"{client.kind}:{client.client_id}",
        kind=client.kind,
        scopes=holdable_by(client.kind, client.scopes),
        name=client.name,
    )


async def authenticate_client(session: AsyncSession, client_id: str, secret: str) -> Principal:
    client = await session.get(OAuthClient, client_id)
    presented = digest(secret)
    now = utcnow()
    valid = (
        client is not None
        and client.revoked_at is None
        and (
            hmac.compare_digest(presented, client.secret_hash)
            or (
                client.previous_secret_hash is not None
                and client.previous_secret_valid_until is not None
                and client.previous_secret_valid_until > now
                and hmac.compare_digest(presented, client.previous_secret_hash)
            )
        )
    )
    if not valid:
        raise Unauthorized("invalid_client: unknown client, wrong secret, or revoked")
    return client_principal(client)


async def create_client(
    session: AsyncSession, actor: Principal, *, client_id: str, name: str, kind: str, scopes: list[str]
) -> tuple[OAuthClient, str]:
    check_grantable(actor, scopes, citywide=True)  # a client's rights are not bound to an area
    check_holders(kind, scopes)  # and they are a partner's or a service's scopes, whoever grants them
    if await session.get(OAuthClient, client_id) is not None:
        raise Conflict("client {client_id} already exists", resource=f"clients/{client_id}", client_id=client_id)
    secret = new_secret()
    client = OAuthClient(
        client_id=client_id,
        name=name,
        kind=kind,
        scopes=sorted(set(scopes)),
        secret_hash=digest(secret),
        created_by=actor.subject,
        created_at=utcnow(),
    )
    session.add(client)
    await session.flush()
    await grants.record(session, actor, "client.create", f"client:{client_id}", client.scopes)
    return client, secret


async def _live_client(session: AsyncSession, client_id: str) -> OAuthClient:
    client = await session.get(OAuthClient, client_id)
    if client is None or client.revoked_at is not None:
        raise NotFound("no active client {client_id}", client_id=client_id)
    return client


async def rotate_secret(
    session: AsyncSession, actor: Principal, client_id: str, grace: dt.timedelta
) -> tuple[OAuthClient, str]:
    """A new secret; the old one keeps working for `grace` so the partner can roll over."""
    client = await _live_client(session, client_id)
    check_grantable(actor, client.scopes, citywide=True)  # the new secret's holder holds the scopes
    secret = new_secret()
    client.previous_secret_hash = client.secret_hash
    client.previous_secret_valid_until = utcnow() + grace
    client.secret_hash = digest(secret)
    await session.flush()
    await grants.record(session, actor, "client.rotate", f"client:{client_id}", client.scopes)
    return client, secret


async def set_client_scopes(session: AsyncSession, actor: Principal, client_id: str, scopes: list[str]) -> OAuthClient:
    """Only the scopes added must be the actor's own: taking away one it does not hold widens nothing. Every scope
    kept must be one the client's kind may hold."""
    client = await _live_client(session, client_id)
    check_grantable(actor, set(scopes) - set(client.scopes), citywide=True)
    check_holders(client.kind, scopes)
    client.scopes = sorted(set(scopes))
    await session.flush()
    await grants.record(session, actor, "client.scopes", f"client:{client_id}", client.scopes)
    return client


async def revoke_client(session: AsyncSession, actor: Principal, client_id: str) -> OAuthClient:
    client = await _live_client(session, client_id)
    client.revoked_at = utcnow()
    await session.flush()
    await grants.record(session, actor, "client.revoke", f"client:{client_id}", [])
    return client


# Staff --------------------------------------------------------------------------------------------


def staff_principal(user: StaffUser) -> Principal:
    # An account still on its one-time password gets no scope: its token serves only to set up the second
    # factor and the new password (the /staff routes read the account, not the token's scopes). A `city` account
    # of a district (made before the role's level was checked) gets a district's scopes, not the bureau's.
    role = "district" if user.role == "city" and user.area_code != CITY_CODE else user.role
    scopes = frozenset() if user.must_set_credentials else scopes_held_by(*ROLE_HOLDERS[role])
    return Principal(
        subject=f"staff:{user.username}", kind="staff", area=user.area_code, scopes=scopes, name=user.display_name
    )


def role_scopes(role: str) -> frozenset[str]:
    return scopes_held_by(*ROLE_HOLDERS[role])


def validate_staff_area(role: str, area_code: str) -> None:
    if role not in ROLE_HOLDERS:
        raise InvalidInput("role", "one of {ROLE_HOLDERS}", ROLE_HOLDERS=", ".join(ROLE_HOLDERS))
    if len(area_code) != ROLE_AREA_LENGTHS[role] or not area_code.isdigit():
        raise InvalidInput(
            "area_code",
            "a {role} works in a {role_area_lengths}-digit division code",
            role=role,
            role_area_lengths=ROLE_AREA_LENGTHS[role],
        )
    if not is_current(area_code):
        # An area the tree does not hold (or no longer does, 江东区 say) would match no record: the account
        # would see nothing, and the people of its real area would have no one.
        raise InvalidInput("area_code", "{area_code} is not a current division of the city", area_code=area_code)
    found = division(area_code)
    if found is not None and found.level not in ROLE_LEVELS[role]:
        # A `city` account of 鄞州区 would answer every resident's personal-data requests and run every job of
        # the city; a `district` account of the city would be a district's staff over every district.
        if role == "city":
            raise InvalidInput("area_code", "a city account works for the city bureau ({city}) only", city=CITY_CODE)
        raise InvalidInput(
            "area_code",
            "{area_code} is the city, not a district: a {role} works for one district",
            area_code=area_code,
            role=role,
        )


def _check_staff_grant(actor: Principal, role: str, area_code: str) -> None:
    validate_staff_area(role, area_code)
    check_grantable(actor, role_scopes(role), area=area_code)


async def create_staff(
    session: AsyncSession,
    actor: Principal,
    *,
    username: str,
    display_name: str,
    password: str,
    role: str,
    area_code: str,
) -> StaffUser:
    _check_staff_grant(actor, role, area_code)
    if await session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise Conflict(
            "staff account {username} already exists", resource=f"staff-accounts/{username}", username=username
        )
    user = StaffUser(
        username=username,
        display_name=display_name,
        password_hash=await hash_password(password),
        role=role,
        area_code=area_code,
        failed_sign_ins=0,
        created_at=utcnow(),
    )
    session.add(user)
    await session.flush()
    await grants.record(session, actor, "staff.create", f"staff:{username}", role_scopes(role), area_code)
    return user


async def change_staff(
    session: AsyncSession, actor: Principal, username: str, *, role: str | None, area_code: str | None
) -> StaffUser:
    """Another role or area. The actor must reach the account as it is (no moving a superior away) and as
    it will be. Tokens already issued keep the old rights until they expire (15 minutes); refreshing them
    reads the account again."""
    user = await session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None or not actor.covers(user.area_code):
        raise NotFound("no staff account {username} in your area", username=username)
    check_grantable(actor, role_scopes(user.role))
    role, area_code = role or user.role, area_code or user.area_code
    _check_staff_grant(actor, role, area_code)
    user.role, user.area_code = role, area_code
    await session.flush()
    await grants.record(session, actor, "staff.change", f"staff:{username}", role_scopes(user.role), user.area_code)
    return user


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(PASSWORDS.hash, password)


async def _password_matches(stored_hash: str, password: str) -> bool:
    try:
        # Argon2 is deliberately slow: off the event loop, so one sign-in never stalls other requests.
        return await asyncio.to_thread(PASSWORDS.verify, stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def sign_in_staff(
    session: AsyncSession, settings: GatewaySettings, username: str, password: str, totp_code: str | None = None
) -> Principal:
    user = await session.scalar(select(StaffUser).where(StaffUser.username == username))
    matches = await _password_matches(user.password_hash if user else _unknown_user_hash(), password)
    now = utcnow()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        raise Unauthorized("sign-in refused: too many failed attempts; try again later")
    if user is None or not matches:
        if user is not None:
            await _count_failure(session, user.id, settings)
        raise Unauthorized("invalid username or password", keep_writes=True)
    if user.totp_enabled_at is not None:
        if not totp_code:
            raise Unauthorized("this account needs a TOTP code from its authenticator app")
        step = _matching_step(user.totp_secret, totp_code)
        spent = (
            step is not None
            and (
                await session.execute(
                    update(StaffUser)
                    .where(
                        StaffUser.id == user.id,
                        (StaffUser.totp_last_step.is_(None)) | (StaffUser.totp_last_step < step),
                    )
                    .values(totp_last_step=step)
                )
            ).rowcount
            == 1
        )
        if not spent:  # wrong, or already used: both count towards lock-out
            await _count_failure(session, user.id, settings)
            raise Unauthorized("the TOTP code is wrong or was already used", keep_writes=True)
    await session.execute(update(StaffUser).where(StaffUser.id == user.id).values(failed_sign_ins=0, locked_until=None))
    return staff_principal(user)


TOTP_ISSUER = "宁波市民政"


def _matching_step(secret: str, code: str) -> int | None:
    """The 30-second step the code belongs to, allowing one step of clock drift either way."""
    totp = pyotp.TOTP(secret)
    now_step = int(time.time()) // totp.interval
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


async def _staff_user(session: AsyncSession, principal: Principal) -> StaffUser:
    user = await session.scalar(select(StaffUser).where(StaffUser.username == principal.subject.removeprefix("staff:")))
    if principal.kind != "staff" or user is None:
        raise Forbidden("only a staff account can set up a second factor")
    return user


async def start_totp(
    session: AsyncSession, settings: GatewaySettings, principal: Principal, current_password: str | None = None
) -> tuple[str, str]:
    """A new secret, pending until confirmed with a first code; replaces any earlier one. Replacing one that is on
    turns it off until the new one is confirmed, so it takes the account's password: a bearer token alone (15
    minutes, or a refresh token found on a shared computer) must not be enough to remove or take over the factor."""
    user = await _staff_user(session, principal)
    if user.totp_enabled_at is not None:
        if not current_password:
            raise InvalidInput("current_password", "is required to replace a second factor that is on")
        await _check_current_password(session, settings, user, current_password)
    secret = pyotp.random_base32()
    user.totp_secret, user.totp_enabled_at, user.totp_last_step = secret, None, None
    await session.flush()
    return secret, pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)


async def confirm_totp(session: AsyncSession, principal: Principal, code: str) -> None:
    user = await _staff_user(session, principal)
    if user.totp_secret is None or user.totp_enabled_at is not None:
        raise Conflict("no second factor is waiting for confirmation; start one first", resource="staff/totp")
    step = _matching_step(user.totp_secret, code)
    if step is None:
        raise InvalidInput("code", "does not match the authenticator app; check the phone's clock")
    user.totp_enabled_at, user.totp_last_step = utcnow(), step
    await session.flush()


async def change_password(
    session: AsyncSession, settings: GatewaySettings, principal: Principal, current: str, new: str
) -> None:
    """The signed-in member of staff's own password. An account on its one-time password must confirm a second
    factor first; choosing the new password then gives it its role's scopes at the next sign-in."""
    user = await _staff_user(session, principal)
    await _check_current_password(session, settings, user, current)
    if user.must_set_credentials and user.totp_enabled_at is None:
        raise Conflict(
            "set up and confirm a second factor (POST /api/auth/v1/staff/totp) before the new password",
            resource="staff/password",
        )
    if new == current:
        raise InvalidInput("new_password", "must differ from the current password")
    user.password_hash, user.must_set_credentials = await hash_password(new), False
    await session.flush()
    # Every sign-in made with the old password ends: a refresh reads the account's rights of now, so a session
    # opened with a one-time password (no scope, no second factor) would otherwise come back as the full role once
    # its owner finished the set-up, and one opened with a stolen password would outlive its change.
    await revoke_sessions(session, principal.subject)


async def _check_current_password(
    session: AsyncSession, settings: GatewaySettings, user: StaffUser, password: str
) -> None:
    if not await _password_matches(user.password_hash, password):
        await _count_failure(session, user.id, settings)
        wrong = InvalidInput("current_password", "is not your current password")
        wrong.keep_writes = True  # the failure counts although the request is refused
        raise wrong


async def _count_failure(session: AsyncSession, user_id: int, settings: GatewaySettings) -> None:
    lock_until = utcnow() + dt.timedelta(seconds=settings.staff_lockout_s)
    # Increments in SQL, not in Python, so concurrent failures all count.
    await session.execute(
        update(StaffUser).where(StaffUser.id == user_id).values(failed_sign_ins=StaffUser.failed_sign_ins + 1)
    )
    await session.execute(
        update(StaffUser)
        .where(
            StaffUser.id == user_id,
            StaffUser.failed_sign_ins >= settings.staff_max_failed_sign_ins,
        )
        .values(locked_until=lock_until, failed_sign_ins=0)
    )


# Refresh tokens -----------------------------------------------------------------------------------


@dataclass
class IssuedRefresh:
    token: str
    expires_at: dt.datetime


async def issue_refresh(
    session: AsyncSession,
    principal: Principal,
    settings: GatewaySettings,
    *,
    family_id: str | None = None,
    parent_id: int | None = None,
) -> IssuedRefresh:
    token = new_secret()
    now = utcnow()
    expires = now + dt.timedelta(seconds=settings.refresh_token_lifetime_s)
    session.add(
        RefreshToken(
            token_hash=digest(token),
            family_id=family_id or secrets.token_hex(16),
            parent_id=parent_id,
            claims=principal.claims(),
            issued_at=now,
            expires_at=expires,
        )
    )
    await session.flush()
    return IssuedRefresh(token, expires)


async def _revoke_family(session: AsyncSession, family_id: str) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def rotate_refresh(
    session: AsyncSession, settings: GatewaySettings, token: str
) -> tuple[Principal, IssuedRefresh]:
    """Spend a refresh token for a new one in the same family. Presenting a spent one revokes the family."""
    row = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest(token)))
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized("invalid_grant: the refresh token is not valid")
    spent = await session.execute(
        update(RefreshToken).where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None)).values(used_at=now)
    )
    if spent.rowcount != 1:
        # Someone already used this token: either a thief or the owner; we cannot tell, so end them both.
        await _revoke_family(session, row.family_id)
        raise Unauthorized("invalid_grant: the refresh token was already used; sign in again", keep_writes=True)
    principal = await _current_principal(session, Principal.from_claims(row.claims))
    return principal, await issue_refresh(session, principal, settings, family_id=row.family_id, parent_id=row.id)


async def _current_principal(session: AsyncSession, signed_in: Principal) -> Principal:
    """The rights the account has now, not those it had when it signed in: a refresh never carries a
    withdrawn role or area forward."""
    if signed_in.kind == "staff":
        user = await session.scalar(
            select(StaffUser).where(StaffUser.username == signed_in.subject.removeprefix("staff:"))
        )
        if user is None:
            raise Unauthorized("invalid_grant: the account no longer exists", keep_writes=True)
        return staff_principal(user)
    if signed_in.kind == "resident":
        return Principal(subject=signed_in.subject, kind="resident", scopes=scopes_held_by("resident"))
    raise Unauthorized("invalid_grant: only people refresh their tokens", keep_writes=True)


async def revoke_sessions(session: AsyncSession, subject: str) -> None:
    """Revoke every refresh token of `subject` not revoked yet (all its sign-ins, on every device)."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.claims["sub"].as_string() == subject, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def sign_out(session: AsyncSession, token: str) -> None:
    row = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest(token)))
    if row is not None:
        await _revoke_family(session, row.family_id)


# Residents: phone and one-time code ---------------------------------------------------------------

CODE_LIFETIME = dt.timedelta(minutes=5)
CODE_MAX_ATTEMPTS = 5
CODE_RESEND_AFTER = dt.timedelta(seconds=60)
CODES_PER_HOUR = 5


def keyed_digest(key: str, value: str) -> str:
    """HMAC-SHA256: a phone number or a 6-digit code cannot be recovered by trying every value."""
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


async def request_code(session: AsyncSession, settings: GatewaySettings, sender, phone: str) -> None:
    phone_index = keyed_digest(settings.token_secret, phone)
    now = utcnow()
    recent = list(
        await session.scalars(
            select(OneTimeCode.created_at).where(
                OneTimeCode.phone_index == phone_index, OneTimeCode.created_at > now - dt.timedelta(hours=1)
            )
        )
    )
    if recent and max(recent) > now - CODE_RESEND_AFTER:
        raise TooManyRequests("a code was sent less than a minute ago; wait before asking again", retry_after=60)
    if len(recent) >= CODES_PER_HOUR:
        raise TooManyRequests("too many codes for this phone in the last hour", retry_after=3600)
    code = f"{secrets.randbelow(10**6):06d}"
    row = OneTimeCode(phone_index=phone_index, code_hash="", attempts=0, created_at=now, expires_at=now + CODE_LIFETIME)
    session.add(row)
    await session.flush()
    row.code_hash = keyed_digest(settings.token_secret, f"{row.id}:{code}")
    await session.flush()
    await sender.send(phone, code)


async def _spend_code(session: AsyncSession, settings: GatewaySettings, phone: str, code: str) -> str:
    """Spend the phone's latest code; its keyed digest once the code is right, 401 otherwise."""
    phone_index = keyed_digest(settings.token_secret, phone)
    now = utcnow()
    challenge = await session.scalar(
        select(OneTimeCode)
        .where(OneTimeCode.phone_index == phone_index, OneTimeCode.consumed_at.is_(None), OneTimeCode.expires_at > now)
        .order_by(OneTimeCode.created_at.desc())
        .limit(1)
    )
    refused = Unauthorized("the code is wrong or has expired; ask for a new one", keep_writes=True)
    if challenge is None:
        raise refused
    # Count the try first, in SQL and only while tries remain, so parallel guesses cannot exceed five.
    counted = await session.execute(
        update(OneTimeCode)
        .where(
            OneTimeCode.id == challenge.id,
            OneTimeCode.attempts < CODE_MAX_ATTEMPTS,
            OneTimeCode.consumed_at.is_(None),
        )
        .values(attempts=OneTimeCode.attempts + 1)
    )
    if counted.rowcount != 1 or not hmac.compare_digest(
        challenge.code_hash, keyed_digest(settings.token_secret, f"{challenge.id}:{code}")
    ):
        raise refused
    consumed = await session.execute(
        update(OneTimeCode)
        .where(OneTimeCode.id == challenge.id, OneTimeCode.consumed_at.is_(None))
        .values(consumed_at=now)
    )
    if consumed.rowcount != 1:
        raise refused
    return phone_index


def new_resident_subject() -> str:
    return f"resident:{secrets.token_hex(16)}"


async def resident_with_phone(
    session: AsyncSession, settings: GatewaySettings, phone: str, subject: str | None = None
) -> Resident:
    """The account of a phone, made the first time (with `subject`, or a new random one)."""
    phone_index = keyed_digest(settings.token_secret, phone)
    resident = await session.scalar(select(Resident).where(Resident.phone_index == phone_index))
    if resident is None:
        resident = Resident(
            subject=subject or new_resident_subject(),
            phone_index=phone_index,
            phone_masked=mask_phone(phone),
            created_at=utcnow(),
        )
        session.add(resident)
        await session.flush()
    return resident


async def sign_in_resident(session: AsyncSession, settings: GatewaySettings, phone: str, code: str) -> Principal:
    await _spend_code(session, settings, phone, code)
    return resident_principal(await resident_with_phone(session, settings, phone))


def resident_principal(resident: Resident) -> Principal:
    # The account's own subject, the same by SMS and by WeChat: no phone number or openid reaches tokens or
    # other services' records.
    return Principal(subject=resident.subject, kind="resident", scopes=scopes_held_by("resident"))


async def sign_in_wechat(
    session: AsyncSession,
    settings: GatewaySettings,
    provider,
    code: str,
    phone: str | None = None,
    sms_code: str | None = None,
) -> Principal:
    """By the openid alone once it is known. With a phone and its SMS code, the WeChat account is linked to the
    phone's account (made if new), so the person has one subject whichever way they sign in."""
    openid = await provider.openid_for(code)
    wechat_index = keyed_digest(settings.token_secret, f"wechat:{settings.wechat_appid}:{openid}")
    by_wechat = await session.scalar(select(Resident).where(Resident.wechat_index == wechat_index))
    if phone is None or sms_code is None:
        if by_wechat is None:
            by_wechat = Resident(subject=new_resident_subject(), wechat_index=wechat_index, created_at=utcnow())
            session.add(by_wechat)
            await session.flush()
        await notifications.remember_openid(session, by_wechat.subject, openid)
        return resident_principal(by_wechat)
    phone_index = await _spend_code(session, settings, phone, sms_code)
    by_phone = await session.scalar(select(Resident).where(Resident.phone_index == phone_index))
    # Refused before anything is written: the request rolls back, and the code may be used again.
    if by_wechat is not None and by_phone is not None and by_wechat.id != by_phone.id:
        raise Conflict("this WeChat account is already linked to another resident account")
    if by_phone is not None and by_phone.wechat_index not in (None, wechat_index):
        raise Conflict("this phone is already linked to another WeChat account")
    resident = by_phone or by_wechat
    if resident is None:
        resident = Resident(subject=new_resident_subject(), created_at=utcnow())
        session.add(resident)
    resident.phone_index, resident.phone_masked, resident.wechat_index = phone_index, mask_phone(phone), wechat_index
    await session.flush()
    await notifications.remember_openid(session, resident.subject, openid)
    return resident_principal(resident)
