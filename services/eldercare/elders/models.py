import datetime as dt

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from services.eldercare.database import Base
from shared.addresses import StandardAddress, address_table_args
from shared.db import UTCDateTime
from shared.pii import Encrypted, blind_index, keyring

# Purposes of the encrypted values (bound into each ciphertext, and keying the blind indexes).
ELDER_ID_NUMBER = "elders.id_number"
ELDER_PHONE = "elders.phone"
CONTACT_PHONE = "elders.emergency_contacts.phone"


def index_of(purpose: str, source: str):
    """A column default: the blind index of the value given for `source` in the same INSERT (ORM or Core)."""

    def default(context) -> str | None:
        value = context.get_current_parameters().get(source)
        return None if value is None else blind_index(purpose, value)

    return default


def elder_id_number_index(value: str) -> str:
    """What `Elder.id_number_index` holds for an ID number: look people up by this, never by the number."""
    return blind_index(ELDER_ID_NUMBER, value)


class ContactsWithEncryptedPhones(TypeDecorator):
    """Emergency contacts as JSON (name, relation in the clear), each contact's phone encrypted."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: list | None, dialect) -> list | None:
        if value is None:
            return None
        ring = keyring()
        return [c | {"phone": ring.encrypt(CONTACT_PHONE, c["phone"])} if c.get("phone") else c for c in value]

    def process_result_value(self, value: list | None, dialect) -> list | None:
        if value is None:
            return None
        ring = keyring()
        return [c | {"phone": ring.decrypt(CONTACT_PHONE, c["phone"])} if c.get("phone") else c for c in value]


class Elder(StandardAddress, Base):
    """An older person (60+) known to the bureau."""

    __tablename__ = "elders"
    __table_args__ = (
        *address_table_args("elders"),
        CheckConstraint("sex IN ('male', 'female')", name="sex_known"),
        Index("ix_elders_area_code_id", "area_code", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number: Mapped[str] = mapped_column(Encrypted(ELDER_ID_NUMBER))
    # HMAC of the ID number: lookups and the one-record-per-person rule, without the number in the clear.
    id_number_index: Mapped[str] = mapped_column(
        String(64), unique=True, default=index_of(ELDER_ID_NUMBER, "id_number")
    )
    name: Mapped[str] = mapped_column(String(50))
    sex: Mapped[str] = mapped_column(String(6))
    birth_on: Mapped[dt.date] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(Encrypted(ELDER_PHONE))
    lives_alone: Mapped[bool] = mapped_column(Boolean, default=False)
    emergency_contacts: Mapped[list] = mapped_column(ContactsWithEncryptedPhones(), default=list)
    registered_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ElderCarer(Base):
    """A resident account that may act for an older person: the person themself or a family member."""

    __tablename__ = "elder_carers"
    __table_args__ = (UniqueConstraint("elder_id", "subject"), Index("ix_elder_carers_subject", "subject"))

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(200))
    relation: Mapped[str] = mapped_column(String(20))


class AssistanceStatus(Base):
    """The last answer of the assistance service about one older person (低保/特困/…), kept so that meal
    pricing can use it for a while when assistance does not answer."""

    __tablename__ = "assistance_statuses"

    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), primary_key=True)
    programmes: Mapped[list] = mapped_column(JSON)  # [{"code": "dibao", "since": "2021-03-01"}, ...]
    as_of: Mapped[dt.date] = mapped_column(Date)
    fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
