"""A service's token from the gateway's client-credentials endpoint: fetched once, shared, renewed."""

import asyncio
import ssl

import pytest

from gateway import seed as gateway_seed
from gateway.app import create_app
from gateway.settings import GatewaySettings
from shared.peer import PeerUnavailable, tls_context
from shared.service_token import ClientCredentialsToken
from tests.conftest import _empty_tables, service_database
from tests.gateway.conftest import free_port, serve_in_background


@pytest.fixture
async def gateway_url(db_dir):
    database = await service_database("gateway", "sqlite", db_dir)
    port = free_port()
    app = create_app(GatewaySettings(env="test", database_url=database.url))
    server, _task = await serve_in_background(app, port)
    async with app.local_app.state.database.sessionmaker() as session, session.begin():
        await gateway_seed.load(session)
    url = f"http://127.0.0.1:{port}"
    # One token first, with time to spare: a cold gateway's first answer (what it loads on first use) took more
    # than the providers' 2 s timeout on a loaded machine, and the tests are about the providers, not that.
    await ClientCredentialsToken(url, "eldercare", gateway_seed.dev_client_secret("eldercare"), timeout_s=60)()
    yield url
    server.should_exit = True
    await _empty_tables("gateway", database)


async def test_the_token_is_fetched_once_and_shared_by_concurrent_callers(gateway_url):
    provider = ClientCredentialsToken(gateway_url, "eldercare", gateway_seed.dev_client_secret("eldercare"))
    tokens = await asyncio.gather(*(provider() for _ in range(20)))
    assert len(set(tokens)) == 1 and provider.fetches == 1
    assert await provider() == tokens[0] and provider.fetches == 1


async def test_a_token_close_to_expiry_is_renewed(gateway_url):
    # Renew when less than an hour is left: a 15-minute token is always "close", so each call fetches.
    provider = ClientCredentialsToken(
        gateway_url, "eldercare", gateway_seed.dev_client_secret("eldercare"), renew_before_s=3600
    )
    await provider()
    await provider()
    assert provider.fetches == 2


async def test_no_token_is_a_peer_failure_the_caller_can_fall_back_from(gateway_url):
    with pytest.raises(PeerUnavailable, match="HTTP 401"):
        await ClientCredentialsToken(gateway_url, "eldercare", "wrong-secret")()
    with pytest.raises(PeerUnavailable):
        await ClientCredentialsToken(f"http://127.0.0.1:{free_port()}", "eldercare", "x")()


async def test_a_failed_fetch_is_shared_by_the_callers_queued_behind_it_and_retried_later(gateway_url):
    # A wrong secret (or a gateway that does not answer): twenty callers at once ask the gateway once, not twenty
    # times one after another under the lock.
    provider = ClientCredentialsToken(gateway_url, "eldercare", "wrong-secret", retry_after_s=0.2)
    failures = await asyncio.gather(*(provider() for _ in range(20)), return_exceptions=True)
    assert all(isinstance(f, PeerUnavailable) and "HTTP 401" in f.reason for f in failures), failures
    assert provider.attempts == 1
    with pytest.raises(PeerUnavailable, match="HTTP 401"):
        await provider()
    assert provider.attempts == 1
    await asyncio.sleep(0.25)
    with pytest.raises(PeerUnavailable, match="HTTP 401"):
        await provider()
    assert provider.attempts == 2


async def test_a_failed_renewal_keeps_the_token_in_hand_until_it_expires(gateway_url):
    provider = ClientCredentialsToken(
        gateway_url, "eldercare", gateway_seed.dev_client_secret("eldercare"), renew_before_s=3600
    )
    token = await provider()
    provider.token_url = f"http://127.0.0.1:{free_port()}/api/auth/v1/token"  # the gateway is gone
    assert await provider() == token and await provider() == token
    assert (provider.fetches, provider.attempts) == (1, 2)  # the second call did not ask again


async def test_fetches_build_no_tls_context_on_the_event_loop(gateway_url, monkeypatch):
    # Loading the CA bundle costs about 25 ms of CPU, in which no other request of the process moves: each
    # client is given the process's one context (shared.peer.tls_context) instead of building its own.
    tls_context()
    built = []
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: built.append(1) or real(*a, **k))
    provider = ClientCredentialsToken(
        gateway_url, "eldercare", gateway_seed.dev_client_secret("eldercare"), renew_before_s=3600
    )
    for _ in range(3):
        await provider()
    assert provider.fetches == 3 and built == []


def test_production_needs_real_required_secrets_but_not_unused_ones():
    from pydantic import ValidationError

    from services.charity.settings import CharitySettings

    real = "r" * 40
    assert CharitySettings(env="production", identity_secret=real).client_secret == ""
    with pytest.raises(ValidationError, match="identity_secret"):
        CharitySettings(env="production", identity_secret="")
    with pytest.raises(ValidationError, match="client_secret"):
        CharitySettings(env="production", identity_secret=real, client_secret="short")
