"""Domain errors and their one rendering: problem+json (RFC 9457) with a stable `type` and `code` for programs, and a
`title` and `detail` for people in the language of `Accept-Language` (Chinese unless English is asked for: shared/i18n).

Services raise these; nothing below a router builds HTTP responses for failures. 422 is kept for
input that fails validation (of the request, or of a field the service checks deeper, such as an ID
number's check character); a rule of the domain that blocks an otherwise valid request is 409 or 400.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import re
import socket
import typing
from typing import Any, Literal

import pydantic_core
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, PrivateAttr
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from shared.i18n import CHINESE, ENGLISH, LANGUAGE_TAGS, N_, field_label, negotiate, translate
from shared.request_id import current_request_id, request_id_of, request_id_var
from shared.schemas import MAX_INTEGER

log = logging.getLogger("shared.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"


class FieldProblem(BaseModel):
    """One field of the request that was refused, and why: named for programs (`field`, `code`) and for people, in
    both languages (`label_zh`, `label_en`), with `message` in the language the request asked for."""

    field: str = Field(description="Dotted path of the offending field, e.g. `id_number` or `members.0.income_fen`")
    location: str = Field(description="Where the field was: body, query, path or header")
    message: str = Field(description="What is wrong with it, in words a person can act on, in the response's language")
    code: str = Field("invalid", description="Stable machine code of what is wrong, e.g. `missing`, `string_too_long`")
    label_zh: str | None = Field(None, description="The field's name in Chinese, e.g. 身份证号码")
    label_en: str | None = Field(None, description="The field's name in English, e.g. `id number`")
    # The message's {placeholders}, filled in once the response's language is known.
    _params: dict[str, Any] = PrivateAttr(default_factory=dict)

    def with_params(self, **params: Any) -> FieldProblem:
        self._params = params
        return self

    def localized(self, locale: str) -> dict[str, Any]:
        return {
            "field": self.field,
            "location": self.location,
            "message": translate(locale, self.message, self._params),
            "code": self.code,
            "label_zh": self.label_zh or field_label(CHINESE, self.field),
            "label_en": self.label_en or field_label(ENGLISH, self.field),
        }


class Problem(BaseModel):
    """A problem detail (RFC 9457). `type` and `code` are for programs and never change with the language; `title`,
    `detail` and each field's `message` are in the language of `Accept-Language` (zh-CN by default, or en)."""

    type: str = Field(description="Stable identifier of the kind of problem, e.g. `/problems/not-found`")
    code: str = Field(
        description="Stable machine code of this problem, e.g. `not_found`, `quota_reached` (docs/i18n.md)"
    )
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


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class DomainError(Exception):
    """A refusal. `detail` is an English text with `{placeholders}` filled from `params`, translated when answered:

        raise NotFound("elder {elder_id} not found", elder_id=elder_id)

    (not an f-string: the catalogue holds the text with its placeholders). `code`, for programs, is the class's name
    in snake_case (`NotFound` → `not_found`) unless the class or the raise gives one."""

    status = 400
    slug = "bad-request"
    title = N_("Bad request")
    code: str | None = None

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldProblem] | None = None,
        resource: str | None = None,
        headers: dict[str, str] | None = None,
        keep_writes: bool = False,
        candidates: list[dict[str, Any]] | None = None,
        code: str | None = None,
        **params: Any,
    ):
        self.message = detail
        self.params = params
        self.detail = detail.format(**params) if params else detail  # English, for logs and the token endpoint
        super().__init__(self.detail)
        self.errors = errors
        self.resource = resource
        self.candidates = candidates
        self.headers = headers
        self.code = code or type(self).code or _snake(type(self).__name__)
        # A refusal that must be remembered (a failed sign-in counts towards lock-out): the request's
        # writes are committed before the error is answered, instead of rolled back.
        self.keep_writes = keep_writes

    def localized(self, locale: str) -> tuple[str, str]:
        """The title and detail in the locale."""
        return translate(locale, self.title), translate(locale, self.message, self.params)


class BadRequest(DomainError):
    pass


