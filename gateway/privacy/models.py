"""The register of personal-data requests (个人信息权利请求, PIPL arts. 44–47), in the gateway's database."""

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.database import Base
from shared.db import UTCDateTime
from shared.pii import Encrypted

REQUEST_KINDS = ("access", "correction", "deletion")
REQUEST_STATES = ("open", "done", "refused")
EVENT_ACTIONS = ("copied", "submitted", "refused", "answered", "erased")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class DataRequest(Base):
    """A resident's request about their personal data: a copy (`access`, answered at once), a correction or a
    deletion of one record, tracked to an answer by its due day."""

    __tablename__ = "data_requests"
    __table_args__ = (
        CheckConstraint(_in("kind", REQUEST_KINDS), name="kind_known"),
        CheckConstraint(_in("status", REQUEST_STATES), name="status_known"),
        CheckConstraint(
            "(status = 'open') = (answered_at IS NULL AND answered_by IS NULL AND answer IS NULL)",
            name="answered_unless_open",
        ),
        CheckConstraint(
            "kind = 'access' OR (service IS NOT NULL AND category IS NOT NULL AND record_id IS NOT NULL)",
            name="names_a_record",
        ),
        CheckConstraint(
            "kind <> 'correction' OR (field IS NOT NULL AND corrected_value IS NOT NULL)", name="correction_says_what"
        ),
        CheckConstraint("due_on >= created_on", name="due_after_asked"),
        # One open request per record and kind: a second one while the first waits is the same request.
        Index(
            "uq_data_requests_open_per_record",
            "subject",
            "kind",
            "service",
            "category",
            "record_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_data_requests_subject_id", "subject", "id"),
        Index("ix_data_requests_status_due_on", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200), comment="the resident account that asked")
    kind: Mapped[str] = mapped_column(String(12))
    service: Mapped[str | None] = mapped_column(String(20))
    category: Mapped[str | None] = mapped_column(String(40))
    record_id: Mapped[str | None] = mapped_column(String(64))
    about: Mapped[str | None] = mapped_column(String(40), comment="whose record: self or elder:<id>")
    field: Mapped[str | None] = mapped_column(String(40))
    corrected_value: Mapped[str | None] = mapped_column(Encrypted("data_requests.corrected_value"))
    reason: Mapped[str | None] = mapped_column(String(500), comment="the resident's own words")
    status: Mapped[str] = mapped_column(String(10))
    answer: Mapped[str | None] = mapped_column(String(1000), comment="what was done, or why it was refused")
    answered_by: Mapped[str | None] = mapped_column(String(200))
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_on: Mapped[dt.date] = mapped_column(Date, comment="the day asked, Asia/Shanghai")
    due_on: Mapped[dt.date] = mapped_column(Date, comment="the last day of the answer (settings: privacy_answer_days)")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class DataRequestEvent(Base):
    """Append-only audit of each step of a request: who did what, when, under which request id."""

    __tablename__ = "data_request_events"
    __table_args__ = (
        CheckConstraint(_in("action", EVENT_ACTIONS), name="action_known"),
        Index("ix_data_request_events_data_request_id", "data_request_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    data_request_id: Mapped[int] = mapped_column(ForeignKey("data_requests.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(12))
    detail: Mapped[str | None] = mapped_column(String(1000))
    request_id: Mapped[str | None] = mapped_column(String(128))
