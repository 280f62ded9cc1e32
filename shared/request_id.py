"""The request id: one token per request, kept in a context variable and passed between processes in a header.

Logs, traces, problem responses, peer calls and audits read it from here.
"""

from __future__ import annotations

import contextvars
import os
import re
from collections.abc import Mapping
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def current_request_id() -> str | None:
    return request_id_var.get()


def request_id_of(scope: Mapping[str, Any]) -> str | None:
    """The request id `RequestContextMiddleware` gave this request, read from the request itself: Starlette's
    last-resort handler of unexpected errors answers outside every middleware, after the context is reset."""
    request_id: str | None = (scope.get("state") or {}).get("request_id")
    return request_id


def accept_or_make_request_id(value: str | None) -> str:
    """Keep a caller's request id when it is a sane token; otherwise make one."""
    if value and _VALID_REQUEST_ID.match(value):
        return value
    return os.urandom(16).hex()  # as unique as uuid4, at a fraction of the cost on the hot path
