"""The token endpoint's errors as RFC 6749 §5.2 gives them: `{"error": "invalid_client", "error_description": …}`.

Every other route of the suite answers problem+json; the token endpoint is the one place where ordinary OAuth2
client libraries read the body, and they look for `error`. So its refusals, including a body that is not a form
at all, take that shape here, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Literal

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from shared.errors import DomainError
from shared.schemas import Schema

FORM = "application/x-www-form-urlencoded"

OAuthErrorCode = Literal["invalid_request", "invalid_client", "invalid_grant", "unsupported_grant_type"]


class OAuthErrorOut(Schema):
    """RFC 6749 §5.2 error response of the token endpoint."""

    error: OAuthErrorCode
    error_description: str


RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": OAuthErrorOut, "description": "invalid_request, invalid_grant or unsupported_grant_type"},
    401: {"model": OAuthErrorOut, "description": "invalid_client (with a Basic challenge)"},
}


class OAuthError(DomainError):
    """A refusal of the token endpoint. `keep_writes` as any DomainError (a reused refresh token revokes its family)."""

    def __init__(self, error: str, description: str, *, keep_writes: bool = False):
        super().__init__(description, keep_writes=keep_writes)
        self.error = error
        # §5.2: 400 for all but invalid_client, which says by 401 which scheme to authenticate with.
        self.status = 401 if error == "invalid_client" else 400

    def response(self) -> JSONResponse:
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="minzheng"'
        return JSONResponse(
            {"error": self.error, "error_description": self.detail}, status_code=self.status, headers=headers
        )


def from_refusal(refusal: DomainError) -> OAuthError:
    """The services' refusals ("invalid_client: …", "invalid_grant: …") in the token endpoint's words."""
    error, _, description = refusal.detail.partition(": ")
    if error not in ("invalid_client", "invalid_grant"):
        error, description = "invalid_request", refusal.detail
    return OAuthError(error, description, keep_writes=refusal.keep_writes)


def from_validation(request: Request, exc: RequestValidationError) -> OAuthError:
    content_type = request.headers.get("content-type", "").split(";")[0].strip() or "none"
    if content_type != FORM:
        return OAuthError(
            "invalid_request",
            f"the token endpoint takes {FORM} (RFC 6749 §4.4); the request's content type is {content_type}",
        )
    for error in exc.errors():
        field = str(error["loc"][-1])
        if field == "grant_type" and error["type"] != "missing":
            return OAuthError("unsupported_grant_type", "grant_type must be client_credentials or refresh_token")
        return OAuthError("invalid_request", f"{field}: {error['msg']}")
    return OAuthError("invalid_request", "the request is malformed")


class OAuthRoute(APIRoute):
    """A route whose refusals, validation included, are RFC 6749 error responses."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def oauth_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return from_validation(request, exc).response()
            except OAuthError as exc:
                return exc.response()

        return oauth_handler
