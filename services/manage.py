"""Operator commands for the services: migrate, revision, seed, re-encrypt.

python -m services.manage migrate [SERVICE ...]       upgrade each service's database to head
python -m services.manage downgrade SERVICE REVISION
python -m services.manage revision SERVICE -m MESSAGE  autogenerate a migration from the models
python -m services.manage seed [SERVICE ...]           load demo data (idempotent)
python -m services.manage prepare [SERVICE ...]        migrate, then load demo data, in one process
python -m services.manage reencrypt [SERVICE ...]      move personal data to PII_ACTIVE_KEY (key rotation)
python -m services.manage bootstrap --admin USERNAME [--from-env] [--secrets-file PATH] [--k8s-secret NAME]
                             the first city administrator and each service's client (idempotent)
python -m services.manage rotate-client-secret CLIENT [--grace SECONDS] [--secrets-file PATH] [--k8s-secret NAME]
python -m services.manage register-client CLIENT SCOPE ... [--kind partner|service] [--name NAME] [--secrets-file PATH]
                             a client with scopes no staff member holds (a partner department's signals)
python -m services.manage client-scopes CLIENT SCOPE ...   set a client's scopes (a scope new to the services)
python -m services.manage create-staff USERNAME [--role auditor] [--area CODE] [--name NAME] [--secrets-file PATH]
                             a staff account on a one-time password, for a role no staff member can grant (auditor)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib
import os
import sys

from alembic import command

from services import SERVICES
from shared import migrations, pii
from shared.areas import CITY_CODE
from shared.db import Database

# Every database of the suite: the four services' and the gateway's (sign-in, clients, tokens).
DATABASES = [*SERVICES, "gateway"]


def _package(name: str) -> str:
    return "gateway" if name == "gateway" else f"services.{name}"


def settings_of(service: str):
    module = importlib.import_module(f"{_package(service)}.settings")
    return getattr(module, f"{service.capitalize()}Settings")()


async def _seed(service: str) -> None:
    seed = importlib.import_module(f"{_package(service)}.seed")
    database = Database(settings_of(service).database_url)
    try:
        async with database.sessionmaker() as session, session.begin():
            created = await seed.load(session)
    finally:
        await database.dispose()
    print(f"{service}: demo data loaded ({created} new rows)")


async def _load_reference() -> None:
    """The division tree and the standard names ship with the code (shared/data, services/placenames/data): every
    migration brings placenames' register up to them, in production too, where no demo data is ever loaded.
    Without it a new installation could not issue or standardise a single address."""
    from services.placenames import seed

    database = Database(settings_of("placenames").database_url)
    try:
        async with database.sessionmaker() as session, session.begin():
            created = await seed.load_reference(session)
    finally:
        await database.dispose()
    print(f"placenames: reference data up to date ({created} new rows)")


async def _reencrypt(service: str) -> None:
    """Every encrypted value under the active key, in one transaction per database; safe to repeat.

    A service with its own `pii.reencrypt_all` (values inside JSON, append-only tables) uses it; otherwise
    every table of its models with an encrypted column is rewritten.
    """
    package = _package(service)
    database = Database(settings_of(service).database_url)
    try:
        async with database.sessionmaker() as session, session.begin():
            try:
                reencrypt_all = importlib.import_module(f"{package}.pii").reencrypt_all
            except ModuleNotFoundError:
                counts = await _reencrypt_tables(session, package)
            else:
                counts = await reencrypt_all(session)
    finally:
        await database.dispose()
    changed = ", ".join(f"{table} {n}" for table, n in counts.items() if n) or "nothing to move"
    print(f"{service}: re-encrypted under key {pii.keyring().active!r} ({changed})")


async def _reencrypt_tables(session, package: str) -> dict[str, int]:
    importlib.import_module(f"{package}.main" if package != "gateway" else "gateway.app")  # every model loaded
    metadata = importlib.import_module(f"{package}.database").Base.metadata
    return {
        table.name: await pii.reencrypt(session, table)
        for table in metadata.sorted_tables
        if any(isinstance(column.type, pii.EncryptedColumn) for column in table.columns)
    }


async def _grant(args) -> None:
    """The operator's grants on the gateway's database (bootstrap, rotate-client-secret, register-client,
    client-scopes, create-staff). New secrets go to the operator's file (written before the commit, so a failed
    write writes nothing) or, after the commit, to stdout: once, and never to a log."""
    from gateway import bootstrap

    settings = settings_of("gateway")
    database = Database(settings.database_url)
    written = False
    try:
        async with database.sessionmaker() as session, session.begin():
            if args.command == "bootstrap":
                outcome = await bootstrap.bootstrap(session, admin=args.admin, env=settings.env, from_env=args.from_env)
            elif args.command == "register-client":
                outcome = await bootstrap.register(
                    session, args.client, kind=args.kind, name=args.name or args.client, scopes=args.scopes
                )
            elif args.command == "create-staff":
                outcome = await bootstrap.create_staff(
                    session, args.username, role=args.role, area_code=args.area, name=args.name or args.username
                )
            elif args.command == "client-scopes":
                outcome = await bootstrap.rescope(session, args.client, args.scopes)
            else:
                outcome = await bootstrap.rotate(session, args.client, dt.timedelta(seconds=args.grace))
            if outcome.secrets and args.secrets_file:
                bootstrap.write_private(args.secrets_file, bootstrap.render(outcome.secrets, args.k8s_secret))
                written = True
    except BaseException:
        if written:
            os.unlink(args.secrets_file)
        raise
    finally:
        await database.dispose()
    if not outcome.created:
        print("already bootstrapped: " + "; ".join(outcome.existing) + " (nothing changed)")
        return
    # With a manifest on stdout (to pipe into kubectl apply -f -), the report goes to stderr.
    report = sys.stderr if outcome.secrets and args.k8s_secret and not args.secrets_file else sys.stdout
    for line in outcome.created:
        print(line, file=report)
    if not outcome.secrets:
        return
    if written:
        print(f"secrets written to {args.secrets_file} (mode 0600): {', '.join(outcome.secrets)}", file=report)
    elif args.k8s_secret:
        print(bootstrap.render(outcome.secrets, args.k8s_secret), end="")
    else:
        print("# Shown once, never stored in the clear: keep them in your secret store now.")
        print(bootstrap.render(outcome.secrets, None), end="")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.manage")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("migrate", "seed", "prepare", "reencrypt"):
        p = sub.add_parser(name)
        p.add_argument("services", nargs="*", metavar="DATABASE", help=f"default: all of {', '.join(DATABASES)}")
    p = sub.add_parser("downgrade")
    p.add_argument("service", choices=DATABASES)
    p.add_argument("revision")
    p = sub.add_parser("revision")
    p.add_argument("service", choices=DATABASES)
    p.add_argument("-m", "--message", required=True)
    p = sub.add_parser("bootstrap", help="the first city administrator and a client for each service")
    p.add_argument(
        "--admin",
        default=os.environ.get("BOOTSTRAP_ADMIN"),
        help="username of the first administrator (default: $BOOTSTRAP_ADMIN)",
    )
    p.add_argument(
        "--from-env",
        action="store_true",
        help="take the administrator's one-time password and every client secret from the environment "
        "(BOOTSTRAP_ADMIN_PASSWORD, <SERVICE>_CLIENT_SECRET) and make none: for jobs, whose output "
        "is logged",
    )
    p = sub.add_parser("rotate-client-secret", help="a new secret for a client (e.g. a service)")
    p.add_argument("client")
    p.add_argument(
        "--grace",
        type=int,
        default=None,
        metavar="SECONDS",
        help="how long the old secret keeps working (default: GATEWAY_SECRET_ROTATION_GRACE_S, 24 h)",
    )
    # Scopes no staff member holds, so none can grant them through the API (a principal grants only what it holds).
    p = sub.add_parser("register-client", help="a partner's or a service's client, with any scope its kind may hold")
    p.add_argument("client", help="its client_id")
    p.add_argument("scopes", nargs="+", metavar="SCOPE")
    p.add_argument("--kind", choices=("partner", "service"), default="partner")
    p.add_argument("--name", help="what the client is, e.g. the partner department (default: its client_id)")
    p = sub.add_parser("client-scopes", help="set a client's scopes (e.g. a scope new to the services)")
    p.add_argument("client")
    p.add_argument("scopes", nargs="+", metavar="SCOPE")
    p.set_defaults(secrets_file=None, k8s_secret=None)  # it makes no secret
    p = sub.add_parser("create-staff", help="a staff account on a one-time password (an auditor, say)")
    p.add_argument("username")
    p.add_argument("--role", default="auditor")
    p.add_argument("--area", default=CITY_CODE, help=f"the division the person works for (default: {CITY_CODE})")
    p.add_argument("--name", help="the person's name as staff see it (default: the username)")
    for p in (
        sub.choices["bootstrap"],
        sub.choices["rotate-client-secret"],
        sub.choices["register-client"],
        sub.choices["create-staff"],
    ):
        p.add_argument(
            "--secrets-file", metavar="PATH", help="write new secrets to PATH (created 0600; must not exist)"
        )
        p.add_argument("--k8s-secret", metavar="NAME", help="as a Kubernetes Secret manifest named NAME (YAML)")
    args = parser.parse_args(argv)
    if args.command in ("bootstrap", "rotate-client-secret", "register-client", "client-scopes", "create-staff"):
        if args.secrets_file and os.path.exists(args.secrets_file):
            parser.error(f"--secrets-file {args.secrets_file} exists; name a new file")
        if args.command == "rotate-client-secret" and args.grace is None:
            args.grace = settings_of("gateway").secret_rotation_grace_s
        asyncio.run(_grant(args))
        return
    if args.command in ("migrate", "seed", "prepare", "reencrypt"):
        unknown = set(args.services) - set(DATABASES)
        if unknown:
            parser.error(f"unknown database(s): {', '.join(sorted(unknown))}")
        args.services = args.services or list(DATABASES)

    if args.command in ("migrate", "prepare"):
        for service in args.services:
            migrations.upgrade(service, settings_of(service).database_url)
            print(f"{service}: migrated")
            if service == "placenames":
                asyncio.run(_load_reference())
    elif args.command == "downgrade":
        migrations.downgrade(args.service, settings_of(args.service).database_url, args.revision)
    elif args.command == "revision":
        config = migrations.alembic_config(args.service, settings_of(args.service).database_url)
        command.revision(config, message=args.message, autogenerate=True)
    if args.command in ("seed", "prepare"):
        for service in args.services:
            asyncio.run(_seed(service))
    if args.command == "reencrypt":
        for service in args.services:
            asyncio.run(_reencrypt(service))


if __name__ == "__main__":
    main()
