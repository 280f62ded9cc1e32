"""The gateway in front of a real eldercare server with a database of its own (these tests write)."""

import asyncio

import pytest

from services.eldercare.main import create_app as create_eldercare
from shared import migrations
from tests.conftest import service_database, settings_for
from tests.gateway.conftest import free_port, gateway_client, serve_in_background


@pytest.fixture(scope="module")
async def eldercare_url(tmp_path_factory):
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('security') / 'eldercare.db'}"
    await asyncio.to_thread(migrations.upgrade, "eldercare", url)
    port = free_port()
    server, _task = await serve_in_background(create_eldercare(settings_for("eldercare", url)), port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True


@pytest.fixture
async def front_door(eldercare_url, db_dir):
    database = await service_database("gateway", "sqlite", db_dir)
    async for client in gateway_client(database, upstream_eldercare=eldercare_url):
        yield client
