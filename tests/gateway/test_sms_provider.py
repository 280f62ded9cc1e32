"""Sign-in codes through the real SMS provider code (Tencent Cloud's SDK) to a fake provider on loopback that
checks the request's TC3 signature; production without a provider refuses to start and names the setting."""

from __future__ import annotations

import pytest

from gateway.app import create_app
from gateway.auth.codes import SenderMissing
from gateway.settings import GatewaySettings
from tests.conftest import service_database
from tests.gateway.conftest import gateway_client

AUTH = "/api/auth/v1"
PHONE = "13912345678"
TEMPLATES = {"sign_in_code": "2000001"}


@pytest.fixture
async def sms_gateway(backend, db_dir, fake_sms, monkeypatch):
    for name, value in fake_sms.environment(TEMPLATES).items():
        monkeypatch.setenv(name, value)
    async for client in gateway_client(await service_database("gateway", backend, db_dir)):
        yield client


async def test_the_code_goes_out_as_a_signed_tencent_sms_and_signs_the_resident_in(sms_gateway, fake_sms):
    asked = await sms_gateway.post(f"{AUTH}/code-requests", json={"phone": PHONE})
    assert asked.status_code == 202, asked.text
    assert fake_sms.refused == []  # the signature, scope, action and version were right
    ((sent,),) = [fake_sms.sent]
    assert sent["phone"] == f"+86{PHONE}" and sent["template"] == "2000001"
    code, minutes = sent["params"]
    assert len(code) == 6 and code.isdigit() and minutes == "5"
    signed_in = await sms_gateway.post(f"{AUTH}/code-sign-ins", json={"phone": PHONE, "code": code})
    assert signed_in.status_code == 200, signed_in.text


async def test_a_provider_that_refuses_is_a_503_and_the_next_request_still_works(sms_gateway, fake_sms, monkeypatch):
    fake_sms.fail_next = 1
    refused = await sms_gateway.post(f"{AUTH}/code-requests", json={"phone": PHONE})
    assert refused.status_code == 503 and refused.headers["content-type"] == "application/problem+json"
    assert "SMS" in refused.json()["detail"]
    other = await sms_gateway.post(f"{AUTH}/code-requests", json={"phone": "13912345679"})
    assert other.status_code == 202 and len(fake_sms.sent) == 1


async def test_a_wrong_secret_key_is_refused_by_the_provider_for_its_signature(backend, db_dir, fake_sms, monkeypatch):
    for name, value in fake_sms.environment(TEMPLATES).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SMS_SECRET_KEY", "not-the-key-the-provider-holds")
    async for gateway in gateway_client(await service_database("gateway", backend, db_dir)):
        asked = await gateway.post(f"{AUTH}/code-requests", json={"phone": PHONE})
        assert asked.status_code == 503
        assert fake_sms.sent == [] and "signature" in fake_sms.refused[0]


PRODUCTION = {"env": "production", "token_secret": "t" * 40, "identity_secret": "i" * 40}


def test_production_with_resident_sign_in_and_no_provider_refuses_to_start(monkeypatch):
    monkeypatch.delenv("SMS_PROVIDER", raising=False)
    with pytest.raises(SenderMissing, match="SMS_PROVIDER"):
        create_app(GatewaySettings(**PRODUCTION))
    monkeypatch.setenv("SMS_PROVIDER", "log")  # codes in the log are for dev only
    with pytest.raises(SenderMissing, match="SMS_PROVIDER=log"):
        create_app(GatewaySettings(**PRODUCTION))
    monkeypatch.setenv("SMS_PROVIDER", "tencent")  # half configured: the missing settings are named
    monkeypatch.setenv("SMS_SECRET_ID", "id")
    with pytest.raises(ValueError, match="SMS_SECRET_KEY, SMS_APP_ID, SMS_SIGN_NAME"):
        create_app(GatewaySettings(**PRODUCTION))
    # Without resident sign-in, nothing is needed and the code routes say the service is not offered.
    monkeypatch.delenv("SMS_PROVIDER")
    create_app(GatewaySettings(**PRODUCTION, resident_sign_in=False))


def test_production_starts_with_a_configured_provider(fake_sms, monkeypatch):
    for name, value in fake_sms.environment(TEMPLATES).items():
        monkeypatch.setenv(name, value)
    app = create_app(GatewaySettings(**PRODUCTION))
    assert type(app.local_app.state.code_sender).__name__ == "SmsCodeSender"
