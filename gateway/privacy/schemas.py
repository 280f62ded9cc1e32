import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from shared.schemas import Schema
from shared.subject_data import CATEGORY_PATTERN, RECORD_ID_PATTERN, HeldCategory

RequestKind = Literal["access", "correction", "deletion"]
RequestStatus = Literal["open", "done", "refused"]


class ServiceHeld(Schema):
    """What one service (or the gateway itself) holds, or why it could not be asked just now."""

    service: str = Field(description="The service, or `gateway` for the sign-in account")
    available: bool = Field(description="false: the service did not answer; ask again later")
    message: str | None = Field(None, description="Why the service's part is missing")
    categories: list[HeldCategory] = Field(default_factory=list, description="What it holds, by category")


class CopyOut(Schema):
    """A copy of what the suite holds about the caller and the people they act for (PIPL art. 45)."""

    request_id: int = Field(description="The access request this copy answers, kept in the register")
    subject: str = Field(description="The caller's account")
    services: list[ServiceHeld] = Field(description="What each service holds, or why it could not be asked")


class DataRequestIn(Schema):
    """A correction (PIPL art. 46) or a deletion (art. 47) of one record, as a copy named it."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["correction", "deletion"] = Field(description="correction (PIPL art. 46) or deletion (art. 47)")
    # Not placenames: it keeps nothing by resident account, so there is no record of it to correct or delete.
    service: Literal["gateway", "eldercare", "assistance", "charity"] = Field(
        description="The service that holds the record, as in the copy"
    )
    category: str = Field(
        pattern=CATEGORY_PATTERN, examples=["care_link_requests"], description="The record's category, as in the copy"
    )
    record_id: str = Field(pattern=RECORD_ID_PATTERN, examples=["12"], description="The record's id, as in the copy")
    field: str | None = Field(
        None, pattern=CATEGORY_PATTERN, description="A correction: the field, one of the record's `correctable`"
    )
    corrected_value: str | None = Field(
        None, min_length=1, max_length=200, description="A correction: what the field should say (kept encrypted)"
    )
    reason: str | None = Field(None, max_length=500, description="In the resident's own words")


class AnswerIn(Schema):
    """Staff's answer: done (what was done) or refused (the law or reason)."""

    model_config = ConfigDict(extra="forbid")
    outcome: Literal["done", "refused"] = Field(description="done: granted and carried out; refused: with the reason")
    answer: str = Field(
        min_length=2,
        max_length=1000,
        examples=["地址已按户口簿更正 (address corrected)"],
        description="What was done, or why it was refused: the resident reads it",
    )


class DataRequestOut(Schema):
    """A request in the register and where it stands."""

    model_config = ConfigDict(from_attributes=True)
    id: int = Field(description="The request's number in the register")
    subject: str = Field(description="The resident account that asked")
    kind: RequestKind = Field(description="access (a copy, answered at once), correction or deletion")
    service: str | None = Field(description="The service holding the record (none for a copy)")
    category: str | None = Field(description="The record's category")
    record_id: str | None = Field(description="The record's id within its category")
    about: str | None = Field(description="Whose record: `self` or `elder:<id>`")
    field: str | None = Field(description="A correction: the field to correct")
    corrected_value: str | None = Field(
        description="A correction: what the field should read; masked in others' lists, in the clear on the request"
    )
    reason: str | None = Field(description="The resident's own words")
    status: RequestStatus = Field(description="open until answered: done, or refused with the reason")
    answer: str | None = Field(description="What was done, or the law or reason it was refused for")
    answered_by: str | None = Field(description="Who answered: staff, or `system:gateway-privacy` for a refusal by law")
    answered_at: dt.datetime | None = Field(description="When it was answered")
    created_at: dt.datetime = Field(description="When it was asked")
    due_on: dt.date = Field(
        description="The last day of the answer (Asia/Shanghai): the day asked plus `privacy_answer_days`, an "
        "assumption (docs/privacy.md)"
    )
    overdue: bool = Field(description="Still open after its due day")


class EventOut(Schema):
    """One audited step of a request."""

    model_config = ConfigDict(from_attributes=True)
    at: dt.datetime = Field(description="When")
    actor: str = Field(description="Who: the resident, staff, or `system:gateway-privacy`")
    action: Literal["copied", "submitted", "refused", "answered", "erased"] = Field(description="What happened")
    detail: str | None = Field(description="The reason, answer or outcome recorded with it")
    request_id: str | None = Field(description="The HTTP request id it happened under (X-Request-ID)")


class DataRequestDetailOut(DataRequestOut):
    """A request with its audited steps."""

    events: list[EventOut] = Field(description="Its audited steps, oldest first")
