"""Domain errors and their one rendering: problem+json (RFC 9457) with a stable `type`.

Services raise these; nothing below a router builds HTTP responses for failures. 422 is kept for
input that fails validation (of the request, or of a field the service checks deeper, such as an ID
number's check character); a rule of the domain that blocks an otherwise valid request is 409 or 400.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import socket
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from shared.request_id import current_request_id, request_id_of, request_id_var

log = logging.getLogger("shared.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"


class FieldProblem(BaseModel):
    """One field of the request that was refused, and why."""

    field: str = Field(description="Dotted path of the offending field, e.g. `id_number` or `members.0.income_fen`")
    location: str = Field(description="Where the field was: body, query, path or header")
    message: str = Field(description="What is wrong with it, in words a person can act on")


class Problem(BaseModel):
    """A problem detail (RFC 9457)."""

    type: str = Field(description="Stable identifier of the kind of problem, e.g. `/problems/not-found`")
    title: str = Field(description="A short summary of the kind of problem, the same for every occurrence")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What went wrong with this request, for a person to read")
    instance: str | None = Field(None, description="The path of the request")
    request_id: str | None = Field(None, description="The request's id, as in the logs: quote it when reporting")
    errors: list[FieldProblem] | None = Field(None, description="For 422: each offending field")
    resource: str | None = Field(None, description="For 409: the resource that blocked the request")
    candidates: list[dict[str, Any]] | None = Field(
        None,
        description="For a 422 on an ambiguous address: the standard addresses it may mean, best first, each with "
        "its code, full name, level, confidence and reasons; give one's code as `address_code`",
    )


class DomainError(Exception):
    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldProblem] | None = None,
        resource: str | None = None,
        headers: dict[str, str] | None = None,
        keep_writes: bool = False,
        candidates: list[dict[str, Any]] | None = None,
    ):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.resource = resource
        self.candidates = candidates
        self.headers = headers
        # A refusal that must be remembered (a failed sign-in counts towards lock-out): the request's
        # writes are committed before the error is answered, instead of rolled back.
        self.keep_writes = keep_writes


class BadRequest(DomainError):
    pass


class InvalidInput(DomainError):
    """A field passed schema validation but not the domain's check (an ID number's check character)."""

    status, slug, title = 422, "validation-failed", "The request has invalid fields"

    def __init__(self, field: str, message: str, *, location: str = "body"):
        super().__init__(f"{field}: {message}", errors=[FieldProblem(field=field, location=location, message=message)])


class Unauthorized(DomainError):
    status, slug, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str = "a valid bearer token is required", *, keep_writes: bool = False):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, keep_writes=keep_writes)


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Not allowed"


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflicts with the current state"


class TooManyRequests(DomainError):
    status, slug, title = 429, "rate-limited", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int):
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class ServiceUnavailable(DomainError):
    status, slug, title = 503, "service-unavailable", "Temporarily unavailable"


_STATUS_SLUGS = {
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("payload-too-large", "Request body too large"),
    429: ("rate-limited", "Too many requests"),
}


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    request: Request | None = None,
    errors: list[FieldProblem] | None = None,
    resource: str | None = None,
    headers: dict[str, str] | None = None,
    candidates: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "request_id": current_request_id(),
    }
    if request is not None:
        body["instance"] = request.url.path
    if errors:
        body["errors"] = [e.model_dump() for e in errors]
    if resource:
        body["resource"] = resource
    if candidates:
        body["candidates"] = candidates
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _field_problems(exc: RequestValidationError) -> list[FieldProblem]:
    problems = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":  # FastAPI's location is ("body", offset): the body is what failed
            problems.append(FieldProblem(field="body", location="body", message=_NOT_JSON))
            continue
        location, *path = error.get("loc", ("body",))
        problems.append(
            FieldProblem(
                field=".".join(str(p) for p in path) or str(location),
                location=str(location),
                message=error.get("msg", "invalid"),
            )
        )
    return problems


_NOT_JSON = "must be JSON in UTF-8"
_UNPARSABLE_BODY = "There was an error parsing the body"  # FastAPI's detail, its only 400


# Numbers past what an INTEGER column holds (PostgreSQL's 4-byte integer; beyond 8 bytes nothing fits).
_INT32 = 2**31 - 1


def _large_numbers(request: Request) -> list[FieldProblem]:
    """The fields of a request holding integers too large for a database column: path, query and JSON body."""
    problems = []

    def large(value: Any) -> bool:
        # A whole float (13377718844.0) is an integer to the schema too.
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        return whole and not isinstance(value, bool) and abs(value) > _INT32

    def as_int(text: str) -> Any:
        try:
            return int(text)
        except ValueError:
            return None

    for location, items in (("path", request.path_params.items()), ("query", request.query_params.multi_items())):
        problems += [
            FieldProblem(field=name, location=location, message="too large")
            for name, value in items
            if large(as_int(str(value)))
        ]

    def walk(value: Any, path: list[str]) -> None:
        if large(value):
            problems.append(FieldProblem(field=".".join(path) or "body", location="body", message="too large"))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, [*path, str(key)])
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, [*path, str(index)])

    body = getattr(request, "_body", None)  # what the route read, kept by Starlette's Request
    if body:
        with contextlib.suppress(ValueError):
            walk(json.loads(body), [])
    return problems


# PostgreSQL's SQLSTATEs of a database that is not answering (class 08: the connection; 57P01-57P03: shut down or
# starting; 53: out of connections or resources) or that gave up waiting (57014: statement timeout; 55P03: lock
# timeout). 22003 is a number out of its column's range.
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53", "57014", "55P03")
# PostgreSQL's serialization_failure and deadlock_detected: the transaction was rolled back for another one.
_CONTENTION_SQLSTATES = ("40001", "40P01")
# SQLite's: busy or locked past busy_timeout, the file gone or unreadable.
_UNAVAILABLE_SQLITE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_PROTOCOL")
_NETWORK_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.ETIMEDOUT,
    errno.EPIPE,
    errno.ENETUNREACH,
    errno.ENETDOWN,
    errno.EHOSTUNREACH,
    errno.EHOSTDOWN,
}
_DRIVERS = ("asyncpg", "aiosqlite", "sqlite3", "sqlalchemy")


def _raised_in_driver(exc: BaseException) -> bool:
    traceback = exc.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_globals.get("__name__", "").startswith(_DRIVERS):
            return True
        traceback = traceback.tb_next
    return False


def database_failure(exc: BaseException) -> Literal["unavailable", "contention", "out-of-range", "other"]:
    """What a database error means for the caller: the database is not answering (lost connection, refused,
    timed out: 503, retry), the transaction lost to a concurrent one (a deadlock or a serialization failure:
    nothing was written, 503, retry at once), a number out of a column's range (the caller's, when the request
    holds it: 422), or anything else (our error: 500)."""
    if isinstance(exc, OverflowError):
        return "out-of-range"
    if isinstance(exc, SQLAlchemyTimeoutError):
        return "unavailable"
    if isinstance(exc, OSError):  # ConnectionRefusedError, a reset, TimeoutError, a name that does not resolve
        network = isinstance(exc, (ConnectionError, TimeoutError, socket.gaierror)) or exc.errno in _NETWORK_ERRNOS
        return "unavailable" if network or _raised_in_driver(exc) else "other"
    if not isinstance(exc, DBAPIError):
        return "other"
    if exc.connection_invalidated:
        return "unavailable"
    orig = exc.orig
    message = str(orig)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or ""
    sqlite_error = getattr(orig, "sqlite_errorname", None) or ""
    if sqlstate.startswith(_UNAVAILABLE_SQLSTATES) or sqlite_error.startswith(_UNAVAILABLE_SQLITE):
        return "unavailable"
    if sqlstate in _CONTENTION_SQLSTATES:
        return "contention"
    if "connection is closed" in message or "connection was closed" in message:
        return "unavailable"  # asyncpg, between statements
    # PostgreSQL's 22003; asyncpg refusing a parameter ("value out of int64 range"); SQLite's SUM past 64 bits.
    if sqlstate == "22003" or any(words in message for words in ("out of int", "out of range", "integer overflow")):
        return "out-of-range"
    return "other"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.slug,
            exc.title,
            exc.detail,
            request=request,
            errors=exc.errors,
            resource=exc.resource,
            headers=exc.headers,
            candidates=exc.candidates,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = _field_problems(exc)
        detail = "; ".join(f"{p.field}: {p.message}" for p in problems[:5])
        return problem_response(
            422, "validation-failed", "The request has invalid fields", detail, request=request, errors=problems
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _UNPARSABLE_BODY:
            # FastAPI's answer to a body it could not decode (not UTF-8, say): invalid input like any other.
            return problem_response(
                422,
                "validation-failed",
                "The request has invalid fields",
                f"body: {_NOT_JSON}",
                request=request,
                errors=[FieldProblem(field="body", location="body", message=_NOT_JSON)],
            )
        slug, title = _STATUS_SLUGS.get(exc.status_code, ("http-error", "HTTP error"))
        detail = str(exc.detail)
        if exc.status_code == 404 and request.url.path.endswith("/") and request.url.path != "/":
            detail = f"no route at {request.url.path}; paths take no trailing slash: {request.url.path.rstrip('/')}"
        return problem_response(
            exc.status_code, slug, title, detail, request=request, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # A constraint caught what the service did not check first: still a conflict, never a 500.
        log.warning("integrity error reached the handler: %s", type(exc.orig).__name__)
        return problem_response(
            409,
            "conflict",
            "Conflicts with the current state",
            "the request conflicts with existing data",
            request=request,
        )

    @app.exception_handler(OverflowError)  # SQLite: "Python int too large to convert to SQLite INTEGER"
    @app.exception_handler(DBAPIError)  # every error of the database's driver but a broken constraint
    @app.exception_handler(SQLAlchemyTimeoutError)  # no pooled connection came free in time
    @app.exception_handler(OSError)  # a connection to the database refused, reset or timed out
    async def _database_error(request: Request, exc: Exception) -> JSONResponse:
        kind = database_failure(exc)
        if kind == "unavailable":
            # Lost, refused or timed out: the caller may retry. A pooled connection found dead (the database
            # restarted, the network broke) makes the pool drop every connection of its age, so the next request
            # connects afresh.
            log.error("database unavailable: %s", type(exc).__name__)
            return problem_response(
                503,
                "service-unavailable",
                "Temporarily unavailable",
                "the service's database is not answering; retry shortly",
                request=request,
                headers={"Retry-After": "5"},
            )
        if kind == "contention":
            log.warning("transaction rolled back for a concurrent one: %s", type(exc).__name__)
            return problem_response(
                503,
                "service-unavailable",
                "Temporarily unavailable",
                "the request collided with a concurrent change and nothing was written; retry",
                request=request,
                headers={"Retry-After": "1"},
            )
        problems = _large_numbers(request) if kind == "out-of-range" else []
        if not problems:
            # Not the caller's number (a sum over stored rows, a bug, a broken query): the database answered, so
            # this is our error, logged with the request id, never "not answering" (which sends clients to retry).
            return await _unexpected(request, exc)
        # The schema let a number through that no column can hold: the caller's mistake, and nothing written.
        named = ", ".join(p.field for p in problems)
        return problem_response(
            422,
            "validation-failed",
            "The request has invalid fields",
            f"{named}: out of range",
            request=request,
            errors=problems,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette runs this handler outside every middleware: the request id is read back from the request, so
        # the log line, the body and the header all carry the id the caller is asked to quote.
        request_id = request_id_of(request.scope)
        token = request_id_var.set(request_id)
        try:
            log.exception("unhandled error")
            return problem_response(
                500,
                "internal-error",
                "Internal error",
                "an unexpected error occurred; quote the request id when reporting it",
                request=request,
                headers={"X-Request-ID": request_id} if request_id else None,
            )
        finally:
            request_id_var.reset(token)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting the problem+json errors a route can return."""
    descriptions = {
        400: "Rule violated",
        401: "Missing or invalid credentials",
        403: "Not allowed",
        404: "Not found",
        409: "Conflicts with the current state",
        422: "Invalid fields",
        503: "Temporarily unavailable",
    }
    return {
        s: {"model": Problem, "description": descriptions.get(s, "Problem"), "content": {PROBLEM_MEDIA_TYPE: {}}}
        for s in statuses
    }
