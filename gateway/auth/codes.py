"""Delivering one-time codes: an interface, so the SMS provider can be chosen by the operator (shared/sms.py)."""

from __future__ import annotations

import logging
from typing import Protocol

from gateway.settings import GatewaySettings
from shared.errors import NotFound, ServiceUnavailable
from shared.idnumbers import mask_phone
from shared.sms import SIGN_IN_CODE, LoggingSms, SmsRejected, SmsSender, SmsSettings, SmsUnavailable, sms_sender

log = logging.getLogger("gateway.codes")

# What the code's text tells the person: how many minutes it lasts (gateway.auth.service.CODE_LIFETIME).
CODE_MINUTES = "5"


class CodeSender(Protocol):
    async def send(self, phone: str, code: str) -> None: ...


class LoggingSender:
    """Dev and test: the code goes to the log (with the phone masked), not to a phone."""

    async def send(self, phone: str, code: str) -> None:
        log.info("one-time code for %s: %s (dev only: not sent)", mask_phone(phone), code)


class NoSender:
    """A deployment that does not offer resident sign-in (GATEWAY_RESIDENT_SIGN_IN=false): it says so."""

    async def send(self, phone: str, code: str) -> None:
        raise NotFound("sign-in by SMS code is not offered on this deployment")


class SmsCodeSender:
    """The code as a text through the configured SMS provider, with the template `sign_in_code` (code, minutes)."""

    def __init__(self, sms: SmsSender):
        self.sms = sms

    async def send(self, phone: str, code: str) -> None:
        try:
            await self.sms.send(phone, SIGN_IN_CODE, [code, CODE_MINUTES])
        except SmsRejected as error:
            log.error("the SMS provider refused a sign-in code: %s", error)
            raise ServiceUnavailable("the code could not be sent by SMS; try again later") from None
        except SmsUnavailable as error:
            log.warning("the SMS provider did not take a sign-in code: %s", error)
            raise ServiceUnavailable("the code could not be sent by SMS; try again shortly") from None


class SenderMissing(RuntimeError):
    """Production would offer resident sign-in without a way to send its codes."""


def code_sender_from(settings: GatewaySettings, sms: SmsSettings | None = None) -> CodeSender:
    """The sender of sign-in codes: the SMS provider when one is set; in dev and test the log; in production
    with resident sign-in on and no provider, a startup error naming the setting (never a silent NoSender)."""
    if not settings.resident_sign_in:
        return NoSender()
    provider = sms_sender(sms)
    if provider is not None and not isinstance(provider, LoggingSms):
        return SmsCodeSender(provider)
    if settings.env != "production":
        return LoggingSender()
    if provider is not None:
        raise SenderMissing("SMS_PROVIDER=log writes sign-in codes to the log: dev and test only, not production")
    raise SenderMissing(
        "resident sign-in is on (GATEWAY_RESIDENT_SIGN_IN) but no SMS provider is configured: set SMS_PROVIDER=tencent "
        "with SMS_SECRET_ID, SMS_SECRET_KEY, SMS_APP_ID, SMS_SIGN_NAME and SMS_TEMPLATES, "
        "or GATEWAY_RESIDENT_SIGN_IN=false"
    )
