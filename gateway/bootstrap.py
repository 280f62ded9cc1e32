"""The first city administrator and a client for each service, on an empty gateway database (any ENV).

`python -m services.manage bootstrap` runs it (deploy/README.md says how production is brought up with it).
The administrator gets a one-time password and must confirm a second factor and choose a new password before
their tokens carry any scope (gateway.auth.service). Each service's client holds the service scopes; its
secret is the operator's `<SERVICE>_CLIENT_SECRET` when set, otherwise a new one handed back once.
A second run finds everything there and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import grants, service
from gateway.auth.models import OAuthClient, StaffUser
from gateway.scopes import load_all
from services import SERVICES
from shared.areas import CITY_CODE
from shared.db import utcnow
from shared.errors import DomainError, NotFound
from shared.identity import Principal
from shared.scopes import DECLARED, scopes_held_by
from shared.settings import PLACEHOLDER_MARKER

ADMIN_ROLE = "city"
MIN_SECRET_LENGTH = 32  # what the services' production settings accept (shared.settings)
# As for any staff account (gateway.auth.schemas.StaffAccountIn).
MIN_PASSWORD_LENGTH = 12
ADMIN_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")


def actor(command: str) -> Principal:
    """Who the grants audit names for an operator's command: it may grant every declared scope."""
    load_all()
    return Principal(subject=f"operator:manage {command}", kind="service", scopes=frozenset(DECLARED))


def secret_variable(client_id: str) -> str:
    return f"{client_id.upper().replace('-', '_')}_CLIENT_SECRET"


def operator_secret(variable: str, env: str, minimum: int, *, from_env: bool) -> str | None:
    """A secret the operator provides in the environment, held to what production accepts. With `from_env`
    (a job whose output is logged) it must be there: none is made to be printed."""
    value = os.environ.get(variable)
    if not value:
        if from_env:
            raise SystemExit(f"{variable} is not set (--from-env: every secret comes from the environment)")
        return None
    if env == "production" and (len(value) < minimum or PLACEHOLDER_MARKER in value):
        raise SystemExit(f"{variable} must be a real secret of at least {minimum} characters in production")
    return value


@dataclass
class Outcome:
    created: list[str] = field(default_factory=list)  # what was written, for the operator
    existing: list[str] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # variable -> value, the new ones only


async def bootstrap(session: AsyncSession, *, admin: str | None, env: str, from_env: bool = False) -> Outcome:
    """Creates what is missing: the administrator (only while no staff account exists at all) and each
    service's client. Nothing else is touched."""
    by = actor("bootstrap")
    outcome = Outcome()
    any_staff = await session.scalar(select(StaffUser.username).order_by(StaffUser.id).limit(1))
    if any_staff is not None:
        outcome.existing.append(f"staff accounts (first: {any_staff})")
    else:
        if not admin or not ADMIN_USERNAME.fullmatch(admin):
            raise SystemExit(
                "name the first administrator with --admin USERNAME (or BOOTSTRAP_ADMIN): 3 to 64 of "
                "a-z, 0-9, '.', '_', '-', beginning with a letter or digit"
            )
        password = operator_secret("BOOTSTRAP_ADMIN_PASSWORD", env, MIN_PASSWORD_LENGTH, from_env=from_env)
        if password is None:
            password = outcome.secrets["BOOTSTRAP_ADMIN_PASSWORD"] = service.new_secret()
        await _one_time_account(session, by, admin, f"{admin} (city administrator)", ADMIN_ROLE, CITY_CODE, password)
        outcome.created.append(
            f"created the city administrator {admin} (one-time password: a second factor and a "
            "new password are required at first sign-in)"
        )
    service_scopes = sorted(scopes_held_by("service"))
    for name in SERVICES:
        if await session.get(OAuthClient, name) is not None:
            outcome.existing.append(f"client {name}")
            continue
        variable = secret_variable(name)
        secret = operator_secret(variable, env, MIN_SECRET_LENGTH, from_env=from_env)
        if secret is None:
            secret = outcome.secrets[variable] = service.new_secret()
        session.add(
            OAuthClient(
                client_id=name,
                name=f"{name} service",
                kind="service",
                scopes=service_scopes,
                secret_hash=service.digest(secret),
                created_by=by.subject,
                created_at=utcnow(),
            )
        )
        await session.flush()
        await grants.record(session, by, "client.create", f"client:{name}", service_scopes)
        source = "a new secret" if variable in outcome.secrets else f"the secret in {variable}"
        outcome.created.append(f"registered the client {name} ({len(service_scopes)} service scopes, {source})")
    return outcome


