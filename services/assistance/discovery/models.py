import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from services.assistance.database import Base, id_number_index
from shared.db import UTCDateTime, bounded
from shared.money import MAX_BILL_FEN
from shared.pii import Encrypted


class Screening(Base):
    """A whole-city (or one area's) screening, run by workers: its job `job_id` (`screening.run`) and the helper
    jobs it enqueues (`screening.chunks`) share its chunks (`ScreeningChunk`, discovery/runner.py).

    Each chunk commits its leads, marks itself done and adds to `processed_households` and `leads_count` in one
    transaction, so a chunk whose worker died is done again by another and no lead is written twice.
    """

    __tablename__ = "screenings"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="state_known"),
        CheckConstraint("processed_households <= total_households", name="progress_bounded"),
        Index("ix_screenings_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(8))
    as_of: Mapped[dt.date] = mapped_column(Date)
    area_code: Mapped[str] = mapped_column(String(12))
    until_household_id: Mapped[int] = mapped_column(Integer)  # households added later wait for the next run
    total_households: Mapped[int] = mapped_column(Integer)
    processed_households: Mapped[int] = mapped_column(Integer, default=0)
    # The checkpoint of the screenings run before the chunk table, one chunk after the other: the chunks of a
    # screening resumed from such a checkpoint begin after it. New screenings leave it at 0.
    last_household_id: Mapped[int] = mapped_column(Integer, default=0)
    leads_count: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # The row of `jobs` that runs it (none for a screening older than the worker processes): no foreign key, the
    # queue is the workers' bookkeeping and may be pruned without touching the screenings.
    job_id: Mapped[int | None] = mapped_column(Integer)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class ScreeningChunk(Base):
    """A range of a screening's households (after_id < id <= last_id), written when its job starts: workers
    claim chunks (FOR UPDATE SKIP LOCKED on PostgreSQL) for `lease_until`, and a chunk marks itself done in the
    transaction that commits its leads. One whose lease ran out while still running (its worker died) is claimed
    again; the one that claimed it before can no longer mark it done."""

    __tablename__ = "screening_chunks"
    __table_args__ = (
        UniqueConstraint("screening_id", "after_id"),
        CheckConstraint("state IN ('queued', 'running', 'done')", name="state_known"),
        CheckConstraint("last_id > after_id AND households > 0", name="range_not_empty"),
        CheckConstraint("state <> 'running' OR (claimed_by IS NOT NULL AND lease_until IS NOT NULL)", name="claimed"),
        CheckConstraint("(state = 'done') = (leads IS NOT NULL)", name="leads_when_done"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    screening_id: Mapped[int] = mapped_column(ForeignKey("screenings.id", ondelete="CASCADE"))
    after_id: Mapped[int] = mapped_column(Integer)
    last_id: Mapped[int] = mapped_column(Integer)
    households: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(8))
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    claims: Mapped[int] = mapped_column(Integer)
    leads: Mapped[int | None] = mapped_column(Integer)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Signal(Base):
    """A signal from a partner department (医保, 人社, 残联, 应急管理, 住建), kept once per partner and signal id."""

    __tablename__ = "signals"
    __table_args__ = (
        bounded("amount_fen", 0, MAX_BILL_FEN),
        UniqueConstraint("partner", "signal_id"),
        Index("ix_signals_id_number_index", "id_number_index"),
        CheckConstraint(
            "kind IN ('medical_bill', 'job_loss', 'disability_record', 'disaster', 'housing_change')", name="kind_known"
        ),
        # A disability record (残联) gives the grade with the kind, as a member's are recorded; no other kind gives
        # them. (SignalIn requires them of a disability record; those received before it did have none.)
        CheckConstraint("(disability_grade IS NULL) = (disability_kind IS NULL)", name="disability_grade_with_kind"),
        CheckConstraint("disability_grade IS NULL OR kind = 'disability_record'", name="disability_of_a_record"),
        bounded("disability_grade", 1, 4),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner: Mapped[str] = mapped_column(String(200))
    signal_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    id_number: Mapped[str] = mapped_column("id_number_enc", Encrypted("signals.id_number"))
    id_number_index: Mapped[str] = mapped_column(String(64))
    occurred_on: Mapped[dt.date] = mapped_column(Date)
    amount_fen: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text)
    disability_grade: Mapped[int | None] = mapped_column(SmallInteger)
    disability_kind: Mapped[str | None] = mapped_column(String(16))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id", ondelete="SET NULL"))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    @validates("id_number")
    def _index_id_number(self, _key: str, value: str) -> str:
        self.id_number_index = id_number_index(value)
        return value
