import datetime as dt

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from services.assistance.database import Base
from shared.db import UTCDateTime
from shared.uploads import DOCUMENT_TYPES

MATERIAL_KINDS = (
    "id_card",  # 身份证
    "household_register",  # 户口簿
    "income_proof",  # 收入证明
    "disability_certificate",  # 残疾人证
    "medical_records",  # 病历、医疗费用票据
    "other",  # 其他
)
MAX_MATERIAL_BYTES = 50 * 1024 * 1024  # the bound of the setting materials_max_bytes


def _in(column: str, values: tuple[str, ...] | list[str]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class DataCheckConsent(Base):
    """A resident's consent, given with an online application, that the bureau checks the household's facts
    against partner departments' records (家庭经济状况核对授权): who gave it, when, for which checks, and the
    wording they agreed to. One per application."""

    __tablename__ = "data_check_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), unique=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    given_by: Mapped[str] = mapped_column(String(200))
    given_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    checks: Mapped[list[str]] = mapped_column(JSON)  # the partner checks agreed to (schemas.PartnerCheck)
    wording_version: Mapped[str] = mapped_column(String(20))


class MaterialRequest(Base):
    """Staff asking the applicant for more materials (补充材料), open until the resident answers it.

    One open request per application at a time: a partial unique index, so two staff asking at once make one.
    """

    __tablename__ = "material_requests"
    __table_args__ = (
        CheckConstraint("(answered_at IS NULL) = (answered_by IS NULL)", name="answered_with_whom"),
        Index(
            "uq_material_requests_open",
            "application_id",
            unique=True,
            postgresql_where=text("answered_at IS NULL"),
            sqlite_where=text("answered_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    note: Mapped[str] = mapped_column(Text)  # what is needed, in words the resident reads
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    answered_by: Mapped[str | None] = mapped_column(String(200))
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    answer_note: Mapped[str | None] = mapped_column(Text)


class Material(Base):
    """A document (photo or scan) of an online application, stored in the blob store under its content hash.

    The same bytes twice on one application are one material (a unique key on the hash), so a retried upload
    never makes a second copy; the type is the one sniffed from the bytes, never the name's.
    """

    __tablename__ = "application_materials"
    __table_args__ = (
        UniqueConstraint("application_id", "sha256"),
        CheckConstraint(_in("kind", MATERIAL_KINDS), name="kind_known"),
        CheckConstraint(_in("content_type", list(DOCUMENT_TYPES)), name="content_type_allowed"),
        CheckConstraint(f"size_bytes BETWEEN 1 AND {MAX_MATERIAL_BYTES}", name="size_bytes_bounded"),
        CheckConstraint("length(sha256) = 64", name="sha256_length"),
        Index("ix_application_materials_application_id_id", "application_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("material_requests.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(24))
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    original_name: Mapped[str] = mapped_column(String(200))  # as the phone named it, for display only
    uploaded_by: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
