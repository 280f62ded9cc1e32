"""One demo city: every service's demo people and places sit at standard addresses of the placenames registry,
checked against what the registry holds once its own demo data is loaded (not against a list written here)."""

import importlib

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.placenames.addresses.models import Address
from tests.conftest import service_database

# The services whose records store a place; each must have some at the registry's addresses.
SERVICES = ("eldercare", "assistance", "charity")


async def _loaded(service: str, backend: str, db_dir, read):
    """`read(session)` after the service's demo data is loaded, in a transaction rolled back afterwards."""
    database = await service_database(service, backend, db_dir)
    seed = importlib.import_module(f"services.{service}.seed")
    async with database.engine.connect() as connection:
        transaction = await connection.begin()
        try:
            session = AsyncSession(bind=connection, join_transaction_mode="create_savepoint")
            await seed.load(session)
            await session.flush()
            return await read(session)
        finally:
            await transaction.rollback()


async def _registry(session) -> dict[str, Address]:
    return {a.code: a for a in await session.scalars(select(Address).where(Address.status == "current"))}


async def _places(session, service: str) -> dict[str, list]:
    """Per table of the service that stores a place (it has `address` and `area_code`), its rows' address
    columns."""
    metadata = importlib.import_module(f"services.{service}.database").Base.metadata
    found = {}
    for table in metadata.sorted_tables:
        if {"address", "area_code"} <= set(table.c.keys()):
            columns = [c for c in ("address", "address_code", "address_status", "area_code") if c in table.c]
            found[table.name] = [
                r._mapping for r in (await session.execute(select(*(table.c[c] for c in columns)))).all()
            ]
    return found


async def test_every_services_demo_data_sits_at_addresses_the_registry_knows(backend, db_dir):
    registry = await _loaded("placenames", backend, db_dir, _registry)
    by_text = {a.full_name: a for a in registry.values()}
    checked = {}
    for service in SERVICES:
        for table, rows in (await _loaded(service, backend, db_dir, lambda s, sv=service: _places(s, sv))).items():
            for row in rows:
                place = registry.get(row["address_code"]) if "address_code" in row else by_text.get(row["address"])
                assert place is not None, (service, table, dict(row))
                assert row["address"] == place.full_name, (service, table, dict(row))
                area = place.community_code or place.township_code or place.district_code
                assert row["area_code"] == area, (service, table, dict(row), area)
                if "address_status" in row:
                    assert row["address_status"] == "standard", (service, table, dict(row))
                checked[f"{service}.{table}"] = checked.get(f"{service}.{table}", 0) + 1
    places = {"eldercare.elders", "eldercare.canteens", "eldercare.institutions", "eldercare.providers"}
    assert places | {"assistance.households"} <= set(checked), checked
