"""The demo data (3,200 divisions, 300 place names, the demo city's addresses) is committed once and shared by the tests that read it,
instead of being loaded again inside each test's rolled-back transaction. Tests of the loader itself
(test_divisions) get the tables empty. A concurrency test's clean-up empties every table; the next test
loads the data again."""

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.placenames import seed
from services.placenames.addresses.models import Address
from services.placenames.divisions.models import Division, DivisionFormerName
from services.placenames.names.models import PlaceName
from tests.conftest import service_database

EMPTY_MODULES = {"tests.placenames.test_divisions"}


@pytest.fixture(autouse=True)
async def _demo_data(request, backend, db_dir):
    database = await service_database("placenames", backend, db_dir)
    async with AsyncSession(database.engine) as session:
        loaded = await session.scalar(select(func.count()).select_from(PlaceName))
        if request.module.__name__ in EMPTY_MODULES:
            if loaded or await session.scalar(select(func.count()).select_from(Division)):
                await session.execute(delete(Address))  # the demo city's, on the names
                await session.execute(delete(PlaceName))
                await session.execute(delete(DivisionFormerName))
                await session.execute(delete(Division))
        elif not loaded:
            await seed.load(session)
        await session.commit()
