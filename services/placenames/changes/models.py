"""The outbox of placenames' change feed (地名地址变更): one row per change, written in the transaction of the change."""

import datetime as dt

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from services.placenames.database import Base
from shared.db import UTCDateTime

KINDS = (
    "address.issued",
    "address.renamed",
    "address.moved",
    "address.split",
    "address.merged",
    "address.retired",
    "name.renamed",
    "name.unified",
    "name.rectified",
    "name.retired",
    "plate.issued",
    "plate.replaced",
    "plate.revoked",
    "division.renamed",
    "division.merged",
    "division.moved",
    "division.retired",
)


class Change(Base):
    """One change of the registry, as the feed serves it.

    `seq` is given when the transaction that made the change commits (see `service.assign_sequence`), in commit
    order and with no gaps, so that a reader who has seen `seq` n has seen every change up to n.
    `successors` is what the subject became: the address itself with its new text (a rename, a move), its parts
    (a split), the address it was merged into, nothing (a retirement).
    """

    __tablename__ = "changes"
    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in KINDS)})", name="kind_known"),
        CheckConstraint("seq >= 1", name="seq_positive"),
        Index("ix_changes_recorded_at", "recorded_at"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(20), doc="The subject: an address, division or plate code, a name's id")
    previous_text: Mapped[str | None] = mapped_column(String(300))
    successors: Mapped[list] = mapped_column(JSON)
    decided_on: Mapped[dt.date | None] = mapped_column(Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ChangeFeed(Base):
    """The feed's one row: the last `seq` given, and the last one pruned (cursors below it are too old).

    Taking the next numbers is an `UPDATE ... RETURNING` on this row, held until the transaction commits: two
    transactions recording changes commit one after the other, each with numbers above the other's.
    """

    __tablename__ = "change_feed"
    __table_args__ = (
        CheckConstraint("id = 1", name="one_row"),
        CheckConstraint("pruned_through >= 0 AND last_seq >= pruned_through", name="counters_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    pruned_through: Mapped[int] = mapped_column(BigInteger)
