"""Alembic, one environment per database: `services/<name>/migrations` (the gateway's: `gateway/migrations`),
version table `alembic_version_<name>`.

Each service's `migrations/env.py` calls `run_environment(metadata)`; the rest (URL from the service's
settings, the async engine, batch mode for SQLite's ALTER TABLE) lives here once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import Column, Float, MetaData, String, event, text
from sqlalchemy.engine import Connection

from shared import notifications as notifications_outbox
from shared.db import make_engine, new_metadata
from shared.jobs import jobs_table
from shared.settings import ROOT
from shared.spreadsheet_transfers import spreadsheets_table


def alembic_config(service_name: str, database_url: str) -> Config:
    if database_url.startswith("sqlite"):
        Path(database_url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    config = Config()
    home = ROOT / "gateway" if service_name == "gateway" else ROOT / "services" / service_name
    config.set_main_option("script_location", str(home / "migrations"))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["service_name"] = service_name
    return config


def upgrade(service_name: str, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service_name, database_url), revision)


def downgrade(service_name: str, database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(service_name, database_url), revision)


def _run_sync(connection: Connection, metadata: MetaData, version_table: str) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=version_table,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    sqlite = connection.dialect.name == "sqlite"
    with context.begin_transaction():
        # Foreign keys are off while the migrations run on SQLite (see _run_async): they are checked at the end,
        # and the run refused if it left a row pointing nowhere that was not there before.
        dangling = _dangling(connection) if sqlite else set()
        context.run_migrations()
        if sqlite:
            broken = _dangling(connection) - dangling
            if broken:
                raise RuntimeError(f"the migrations left rows whose foreign keys point nowhere: {sorted(broken)[:5]}")


def _dangling(connection: Connection) -> set[tuple[Any, ...]]:
    """(table, rowid, referred table) of each row whose foreign key points nowhere (SQLite)."""
    return {tuple(row[:3]) for row in connection.exec_driver_sql("PRAGMA foreign_key_check")}


async def _run_async(url: str, metadata: MetaData, version_table: str) -> None:
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        # SQLite's way to change a table (batch mode: build a new one, drop the old, rename) drops a table other
        # rows refer to, which foreign keys refuse; and the pragma is ignored inside a transaction. So, as SQLite's
        # ALTER TABLE documentation says, they are off for the run and checked before it commits (_run_sync).
        @event.listens_for(engine.sync_engine, "connect")
        def _foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:  # the driver's own connection
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys = OFF")
            cursor.close()

    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync, metadata, version_table)
            await connection.commit()
    finally:
        await engine.dispose()


def run_environment(metadata: MetaData) -> None:
    """Body of every service's env.py (online mode only: migrations always run against a database)."""
    config = context.config
    version_table = f"alembic_version_{config.attributes['service_name']}"
    connection = config.attributes.get("connection")
    if connection is not None:  # handed in by a caller that already holds a connection
        _run_sync(connection, metadata, version_table)
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic's configuration names no sqlalchemy.url to migrate")
    asyncio.run(_run_async(url, metadata, version_table))


def add_checks(checks: dict[str, dict[str, str]]) -> None:
    """Add CHECK constraints, `{table: {name: condition}}` (full names, as the naming convention makes them).

    PostgreSQL adds each to its table NOT VALID: new rows are checked, the rows already there are not (an
    upgrade must not fail on old data). SQLite cannot add a constraint to a table: batch mode rebuilds it
    (foreign keys are off for a run on SQLite, see _run_async), with every trigger set aside meanwhile, since
    renaming the rebuilt table breaks a trigger that names it."""
    _alter_checks(checks, add=True)


def drop_checks(checks: dict[str, dict[str, str]]) -> None:
    """The downgrade of `add_checks(checks)`."""
    _alter_checks(checks, add=False)


@contextmanager
def sqlite_triggers_set_aside() -> Iterator[None]:
    """SQLite rebuilds a table to change it (batch mode), and renaming the rebuilt table breaks every trigger
    that names it: the triggers are dropped meanwhile and the very same ones made again afterwards."""
    triggers: list[tuple[str, str]] = []
    if op.get_bind().dialect.name == "sqlite":
        rows = op.get_bind().execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
        triggers = [(name, sql) for name, sql in rows]
        for name, _sql in triggers:
            op.execute(f'DROP TRIGGER "{name}"')
    yield
    for _name, sql in triggers:
        op.execute(sql)


def _alter_checks(checks: dict[str, dict[str, str]], *, add: bool) -> None:
    with sqlite_triggers_set_aside():
        _alter_checks_of(checks, add=add, sqlite=op.get_bind().dialect.name == "sqlite")


def _alter_checks_of(checks: dict[str, dict[str, str]], *, add: bool, sqlite: bool) -> None:
    for table, constraints in checks.items():
        if add and not sqlite:
            # NOT VALID: rows written from now on are checked, rows already there are not, so an upgrade never
            # fails on old data (docs/operations.md, "Tightening"). A later release VALIDATEs them once the
            # rows they name are corrected.
            for name, condition in constraints.items():
                op.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{op.f(name)}" CHECK ({condition}) NOT VALID')
            continue
        with op.batch_alter_table(table) as batch:
            for name, condition in constraints.items():
                if add:
                    batch.create_check_constraint(op.f(name), condition)
                else:
                    batch.drop_constraint(op.f(name), type_="check")


