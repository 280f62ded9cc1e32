import pytest

from tests.conftest import client_for, service_database


@pytest.fixture
async def eldercare_db(backend, db_dir):
    return await service_database("eldercare", backend, db_dir)


@pytest.fixture
async def client(eldercare_db):
    async for c in client_for("eldercare", eldercare_db):
        yield c
