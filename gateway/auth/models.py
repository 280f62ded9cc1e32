import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from gateway.database import Base
from shared.db import UTCDateTime
from shared.pii import Encrypted

STAFF_ROLES = ("community_worker", "street", "district", "city", "auditor")


class OAuthClient(Base):
    """A partner department or one of our services, signing in with client credentials (RFC 6749 §4.4)."""

    __tablename__ = "oauth_clients"
    __table_args__ = (CheckConstraint("kind IN ('partner', 'service')", name="kind_known"),)

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    scopes: Mapped[list] = mapped_column(JSON)
    # Secrets are 256 random bits, so a SHA-256 digest is enough; they are never stored in the clear.
    secret_hash: Mapped[str] = mapped_column(String(64))
    previous_secret_hash: Mapped[str | None] = mapped_column(String(64))
    previous_secret_valid_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class StaffUser(Base):
    __tablename__ = "staff_users"
    __table_args__ = (
        CheckConstraint("role IN ('community_worker', 'street', 'district', 'city', 'auditor')", name="role_known"),
        CheckConstraint("failed_sign_ins >= 0", name="failures_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    area_code: Mapped[str] = mapped_column(String(12))
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Optional second factor (RFC 6238). The shared secret is encrypted at rest; the last time step used
    # is kept so that a code cannot be replayed within its window.
    totp_secret: Mapped[str | None] = mapped_column(Encrypted("staff_users.totp_secret"))
    totp_enabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # Set on an account made with a one-time password (the first administrator, by `manage bootstrap`): until
    # its holder has confirmed a second factor and chosen a new password, its tokens carry no scope.
    must_set_credentials: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class RefreshToken(Base):
    """One link of a rotation chain. A used link presented again means theft: the whole family is revoked."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family_id", "family_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("refresh_tokens.id"))
    claims: Mapped[dict] = mapped_column(JSON)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Resident(Base):
    """A resident account, found by phone or by WeChat openid, each kept only as a keyed digest.

    `subject` is the person's one identity in tokens and in the services' records (care links, orders),
    whichever way they sign in: opaque and random, so it tells neither the phone nor how many accounts exist."""

    __tablename__ = "residents"
    __table_args__ = (CheckConstraint("phone_index IS NOT NULL OR wechat_index IS NOT NULL", name="has_a_sign_in"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), unique=True)
    phone_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone_masked: Mapped[str | None] = mapped_column(String(20))
    wechat_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class OneTimeCode(Base):
    __tablename__ = "one_time_codes"
    __table_args__ = (
        Index("ix_one_time_codes_phone_index_created_at", "phone_index", "created_at"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_index: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    consumed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Grant(Base):
    """Append-only audit of every change to who may do what: clients registered, re-keyed, re-scoped or
    revoked; staff accounts created or given another role or area. Auditors read it (`auth.grants:read`)."""

    __tablename__ = "grants"
    __table_args__ = (Index("ix_grants_target", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(30))
    target: Mapped[str] = mapped_column(String(200))
    # What the target holds after the change (empty once revoked), and for staff their area.
    scopes: Mapped[list] = mapped_column(JSON)
    area_code: Mapped[str | None] = mapped_column(String(12))
    request_id: Mapped[str | None] = mapped_column(String(128))
