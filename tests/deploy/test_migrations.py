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
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.exc import IntegrityError

from services.manage import DATABASES
from shared import migrations
from shared.db import make_engine
from shared.settings import ROOT

DATED = re.compile(r"^\d{8}_[0-9a-f]+_\w+\.py$")

# SQLite cannot reflect expression-based indexes; PostgreSQL compares them, so nothing is lost.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*expression-based index:UserWarning"),
    pytest.mark.filterwarnings("ignore:.*expression-based index:sqlalchemy.exc.SAWarning"),
]


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
                context = MigrationContext.configure(
                    sync_connection, opts={"version_table": f"alembic_version_{name}", "compare_type": True}
                )
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


@pytest.mark.postgresql_only
def test_bounds_added_to_a_database_that_already_holds_rows_past_them_do_not_stop_the_upgrade(
    backend, scratch_database
):
    """docs/operations.md: an upgrade must never fail on old data. A row written before the bounds (a subsidy
    rate of 10 million yuan) stays, the upgrade goes through, and a new row past the bound is refused."""
    url = scratch_database("eldercare")
    migrations.upgrade("eldercare", url, "df876fca819b")  # the revision before the bounds
    insert = (
        "INSERT INTO meal_subsidy_rates (tier, district_code, effective_on, amount_fen, citation, is_assumption, "
        "created_by, created_at) "
        "VALUES ('dibao', :district, '2026-01-01', 1000000000, 'test', false, 'test', now())"
    )

    async def write(district: str) -> None:
        engine = make_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.execute(text(insert), {"district": district})
        finally:
            await engine.dispose()

    asyncio.run(write("330212"))
    migrations.upgrade("eldercare", url)
    with pytest.raises(IntegrityError, match="ck_meal_subsidy_rates_amount_fen_bounded"):
        asyncio.run(write("330203"))
