import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, validates

from services.assistance.database import Base, id_number_index
from shared.db import UTCDateTime
from shared.pii import Encrypted
from shared.programmes import PROGRAMMES

# The CHECK of every table with a programme column (enrolments, applications, leads).
PROGRAMME_CHECK = "programme IN (" + ", ".join(f"'{p}'" for p in PROGRAMMES) + ")"


class Enrolment(Base):
    """A person's membership of a programme from `since_on` until `until_on` (open while current).

    Written when an application is approved (or by the seed for the demo); status lookups read it by the blind
    index of the ID number through `ix_enrolments_id_number_current`, so another service's lookup is one index
    probe. The ID number itself is stored encrypted. A person holds at most one current enrolment per programme.
    """

    __tablename__ = "enrolments"
    __table_args__ = (
        CheckConstraint(PROGRAMME_CHECK, name="programme_known"),
        CheckConstraint("until_on IS NULL OR until_on > since_on", name="period_ordered"),
        CheckConstraint("monthly_fen >= 0", name="monthly_not_negative"),
        Index(
            "uq_enrolments_current",
            "id_number_index",
            "programme",
            unique=True,
            postgresql_where=text("until_on IS NULL"),
            sqlite_where=text("until_on IS NULL"),
        ),
        Index("ix_enrolments_id_number_current", "id_number_index", "since_on"),
        Index("ix_enrolments_household_id", "household_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number: Mapped[str] = mapped_column("id_number_enc", Encrypted("enrolments.id_number"))
    id_number_index: Mapped[str] = mapped_column(String(64))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id", ondelete="SET NULL"))
    programme: Mapped[str] = mapped_column(String(32))
    since_on: Mapped[dt.date] = mapped_column(Date)
    until_on: Mapped[dt.date | None] = mapped_column(Date)
    monthly_fen: Mapped[int] = mapped_column(BigInteger)
    basis: Mapped[str] = mapped_column(String(200))  # e.g. "applications/12" or "seed"
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    @validates("id_number")
    def _index_id_number(self, _key: str, value: str) -> str:
        self.id_number_index = id_number_index(value)
        return value
