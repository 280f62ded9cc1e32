"""Delivering one-time codes: an interface, so the SMS provider can be chosen by the operator."""

from __future__ import annotations

import logging
from typing import Protocol

from shared.errors import NotFound
from shared.idnumbers import mask_phone

log = logging.getLogger("gateway.codes")


class CodeSender(Protocol):
    async def send(self, phone: str, code: str) -> None: ...


class LoggingSender:
    """Dev and test: the code goes to the log (with the phone masked), not to a phone."""

    async def send(self, phone: str, code: str) -> None:
        log.info("one-time code for %s: %s (dev only: not sent)", mask_phone(phone), code)


class NoSender:
    """Production until an SMS provider is configured: sign-in by code is unavailable, and says so."""

    async def send(self, phone: str, code: str) -> None:
        raise NotFound("sign-in by SMS code is not offered on this deployment (no SMS provider configured)")