def make_append_only(table: str, *, prefix: str) -> None:
    """Refuse UPDATE and DELETE on an audit table, on both backends (a constraint failure: PostgreSQL's 23514,
    SQLite's RAISE(ABORT) reported as an IntegrityError). `prefix` keeps PostgreSQL's function name unique to the
    service. TRUNCATE fires no row trigger: the test harness empties tables with it, and only the owner may."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""CREATE FUNCTION {prefix}_{table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '{table} is append-only: % refused', TG_OP USING ERRCODE = '23514';
END $$""")
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {prefix}_{table}_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def drop_append_only(table: str, *, prefix: str) -> None:
    """The downgrade of `make_append_only`."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute(f"DROP FUNCTION {prefix}_{table}_append_only()")
    else:
        op.execute(f"DROP TRIGGER {table}_no_update")
        op.execute(f"DROP TRIGGER {table}_no_delete")


def add_standard_address(table: str, *, with_coordinates: bool = False, had_address: bool = True) -> None:
    """The columns of `shared.addresses.StandardAddress` on a table that kept free text in `address` and a typed
    `area_code`. Its rows become pending with their text kept as written: the job `addresses.standardise` gives
    them their standard address (or marks them unresolved for staff), as it does for a write made while
    placenames was down. `with_coordinates`: the table has no latitude and longitude yet. `had_address`: false
    when the table kept no address at all; its rows get an empty one, unresolved, for staff to give."""
    with sqlite_triggers_set_aside(), op.batch_alter_table(table) as batch:
        if not had_address:
            batch.add_column(Column("address", String(200), nullable=False, server_default=""))
        batch.add_column(Column("address_written", String(200)))
        batch.add_column(Column("address_code", String(20)))
        batch.add_column(Column("address_status", String(16), nullable=False, server_default="pending"))
        if with_coordinates:
            batch.add_column(Column("latitude", Float))
            batch.add_column(Column("longitude", Float))
        batch.create_index(f"ix_{table}_address_code", ["address_code"])
        batch.create_index(f"ix_{table}_address_status_id", ["address_status", "id"])
    if had_address:
        op.execute(f"UPDATE {table} SET address_written = address")
    else:
        op.execute(f"UPDATE {table} SET address_status = 'unresolved'")
    checks = {
        "address_status_known": "address_status IN ('standard', 'pending', 'unresolved')",
        "standard_address_coded": "address_status <> 'standard' OR address_code IS NOT NULL",
    }
    if with_coordinates:
        checks |= {
            "latitude_range": "latitude IS NULL OR (latitude BETWEEN -90 AND 90)",
            "longitude_range": "longitude IS NULL OR (longitude BETWEEN -180 AND 180)",
        }
    add_checks({table: {f"ck_{table}_{name}": condition for name, condition in checks.items()}})


def drop_standard_address(table: str, *, with_coordinates: bool = False, had_address: bool = True) -> None:
    """The downgrade of `add_standard_address`: the text as written goes back into `address`."""
    if had_address:
        op.execute(f"UPDATE {table} SET address = address_written WHERE address_written IS NOT NULL")
    names = ["address_status_known", "standard_address_coded"]
    if with_coordinates:
        names += ["latitude_range", "longitude_range"]
    drop_checks({table: {f"ck_{table}_{name}": "" for name in names}})
    with sqlite_triggers_set_aside(), op.batch_alter_table(table) as batch:
        batch.drop_index(f"ix_{table}_address_status_id")
        batch.drop_index(f"ix_{table}_address_code")
        for column in ("address_written", "address_code", "address_status"):
            batch.drop_column(column)
        if with_coordinates:
            batch.drop_column("latitude")
            batch.drop_column("longitude")
        if not had_address:
            batch.drop_column("address")


def create_jobs_table(bind: Connection) -> None:
    """The `jobs` table as shared/jobs.py defines it today; a later change to it comes with its own migration."""
    jobs_table(new_metadata()).create(bind)


def drop_jobs_table(bind: Connection) -> None:
    jobs_table(new_metadata()).drop(bind)


def create_spreadsheets_table(bind: Connection) -> None:
    """The `spreadsheets` table as shared/spreadsheet_transfers.py defines it today; a later change to it comes with
    its own migration."""
    spreadsheets_table(new_metadata()).create(bind)


def drop_spreadsheets_table(bind: Connection) -> None:
    spreadsheets_table(new_metadata()).drop(bind)


def create_outbox_tables(bind: Connection) -> None:
    """The notification outbox as shared/notifications.py defines it today (`notifications`, its deliveries)."""
    metadata = new_metadata()
    notifications_outbox.outbox_tables(metadata)
    metadata.create_all(bind)


def drop_outbox_tables(bind: Connection) -> None:
    metadata = new_metadata()
    notifications_outbox.outbox_tables(metadata)
    metadata.drop_all(bind)
