"""Every database's migrations: upgrade to head, downgrade to base and up again, on SQLite and PostgreSQL;
dated file names; and no difference between the models and what the migrations build.

This is the CI check of docs/operations.md: a migration that cannot be rolled back, or a model change
whose migration was forgotten, fails here before it reaches an operator. On PostgreSQL each database is
a temporary one of this test's own (`migcheck_<name>_<pid>`), so the test_* databases other tests use
are never touched, and two runs at once do not collide.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect

from services.manage import DATABASES
from shared import migrations
from shared.db import make_engine
from shared.settings import ROOT

DATED = re.compile(r"^\d{8}_[0-9a-f]+_\w+\.py$")

# SQLite cannot reflect expression-based indexes; PostgreSQL compares them, so nothing is lost.
pytestmark = [pytest.mark.filterwarnings("ignore:.*expression-based index:UserWarning"),
              pytest.mark.filterwarnings("ignore:.*expression-based index:sqlalchemy.exc.SAWarning")]


def package_of(name: str) -> str:
    return "gateway" if name == "gateway" else f"services.{name}"


def versions_dir(name: str):
    return ROOT / package_of(name).replace(".", "/") / "migrations" / "versions"


def model_metadata(name: str) -> MetaData:
    """The metadata with every `models` module of the package imported, not only those env.py names:
    a module env.py forgets would otherwise be invisible to autogenerate, and its tables never made."""
    package = importlib.import_module(package_of(name))
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if module.name.rsplit(".", 1)[-1] == "models":
            importlib.import_module(module.name)
    return importlib.import_module(f"{package_of(name)}.database").Base.metadata


async def _tables_and_diff(url: str, name: str, metadata: MetaData) -> tuple[set[str], list]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            def inspect_and_compare(sync_connection):
                tables = set(inspect(sync_connection).get_table_names())
                context = MigrationContext.configure(sync_connection, opts={
                    "version_table": f"alembic_version_{name}", "compare_type": True})
                return tables, compare_metadata(context, metadata)
            return await connection.run_sync(inspect_and_compare)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("name", DATABASES)
def test_migration_files_are_dated(name):
    files = [p.name for p in versions_dir(name).glob("*.py")]
    assert files, f"{name} has no migrations"
    undated = [f for f in files if not DATED.match(f)]
    assert not undated, f"migration files must be named YYYYMMDD_<rev>_<slug>.py: {undated}"


@pytest.mark.parametrize("name", DATABASES)
def test_upgrade_downgrade_upgrade_and_models_match(name, scratch_database):
    url = scratch_database(name)
    metadata = model_metadata(name)

    migrations.upgrade(name, url)
    tables, diff = asyncio.run(_tables_and_diff(url, name, metadata))
    assert set(metadata.tables) <= tables
    # A non-empty diff means a model changed without a migration (run ./dev manage revision NAME -m ...).
    assert diff == [], f"{name}: models and migrations differ:\n" + "\n".join(map(str, diff))

    migrations.downgrade(name, url, "base")
    tables, _ = asyncio.run(_tables_and_diff(url, name, metadata))
    # Only the version table may remain: every migration's downgrade undoes what its upgrade made.
    assert tables <= {f"alembic_version_{name}"}, f"{name}: left behind after downgrade: {tables}"

    migrations.upgrade(name, url)
    tables, diff = asyncio.run(_tables_and_diff(url, name, metadata))
    assert set(metadata.tables) <= tables and diff == []
