"""What a service holds about one resident account, for personal-data requests (PIPL articles 44–47).

The register of requests lives in the gateway (`gateway/privacy`): the subject of a request is a gateway account,
the gateway is the one place that reaches every service, and one register gives one deadline clock, one queue for
the staff who answer and one audit. Each service only says what it holds and erases what it may, through two
service-to-service routes made here from the service's `SubjectData`:

- `POST /api/<service>/v1/subject-data-searches` `{"subject": "resident:…"}`: the records about the account and
  the people it acts for, by category, masked as everywhere, each saying whether the law lets it be erased and, if
  not, why it must be kept, and which fields a correction may be asked for;
- `POST /api/<service>/v1/subject-data-erasures` `{"subject", "category", "record_id"}`: erase one record the
  search called erasable (the gateway calls it once staff agreed to a deletion request); 409 with the reason when
  it is not erasable (or no longer), 404 when the subject has no such record.

The scopes `<service>.subject_data:read` and `<service>.subject_data:erase` are declared with no holders: no
person, partner or client is ever given them; only the gateway mints them into its own assertion.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import APIRouter
from pydantic import ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Session, utcnow
from shared.errors import problem_responses
from shared.identity import Principal, require
from shared.schemas import MAX_INTEGER, Schema

SUBJECT_PATTERN = r"^resident:[A-Za-z0-9._-]{1,100}$"
CATEGORY_PATTERN = r"^[a-z][a-z_]{1,39}$"
RECORD_ID_PATTERN = r"^[A-Za-z0-9:._-]{1,64}$"
MAX_RECORDS = 100  # per category in one answer, newest first; `count` tells how many there are


def row_id(record_id: str) -> int | None:
    """The row id a record id names (the digits of an integer primary key), or None when it cannot name a row: not
    digits, or digits no id column holds (the database refuses them, and an erasure answered 500)."""
    if not (record_id.isascii() and record_id.isdigit()) or int(record_id) > MAX_INTEGER:
        return None
    return int(record_id)


Subject = Annotated[
    str,
    Field(pattern=SUBJECT_PATTERN, examples=["resident:demo-family"], description="A resident account's subject"),
]


class SubjectIn(Schema):
    """Whose data: a resident account's subject, as the gateway's tokens carry it."""

    model_config = ConfigDict(extra="forbid")
    subject: Subject


class ErasureIn(Schema):
    """One record to erase, as the search named it."""

    model_config = ConfigDict(extra="forbid")
    subject: Subject
    category: str = Field(pattern=CATEGORY_PATTERN, description="The record's category, as the search named it")
    record_id: str = Field(pattern=RECORD_ID_PATTERN, description="The record's id, as the search named it")


class HeldRecord(Schema):
    """One record about the subject or a person they act for, masked as in every other answer."""

    id: str = Field(description="The record's id within its category")
    about: str = Field(description="Whose record: `self`, or `elder:<id>` for a person the subject acts for")
    fields: dict[str, str | int | bool | None] = Field(description="What the record holds, masked")
    recorded_at: dt.datetime | None = Field(description="When it was recorded")
    erasable: bool = Field(description="Whether the law lets it be erased on the subject's request (PIPL art. 47)")
    retention: str | None = Field(description="When not erasable: the law or duty that requires keeping it")
    correctable: list[str] = Field(description="Fields a correction may be asked for (PIPL art. 46)")


class HeldCategory(Schema):
    """Records of one kind."""

    category: str = Field(description="A stable code, e.g. `meal_orders`")
    title: str = Field(description="What these records are, in Chinese and English")
    count: int = Field(ge=0, description=f"How many there are; at most {MAX_RECORDS} are listed, newest first")
    records: list[HeldRecord] = Field(description="The records, newest first")


class SubjectDataOut(Schema):
    """What one service holds about the subject and the people they act for."""

    service: str = Field(description="The service that answered")
    categories: list[HeldCategory] = Field(description="Its records about the subject, by category")


class ErasureOut(Schema):
    """The record is gone."""

    service: str = Field(description="The service that erased it")
    category: str = Field(description="The record's category")
    record_id: str = Field(description="The record's id")
    erased_at: dt.datetime = Field(description="When")


class HeldElsewhere(Protocol):
    """One more category a shared part of the service keeps about people (the outbox's notifications)."""

    category: str

    async def held(self, session: AsyncSession, subject: str) -> HeldCategory: ...

    async def erase_held(self, session: AsyncSession, subject: str, record_id: str) -> None: ...


@dataclass(frozen=True)
class SubjectData:
    """A service's answer to personal-data requests: `collect` lists what it holds about a subject, `erase` erases
    one erasable record (raising `NotFound` or `Conflict` with the reason otherwise); `also` are the categories
    shared parts of the service keep (its notifications), listed and erased by themselves. All take the request's
    session and only flush."""

    service: str
    collect: Callable[[AsyncSession, str], Awaitable[list[HeldCategory]]]
    erase: Callable[[AsyncSession, str, str, str], Awaitable[None]]
    also: tuple[HeldElsewhere, ...] = ()


def subject_data_router(data: SubjectData, *, read_scope: str, erase_scope: str) -> APIRouter:
    """The two service-to-service routes of `data` (see the module's docstring)."""
    router = APIRouter(tags=["personal data 个人信息"])

    @router.post(
        "/subject-data-searches",
        response_model=SubjectDataOut,
        summary="What this service holds about a resident (service to service)",
        description="For the gateway's register of personal-data requests (PIPL arts. 44–47) only: the records "
        "about the resident account and the people it acts for (家属代办), masked, by category, each with whether "
        "it may be erased and, if not, the law or duty that requires keeping it. The subject is in the body, never "
        f"in a URL or a log. `{read_scope}` is held by no client: the gateway alone mints it.",
        responses=problem_responses(401, 403, 422),
    )
    async def search(body: SubjectIn, session: Session, _caller: Principal = require(read_scope)) -> SubjectDataOut:
        # A default, not `Annotated[..., require(...)]`: see shared.pii_reads (annotations are evaluated globally).
        categories = await data.collect(session, body.subject)
        categories += [await part.held(session, body.subject) for part in data.also]
        return SubjectDataOut(service=data.service, categories=categories)

    @router.post(
        "/subject-data-erasures",
        response_model=ErasureOut,
        summary="Erase one record of a resident's (service to service)",
        description="For the gateway, once staff agreed to a deletion request: erases one record the search "
        "called erasable. 404 when the subject has no such record; 409, with the reason, when the law requires "
        f"keeping it. `{erase_scope}` is held by no client: the gateway alone mints it.",
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def erase(body: ErasureIn, session: Session, _caller: Principal = require(erase_scope)) -> ErasureOut:
        part = next((part for part in data.also if part.category == body.category), None)
        if part is not None:
            await part.erase_held(session, body.subject, body.record_id)
        else:
            await data.erase(session, body.subject, body.category, body.record_id)
        return ErasureOut(service=data.service, category=body.category, record_id=body.record_id, erased_at=utcnow())

    return router
