"""Alembic, one environment per database: `services/<name>/migrations` (the gateway's: `gateway/migrations`),
version table `alembic_version_<name>`.

Each service's `migrations/env.py` calls `run_environment(metadata)`; the rest (URL from the service's
settings, the async engine, batch mode for SQLite's ALTER TABLE) lives here once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from shared.db import make_engine
from shared.settings import ROOT


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
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str, metadata: MetaData, version_table: str) -> None:
    engine = make_engine(url)
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
    asyncio.run(_run_async(config.get_main_option("sqlalchemy.url"), metadata, version_table))