async def rotate(session: AsyncSession, client_id: str, grace: dt.timedelta) -> Outcome:
    """A new secret for a client; the old one keeps working for `grace` (zero: it stops now)."""
    try:
        client, secret = await service.rotate_secret(session, actor("rotate-client-secret"), client_id, grace)
    except NotFound as missing:
        raise SystemExit(missing.detail) from None
    ends = "now" if grace <= dt.timedelta(0) else f"at {client.previous_secret_valid_until.isoformat()}"
    return Outcome(
        created=[f"rotated the secret of client {client_id}; the previous one stops working {ends}"],
        secrets={secret_variable(client_id): secret},
    )


async def _one_time_account(
    session: AsyncSession, by: Principal, username: str, display_name: str, role: str, area_code: str, password: str
) -> None:
    """A staff account on a one-time password: its tokens carry no scope until its holder has set up a second factor
    and chosen a new password (gateway.auth.service)."""
    service.validate_staff_area(role, area_code)
    session.add(
        StaffUser(
            username=username,
            display_name=display_name,
            password_hash=await service.hash_password(password),
            role=role,
            area_code=area_code,
            failed_sign_ins=0,
            must_set_credentials=True,
            created_at=utcnow(),
        )
    )
    await session.flush()
    await grants.record(session, by, "staff.create", f"staff:{username}", service.role_scopes(role), area_code)


async def create_staff(session: AsyncSession, username: str, *, role: str, area_code: str, name: str) -> Outcome:
    """A staff account made by the operator, on a one-time password: for an auditor (审计), whose scopes (the grants
    audit, the register of personal-data requests) no other staff member holds, so that none can make one through
    the API (a principal grants only what it holds)."""
    if not ADMIN_USERNAME.fullmatch(username):
        raise SystemExit("a username is 3 to 64 of a-z, 0-9, '.', '_', '-', beginning with a letter or digit")
    if role not in service.ROLE_HOLDERS:
        raise SystemExit(f"role {role!r} is not one of {', '.join(service.ROLE_HOLDERS)}")
    if await session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise SystemExit(f"staff account {username} already exists")
    password = service.new_secret()
    try:
        await _one_time_account(session, actor("create-staff"), username, name, role, area_code, password)
    except DomainError as refused:
        raise SystemExit(refused.detail) from None
    return Outcome(
        created=[
            f"created the {role} {username} of {area_code} (one-time password: a second factor and a new password "
            "are required at first sign-in)"
        ],
        secrets={f"{username.upper().replace('-', '_').replace('.', '_')}_ONE_TIME_PASSWORD": password},
    )


async def register(session: AsyncSession, client_id: str, *, kind: str, name: str, scopes: list[str]) -> Outcome:
    """A client registered by the operator. A principal grants only scopes it holds, and some are held by no staff
    member: a partner department's (`assistance.signals:write`), a service's (`notifications.contacts:read`). The
    catalogue's holders are checked as for any grant: a staff-only scope is refused whoever asks."""
    try:
        client, secret = await service.create_client(
            session, actor("register-client"), client_id=client_id, name=name, kind=kind, scopes=scopes
        )
    except DomainError as refused:
        raise SystemExit(refused.detail) from None
    return Outcome(
        created=[f"registered the {kind} client {client_id} ({', '.join(client.scopes)})"],
        secrets={secret_variable(client_id): secret},
    )


async def rescope(session: AsyncSession, client_id: str, scopes: list[str]) -> Outcome:
    """A client's scopes set by the operator: a scope added to the catalogue for services reaches the services'
    clients this way (`bootstrap` registers them once and never changes them), as do partner-only scopes."""
    try:
        client = await service.set_client_scopes(session, actor("client-scopes"), client_id, scopes)
    except DomainError as refused:
        raise SystemExit(refused.detail) from None
    return Outcome(created=[f"client {client_id} now holds: {', '.join(client.scopes)}"])


def render(secrets: dict[str, str], k8s_secret: str | None) -> str:
    """An env file (KEY=value lines, as compose's .env reads them), or a Kubernetes Secret manifest.

    The manifest is JSON, which is YAML too (kubectl applies it as it is): the production image has no YAML
    library, and the first real container run (./dev rehearse) failed on one imported here."""
    if k8s_secret:
        return (
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": k8s_secret},
                    "type": "Opaque",
                    "stringData": dict(secrets),
                },
                indent=2,
            )
            + "\n"
        )
    return "".join(f"{key}={value}\n" for key, value in secrets.items())


def write_private(path: str, text: str) -> None:
    """Created readable by its owner only (0600), and never over an existing file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