class InvalidInput(DomainError):
    """A field passed schema validation but not the domain's check (an ID number's check character).

    raise InvalidInput("id_number", "the check character is wrong")"""

    status, slug, title = 422, "validation-failed", N_("The request has invalid fields")

    def __init__(self, field: str, message: str, *, location: str = "body", code: str | None = None, **params: Any):
        problem = FieldProblem(field=field, location=location, message=message, code=code or "invalid")
        problem = problem.with_params(**params)
        super().__init__(f"{field}: {message.format(**params) if params else message}", errors=[problem], code=code)

    def localized(self, locale: str) -> tuple[str, str]:
        return translate(locale, self.title), fields_detail(locale, self.errors or [])


class Unauthorized(DomainError):
    status, slug, title = 401, "unauthorized", N_("Authentication required")

    def __init__(
        self, detail: str = N_("a valid bearer token is required"), *, keep_writes: bool = False, **params: Any
    ):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, keep_writes=keep_writes, **params)


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", N_("Not allowed")


class NotFound(DomainError):
    status, slug, title = 404, "not-found", N_("Not found")


class Conflict(DomainError):
    status, slug, title = 409, "conflict", N_("Conflicts with the current state")


class TooManyRequests(DomainError):
    status, slug, title, code = 429, "rate-limited", N_("Too many requests"), "rate_limited"

    def __init__(self, detail: str, *, retry_after: int, **params: Any):
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, **params)


class ServiceUnavailable(DomainError):
    status, slug, title = 503, "service-unavailable", N_("Temporarily unavailable")


def fields_detail(locale: str, problems: list[FieldProblem]) -> str:
    """The detail of a 422: the first few fields, each with what is wrong (in Chinese by its Chinese name)."""
    parts = []
    for problem in problems[:5]:
        entry = problem.localized(locale)
        name = entry["field"] if locale == ENGLISH else entry["label_zh"]
        parts.append(f"{name}: {entry['message']}" if locale == ENGLISH else f"{name}：{entry['message']}")
    return ("; " if locale == ENGLISH else "；").join(parts)


_STATUS_SLUGS = {
    404: ("not-found", N_("Not found"), "not_found"),
    405: ("method-not-allowed", N_("Method not allowed"), "method_not_allowed"),
    413: ("payload-too-large", N_("Request body too large"), "payload_too_large"),
    429: ("rate-limited", N_("Too many requests"), "rate_limited"),
}


def request_locale(request: Request | None) -> str:
    return negotiate(request.headers.get("accept-language") if request is not None else None)


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
    code: str | None = None,
    params: dict[str, Any] | None = None,
    locale: str | None = None,
) -> JSONResponse:
    """The problem+json answer. `title` and `detail` are msgids (English, `{placeholders}` filled from `params`),
    answered in the language the request asks for, unless `locale` says which (already translated texts)."""
    if locale is None:
        locale = request_locale(request)
        title, detail = translate(locale, title), translate(locale, detail, params)
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "code": code or slug.replace("-", "_"),
        "title": title,
        "status": status,
        "detail": detail,
        "request_id": current_request_id(),
    }
    if request is not None:
        body["instance"] = request.url.path
    if errors:
        body["errors"] = [e.localized(locale) for e in errors]
    if resource:
        body["resource"] = resource
    if candidates:
        body["candidates"] = candidates
    language = {"Content-Language": LANGUAGE_TAGS[locale], "Vary": "Accept-Language"}
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers={**language, **(headers or {})}
    )


