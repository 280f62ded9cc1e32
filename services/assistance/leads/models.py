import datetime as dt

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from services.assistance.database import Base
from services.assistance.programmes.models import PROGRAMME_CHECK
from shared.db import UTCDateTime


class Lead(Base):
    """A household (or one of its members) that looks eligible for a programme it does not receive: a visit to make."""

    __tablename__ = "leads"
    __table_args__ = (
        CheckConstraint(PROGRAMME_CHECK, name="programme_known"),
        CheckConstraint("state IN ('open', 'visited', 'closed')", name="state_known"),
        CheckConstraint("(screening_id IS NULL) <> (signal_id IS NULL)", name="one_origin"),
        # One lead per screening, household, programme and person (0 for household programmes: NULLs never clash).
        Index(
            "uq_leads_screening_target",
            "screening_id",
            "household_id",
            "programme",
            text("coalesce(member_id, 0)"),
            unique=True,
        ),
        # A screening's leads by area, in the order staff page through them (`shared.areas.within_area` turns an
        # area into a range this index serves). No index leads with area_code: the screening writes a city's leads
        # in a few statements and every index is paid per row; the area lists across screenings read the table.
        Index("ix_leads_screening_id_area_code", "screening_id", "area_code", "id"),
        # Closing (services/assistance/leads): the outcome, by whom and when, together or not at all; an
        # application is named exactly when the household applied.
        CheckConstraint(
            "outcome IS NULL OR outcome IN ('applied', 'not_eligible', 'declined', 'duplicate')", name="outcome_known"
        ),
        CheckConstraint(
            "(state = 'closed') = (outcome IS NOT NULL AND closed_by IS NOT NULL AND closed_at IS NOT "
            "NULL AND closing_reason IS NOT NULL)",
            name="closed_with_outcome",
        ),
        CheckConstraint(
            "(application_id IS NOT NULL) = (coalesce(outcome, '') = 'applied')", name="application_when_applied"
        ),
        # A screening skips what was closed for the same facts: found through this index.
        Index(
            "ix_leads_closed",
            "household_id",
            "programme",
            postgresql_where=text("state = 'closed'"),
            sqlite_where=text("state = 'closed'"),
        ),
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
