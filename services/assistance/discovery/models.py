import datetime as dt

from sqlalchemy import (JSON, CheckConstraint, Date, ForeignKey, Index, Integer, SmallInteger, String, Text,
                        UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, validates

from services.assistance.database import Base
from services.assistance.pii import id_number_index
from services.assistance.programmes.models import PROGRAMMES
from shared.db import UTCDateTime, bounded
from shared.money import MAX_BILL_FEN
from shared.pii import Encrypted

PROGRAMME_CHECK = "programme IN (" + ", ".join(f"'{p}'" for p in PROGRAMMES) + ")"


class Screening(Base):
    """A whole-city (or one area's) screening run as a background job that survives a restart.

    Progress is checkpointed after every chunk of households, in the same transaction as the chunk's leads, so a
    resumed job continues after `last_household_id` and never writes a lead twice.
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
    last_household_id: Mapped[int] = mapped_column(Integer, default=0)
    leads_count: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Signal(Base):
    """A signal from a partner department (医保, 人社, 残联, 应急管理, 住建), kept once per partner and signal id."""

    __tablename__ = "signals"
    __table_args__ = (
        bounded("amount_fen", 0, MAX_BILL_FEN),
        UniqueConstraint("partner", "signal_id"),
        Index("ix_signals_id_number_index", "id_number_index"),
        CheckConstraint("kind IN ('medical_bill', 'job_loss', 'disability_record', 'disaster', 'housing_change')",
                        name="kind_known"),
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


class Lead(Base):
    """A household (or one of its members) that looks eligible for a programme it does not receive: a visit to make."""

    __tablename__ = "leads"
    __table_args__ = (
        CheckConstraint(PROGRAMME_CHECK, name="programme_known"),
        CheckConstraint("state IN ('open', 'visited', 'closed')", name="state_known"),
        CheckConstraint("(screening_id IS NULL) <> (signal_id IS NULL)", name="one_origin"),
        # One lead per screening, household, programme and person (0 for household programmes: NULLs never clash).
        Index("uq_leads_screening_target", "screening_id", "household_id", "programme",
              text("coalesce(member_id, 0)"), unique=True),
        # A screening's leads by area, in the order staff page through them (`shared.areas.within_area` turns an
        # area into a range this index serves). No index leads with area_code: the screening writes a city's leads
        # in a few statements and every index is paid per row; the area lists across screenings read the table.
        Index("ix_leads_screening_id_area_code", "screening_id", "area_code", "id"),
        # Closing (services/assistance/leads): the outcome, by whom and when, together or not at all; an
        # application is named exactly when the household applied.
        CheckConstraint("outcome IS NULL OR outcome IN ('applied', 'not_eligible', 'declined', 'duplicate')",
                        name="outcome_known"),
        CheckConstraint("(state = 'closed') = (outcome IS NOT NULL AND closed_by IS NOT NULL AND closed_at IS NOT "
                        "NULL AND closing_reason IS NOT NULL)", name="closed_with_outcome"),
        CheckConstraint("(application_id IS NOT NULL) = (coalesce(outcome, '') = 'applied')",
                        name="application_when_applied"),
        # A screening skips what was closed for the same facts: found through this index.
        Index("ix_leads_closed", "household_id", "programme", postgresql_where=text("state = 'closed'"),
              sqlite_where=text("state = 'closed'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # screening_id, household_id and member_id are checked once per INSERT statement and their leads deleted with
    # the row they name, by triggers (migration a4c19e7d3b52), not by per-row foreign keys: a screening writes a
    # city's leads in a few statements, and a foreign key's trigger per row was most of the job's cost.
    screening_id: Mapped[int | None] = mapped_column(Integer)
    signal_id: Mapped[int | None] = mapped_column(ForeignKey("signals.id", ondelete="CASCADE"))
    household_id: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[int | None] = mapped_column(Integer)
    area_code: Mapped[str] = mapped_column(String(12))
    programme: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(8))
    reasons: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))
    closing_reason: Mapped[str | None] = mapped_column(Text)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id", ondelete="RESTRICT"))
    closed_by: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