def invalid_fields(
    problems: list[FieldProblem], *, request: Request, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The 422 of invalid fields, its detail naming the first few in the request's language."""
    locale = request_locale(request)
    return problem_response(
        422,
        "validation-failed",
        translate(locale, InvalidInput.title),
        fields_detail(locale, problems),
        request=request,
        errors=problems,
        headers=headers,
        code="invalid_input",
        locale=locale,
    )


# Pydantic's error types, in short plain words (its own messages are for programmers). The context's values fill
# the placeholders (`{max_length}`); a type not listed is "is not valid", its `code` telling which.
_PYDANTIC_MESSAGES = {
    "missing": N_("is required"),
    "extra_forbidden": N_("is not a field of this request"),
    "string_type": N_("must be text"),
    "string_too_short": N_("must have at least {min_length} characters"),
    "string_too_long": N_("must have at most {max_length} characters"),
    "string_pattern_mismatch": N_("is not in the expected format"),
    "int_type": N_("must be a whole number"),
    "int_parsing": N_("must be a whole number"),
    "int_from_float": N_("must be a whole number"),
    "float_type": N_("must be a number"),
    "float_parsing": N_("must be a number"),
    "decimal_type": N_("must be a number"),
    "decimal_parsing": N_("must be a number"),
    "finite_number": N_("must be a number"),
    "greater_than": N_("must be greater than {gt}"),
    "greater_than_equal": N_("must be at least {ge}"),
    "less_than": N_("must be less than {lt}"),
    "less_than_equal": N_("must be at most {le}"),
    "multiple_of": N_("must be a multiple of {multiple_of}"),
    "bool_type": N_("must be true or false"),
    "bool_parsing": N_("must be true or false"),
    "date_type": N_("must be a date written YYYY-MM-DD"),
    "date_parsing": N_("must be a date written YYYY-MM-DD"),
    "date_from_datetime_parsing": N_("must be a date written YYYY-MM-DD"),
    "date_from_datetime_inexact": N_("must be a date written YYYY-MM-DD"),
    "datetime_type": N_("must be a date and time in ISO 8601, e.g. 2026-12-01T08:30:00+08:00"),
    "datetime_parsing": N_("must be a date and time in ISO 8601, e.g. 2026-12-01T08:30:00+08:00"),
    "datetime_from_date_parsing": N_("must be a date and time in ISO 8601, e.g. 2026-12-01T08:30:00+08:00"),
    "timezone_aware": N_("must include a time zone, e.g. +08:00"),
    "time_type": N_("must be a time, e.g. 10:00"),
    "time_parsing": N_("must be a time, e.g. 10:00"),
    "uuid_type": N_("must be an identifier (UUID)"),
    "uuid_parsing": N_("must be an identifier (UUID)"),
    "enum": N_("must be one of: {expected}"),
    "literal_error": N_("must be one of: {expected}"),
    "list_type": N_("must be a list"),
    "tuple_type": N_("must be a list"),
    "set_type": N_("must be a list"),
    "too_short": N_("must have at least {min_length} items"),
    "too_long": N_("must have at most {max_length} items"),
    "dict_type": N_("must be an object"),
    "model_type": N_("must be an object"),
    "model_attributes_type": N_("must be an object"),
    "url_type": N_("must be a web address"),
    "url_parsing": N_("must be a web address"),
    "json_invalid": N_("must be JSON in UTF-8"),
}
_NOT_VALID = N_("is not valid")


def _pydantic_message(error: Any) -> tuple[str, dict[str, Any]]:
    kind = error.get("type", "")
    context = {key: str(value) for key, value in (error.get("ctx") or {}).items() if key != "error"}
    if "expected" in context:
        context["expected"] = context["expected"].replace(" or ", ", ")
    if kind in _PYDANTIC_MESSAGES:
        return _PYDANTIC_MESSAGES[kind], context
    if kind in ("value_error", "assertion_error") and (error.get("ctx") or {}).get("error") is not None:
        return str(error["ctx"]["error"]), {}  # our validators' own words: ValueError(N_("..."))
    if error.get("msg") and kind not in _PYDANTIC_TYPES:
        return str(error["msg"]), {}  # our PydanticCustomError, its text in the catalogue (shared/schemas.py)
    return _NOT_VALID, {}


_PYDANTIC_TYPES = frozenset(typing.get_args(pydantic_core.core_schema.ErrorType))


def _field_problems(exc: RequestValidationError) -> list[FieldProblem]:
    problems = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":  # FastAPI's location is ("body", offset): the body is what failed
            problems.append(FieldProblem(field="body", location="body", message=_NOT_JSON, code="json_invalid"))
            continue
        location, *path = error.get("loc", ("body",))
        message, params = _pydantic_message(error)
        problems.append(
            FieldProblem(
                field=".".join(str(p) for p in path) or str(location),
                location=str(location),
                message=message,
                code=str(error.get("type") or "invalid"),
            ).with_params(**params)
        )
    return problems


_NOT_JSON = N_("must be JSON in UTF-8")
_UNPARSABLE_BODY = "There was an error parsing the body"  # FastAPI's detail, its only 400


_TOO_LARGE = N_("too large")


def _large_numbers(request: Request) -> list[FieldProblem]:
    """The fields of a request holding integers too large for a database column: path, query and JSON body."""
    problems = []

    def large(value: Any) -> bool:
        # A whole float (13377718844.0) is an integer to the schema too.
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        return whole and not isinstance(value, bool) and abs(value) > MAX_INTEGER

    def as_int(text: str) -> Any:
        try:
            return int(text)
        except ValueError:
            return None

    for location, items in (("path", request.path_params.items()), ("query", request.query_params.multi_items())):
        problems += [
            FieldProblem(field=name, location=location, message=_TOO_LARGE, code="out_of_range")
            for name, value in items
            if large(as_int(str(value)))
        ]

    def walk(value: Any, path: list[str]) -> None:
        if large(value):
            problems.append(
                FieldProblem(field=".".join(path) or "body", location="body", message=_TOO_LARGE, code="out_of_range")
            )
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
        locale = request_locale(request)
        title, detail = exc.localized(locale)
        return problem_response(
            exc.status,
            exc.slug,
            title,
            detail,
            request=request,
            errors=exc.errors,
            resource=exc.resource,
            headers=exc.headers,
            candidates=exc.candidates,
            code=exc.code,
            locale=locale,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return invalid_fields(_field_problems(exc), request=request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _UNPARSABLE_BODY:
            # FastAPI's answer to a body it could not decode (not UTF-8, say): invalid input like any other.
            body = FieldProblem(field="body", location="body", message=_NOT_JSON, code="json_invalid")
            return invalid_fields([body], request=request)
        slug, title, code = _STATUS_SLUGS.get(exc.status_code, ("http-error", N_("HTTP error"), "http_error"))
        detail, params = str(exc.detail), {}
        path = request.url.path
        if exc.status_code == 404 and path.endswith("/") and path != "/":
            detail = N_("no route at {path}; paths take no trailing slash: {without}")
            params = {"path": path, "without": path.rstrip("/")}
        elif exc.status_code == 404 and detail == "Not Found":  # Starlette's own, for a path no route has
            detail, params = N_("no route at {path}"), {"path": path}
        elif exc.status_code == 405:
            detail, params = N_("{method} is not allowed at {path}"), {"method": request.method, "path": path}
        return problem_response(
            exc.status_code,
            slug,
            title,
            detail,
            request=request,
            headers=getattr(exc, "headers", None),
            code=code,
            params=params,
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # A constraint caught what the service did not check first: still a conflict, never a 500.
        log.warning("integrity error reached the handler: %s", type(exc.orig).__name__)
        return problem_response(
            409,
            "conflict",
            Conflict.title,
            N_("the request conflicts with existing data"),
            request=request,
            code="conflict",
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
                ServiceUnavailable.title,
                N_("the service's database is not answering; retry shortly"),
                request=request,
                headers={"Retry-After": "5"},
                code="database_unavailable",
            )
        if kind == "contention":
            log.warning("transaction rolled back for a concurrent one: %s", type(exc).__name__)
            return problem_response(
                503,
                "service-unavailable",
                ServiceUnavailable.title,
                N_("the request collided with a concurrent change and nothing was written; retry"),
                request=request,
                headers={"Retry-After": "1"},
                code="concurrent_change",
            )
        problems = _large_numbers(request) if kind == "out-of-range" else []
        if not problems:
            # Not the caller's number (a sum over stored rows, a bug, a broken query): the database answered, so
            # this is our error, logged with the request id, never "not answering" (which sends clients to retry).
            return await _unexpected(request, exc)
        # The schema let a number through that no column can hold: the caller's mistake, and nothing written.
        return invalid_fields(problems, request=request)

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
                N_("Internal error"),
                N_("an unexpected error occurred; quote the request id when reporting it"),
                request=request,
                headers={"X-Request-ID": request_id} if request_id else None,
                code="internal_error",
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
