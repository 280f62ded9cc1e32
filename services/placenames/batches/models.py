import datetime as dt

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.placenames.database import Base
from shared.db import UTCDateTime, bounded

MAX_LINES = 100_000  # lines of one uploaded batch


class BatchJob(Base):
    """A batch standardisation (批量标准化) a partner uploaded: its lines are stored with the job, and the
    `batch.standardise` job of the worker processes (jobs.py) works through them in chunks, committing
    progress as it goes, so a batch outlives the worker that started it."""

    __tablename__ = "batch_jobs"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done')", name="status_known"),
        CheckConstraint("processed_lines BETWEEN 0 AND total_lines", name="progress_in_range"),
        bounded("total_lines", 0, MAX_LINES),
        bounded("matched_lines", 0, MAX_LINES),
        bounded("bad_lines", 0, MAX_LINES),
        Index("ix_batch_jobs_owner_created_at", "owner", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10))
    encoding: Mapped[str] = mapped_column(String(10))
    total_lines: Mapped[int] = mapped_column(Integer)
    processed_lines: Mapped[int] = mapped_column(Integer, default=0)
    matched_lines: Mapped[int] = mapped_column(Integer, default=0)
    bad_lines: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class BatchLine(Base):
    __tablename__ = "batch_lines"
    __table_args__ = (
        UniqueConstraint("job_id", "line_no"),
        CheckConstraint("status IN ('pending', 'matched', 'ambiguous', 'unmatched', 'bad')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("batch_jobs.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer, doc="1-based line number in the uploaded file")
    ref: Mapped[str | None] = mapped_column(String(100), doc="The partner's own id of the line, when given")
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    code: Mapped[str | None] = mapped_column(String(20))
    full_name: Mapped[str | None] = mapped_column(String(300))
    confidence: Mapped[float | None] = mapped_column(Float)
    parts: Mapped[str | None] = mapped_column(Text, doc="JSON: kind → normalised value")
    reasons: Mapped[str | None] = mapped_column(Text)
