import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from services.eldercare.database import Base
from services.eldercare.elders.models import ELDER_ID_NUMBER, index_of
from shared.db import UTCDateTime
from shared.pii import Encrypted

CARE_LINK_STATES = ("pending", "approved", "rejected")
REQUEST_ID_NUMBER = "care_link_requests.id_number"


class CareLinkRequest(Base):
    """A resident asking to act for an older person (家属关联申请), decided by staff of the person's area.

    The stated ID number is kept encrypted; its blind index is keyed like `elders.id_number_index`, so the
    request finds the person (if registered) by equality, and two pending requests of one resident for one
    number are refused by a partial unique index whether or not the person exists.
    """

    __tablename__ = "care_link_requests"
    __table_args__ = (
        CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in CARE_LINK_STATES) + ")", name="status_known"),
        CheckConstraint("status <> 'approved' OR elder_id IS NOT NULL", name="approved_has_elder"),
        CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name="decided_when_not_pending"),
        Index(
            "uq_care_link_requests_requester_pending",
            "requester",
            "id_number_index",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_care_link_requests_elder_id", "elder_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    requester: Mapped[str] = mapped_column(String(200))
    id_number: Mapped[str] = mapped_column(Encrypted(REQUEST_ID_NUMBER))
    id_number_index: Mapped[str] = mapped_column(String(64), default=index_of(ELDER_ID_NUMBER, "id_number"))
    stated_name: Mapped[str] = mapped_column(String(50))
    relation: Mapped[str] = mapped_column(String(20))
    # The registered person the number belongs to, if any: never shown to the requester before approval.
    elder_id: Mapped[int | None] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(String(200))
