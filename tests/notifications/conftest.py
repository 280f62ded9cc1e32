"""The suite for notification tests, over real loopback ports: the gateway (seeded: demo accounts, the services'
clients) in front of eldercare (its demo data) and assistance, each on its own database inside an outer
transaction rolled back afterwards; the SMS provider and WeChat are fakes on loopback. The services' workers are
run in the test process (tests/jobs.run_jobs) and reach the gateway for contacts as in production."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from gateway import seed as gateway_seed
from gateway.app import create_app as create_gateway
from gateway.principals import DEMO_PRINCIPALS, issue_token
from gateway.settings import GatewaySettings
from services.assistance.main import create_app as create_assistance
from services.assistance.notices import outbox as assistance_outbox
from services.eldercare import seed as eldercare_seed
from services.eldercare.main import create_app as create_eldercare
from services.eldercare.notices import outbox as eldercare_outbox
from shared.db import Database
from tests.conftest import service_database, settings_for
from tests.shared.loopback import free_port, serve_in_background

SMS_TEMPLATES = {
    "sign_in_code": "2000001",
    "call.raised": "2000101",
    "call.answered": "2000102",
    "call.closed": "2000103",
    "application.step": "2000201",
    "application.decided": "2000202",
}
WECHAT_TEMPLATES = {"call.raised": "wx-tpl-call-raised", "call.closed": "wx-tpl-call-closed"}


@dataclass
class Suite:
    gateway: httpx.AsyncClient
    gateway_app: object
    eldercare: object  # the FastAPI apps, for running their workers
    assistance: object

    def bearer(self, principal: str) -> dict[str, str]:
        token = issue_token(DEMO_PRINCIPALS[principal], self.gateway_app.settings.token_secret, 600)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def suite(backend, db_dir, fake_sms, fake_wechat_messages, monkeypatch):
    gateway_port = free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    for name, value in (
        fake_sms.environment(SMS_TEMPLATES) | fake_wechat_messages.environment(WECHAT_TEMPLATES)
    ).items():
        monkeypatch.setenv(name, value)
    for service in ("ELDERCARE", "ASSISTANCE"):  # the workers reach the gateway as their services do
        monkeypatch.setenv(f"{service}_GATEWAY_URL", gateway_url)
        monkeypatch.delenv(f"{service}_PEER_TOKEN", raising=False)
    for outbox in (eldercare_outbox, assistance_outbox):
        await outbox.close_channels()  # made again from this test's environment
    servers = []
    connections = []
    try:
        apps = {}
        for service, create in (("eldercare", create_eldercare), ("assistance", create_assistance)):
            database = await service_database(service, backend, db_dir)
            connection = await database.engine.connect()
            connections.append((connection, await connection.begin()))
            app = create(settings_for(service, database.url))
            app.state.database = Database(database.url, bind=connection)
            if service == "eldercare":
                async with app.state.database.sessionmaker() as session, session.begin():
                    await eldercare_seed.load(session)
            port = free_port()
            servers.append(await serve_in_background(app, port))
            apps[service] = (app, f"http://127.0.0.1:{port}")
        gateway_database = await service_database("gateway", backend, db_dir)
        connection = await gateway_database.engine.connect()
        connections.append((connection, await connection.begin()))
        settings = GatewaySettings(
            env="test",
            database_url=gateway_database.url,
            upstream_eldercare=apps["eldercare"][1],
            upstream_assistance=apps["assistance"][1],
            rate_limits=GatewaySettings().rate_limits | {"sign-in": "100/1000"},
            # WeChat sign-in (jscode2session) on the same fake WeChat as the subscription messages
            wechat_api_base=fake_wechat_messages.url,
            wechat_appid=fake_wechat_messages.APPID,
            wechat_secret=fake_wechat_messages.SECRET,
        )
        gateway = create_gateway(settings)
        gateway.local_app.state.database = Database(gateway_database.url, bind=connection)
        async with gateway.local_app.state.database.sessionmaker() as session, session.begin():
            await gateway_seed.load(session)
        servers.append(await serve_in_background(gateway, gateway_port))
        async with httpx.AsyncClient(base_url=gateway_url, timeout=60) as client:
            yield Suite(client, gateway, apps["eldercare"][0], apps["assistance"][0])
    finally:
        for server, task in reversed(servers):
            server.should_exit = True
            await task
        for outbox in (eldercare_outbox, assistance_outbox):
            await outbox.close_channels()
        for connection, transaction in connections:
            await transaction.rollback()
            await connection.close()
