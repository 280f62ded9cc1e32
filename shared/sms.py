"""Text messages (短信) to mainland phones: one interface, the provider chosen by the operator.

The gateway sends sign-in codes through it and every service's worker sends notifications through it, so both
read the same suite-wide settings (`SMS_*`, no service prefix). Providers:

- `tencent`: Tencent Cloud SMS (腾讯云短信) through its SDK (`tencentcloud-sdk-python-sms`, API 2021-01-11). In
  mainland China every text is a template approved in advance with a signature (签名), so a message is a
  template id and its parameters, never free text. `SMS_ENDPOINT` points the SDK elsewhere (tests: a fake
  provider on loopback, `http://127.0.0.1:PORT`).
- `log`: dev and test: the message goes to the log with the phone masked, not to a phone.
- unset (``""``): no provider. Production refuses to offer resident sign-in that way (gateway/app.py).

The SDK is synchronous (requests): each call runs in a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.idnumbers import mask_phone

log = logging.getLogger("shared.sms")

# The template of each kind of text. A kind with no template here cannot go by SMS (the message stays in-app).
SIGN_IN_CODE = "sign_in_code"


class SmsSettings(BaseSettings):
    """Suite-wide: `SMS_PROVIDER`, `SMS_SECRET_ID`, … read the same by the gateway and every worker."""

    model_config = SettingsConfigDict(env_prefix="SMS_", extra="ignore")

    provider: Literal["", "tencent", "log"] = ""
    secret_id: str = ""
    secret_key: str = ""
    # The SMS application (SmsSdkAppId), its approved signature (签名) and the region of the account.
    app_id: str = ""
    sign_name: str = ""
    region: str = "ap-guangzhou"
    # The API's host, or a full URL (`http://127.0.0.1:9000`) to reach a fake provider in tests.
    endpoint: str = "sms.tencentcloudapi.com"
    timeout_s: int = Field(5, ge=1, le=60)
    # Approved template ids by kind: {"sign_in_code": "1234567", "call.raised": "1234568", ...}.
    templates: dict[str, str] = Field(default_factory=dict)

    def missing(self) -> list[str]:
        """The settings a configured provider still lacks (names as in the environment)."""
        if self.provider != "tencent":
            return []
        needed = {"secret_id": self.secret_id, "secret_key": self.secret_key, "app_id": self.app_id}
        needed["sign_name"] = self.sign_name
        return [f"SMS_{name.upper()}" for name, value in needed.items() if not value]


class SmsRejected(Exception):
    """The provider refused this message for good (a wrong number, no template): retrying will not help."""


class SmsUnavailable(Exception):
    """The provider did not take the message this time (down, throttled, timed out): try again later."""


@dataclass(frozen=True)
class SmsReceipt:
    serial: str  # the provider's id of the message, for tracing a complaint


class SmsSender(Protocol):
    async def send(self, phone: str, kind: str, params: list[str], *, reference: str = "") -> SmsReceipt: ...


class LoggingSms:
    """Dev and test: the text goes to the log (the phone masked). Sign-in codes are read there in dev."""

    async def send(self, phone: str, kind: str, params: list[str], *, reference: str = "") -> SmsReceipt:
        log.info("SMS %s to %s: %s (dev only: not sent)", kind, mask_phone(phone), " / ".join(params))
        return SmsReceipt(serial=f"log:{reference}")


# Tencent's per-number codes that say the number or the content is wrong: a retry would fail the same way.
PERMANENT_CODES = ("InvalidParameterValue", "FailedOperation.PhoneNumberInBlacklist", "UnsupportedOperation")


class TencentSms:
    """Tencent Cloud SMS, API version 2021-01-11, SendSms; one SDK client per process."""

    def __init__(self, settings: SmsSettings):
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        self.settings = settings
        endpoint = settings.endpoint
        scheme = "https"
        if "://" in endpoint:
            parts = urlsplit(endpoint)
            scheme, endpoint = parts.scheme, parts.netloc
        http = HttpProfile(protocol=scheme, endpoint=endpoint, reqTimeout=settings.timeout_s)
        self.client = sms_client.SmsClient(
            credential.Credential(settings.secret_id, settings.secret_key),
            settings.region,
            ClientProfile(httpProfile=http),
        )

    def _send(self, phone: str, template_id: str, params: list[str], reference: str) -> SmsReceipt:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
        from tencentcloud.sms.v20210111 import models

        request = models.SendSmsRequest()
        request.PhoneNumberSet = [phone if phone.startswith("+") else f"+86{phone}"]
        request.SmsSdkAppId = self.settings.app_id
        request.SignName = self.settings.sign_name
        request.TemplateId = template_id
        request.TemplateParamSet = params
        request.SessionContext = reference  # echoed in the delivery receipt: our delivery's id
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as error:
            code = error.get_code() or ""
            if code.startswith(("AuthFailure", "InvalidParameter", "MissingParameter", "UnauthorizedOperation")):
                # Our configuration is wrong: an operator must fix it; retrying later may then succeed.
                log.error("SMS provider refused our request: %s", code)
            raise SmsUnavailable(f"SMS provider: {code or type(error).__name__}") from None
        (status,) = response.SendStatusSet
        if status.Code != "Ok":
            if status.Code.startswith(PERMANENT_CODES):
                raise SmsRejected(f"SMS provider refused the message: {status.Code}")
            raise SmsUnavailable(f"SMS provider did not send: {status.Code}")
        return SmsReceipt(serial=status.SerialNo)

    async def send(self, phone: str, kind: str, params: list[str], *, reference: str = "") -> SmsReceipt:
        template_id = self.settings.templates.get(kind)
        if not template_id:
            raise SmsRejected(f"no SMS template for {kind!r} (SMS_TEMPLATES)")
        return await asyncio.to_thread(self._send, phone, template_id, params, reference)


def sms_sender(settings: SmsSettings | None = None) -> SmsSender | None:
    """The configured provider, or None when there is none. A half-configured provider is refused at startup."""
    settings = settings or SmsSettings()
    if settings.provider == "log":
        return LoggingSms()
    if settings.provider == "tencent":
        missing = settings.missing()
        if missing:
            raise ValueError(f"SMS_PROVIDER=tencent needs {', '.join(missing)}")
        return TencentSms(settings)
    return None
