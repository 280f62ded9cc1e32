"""online applications: declared households, consents, material requests and materials

Revision ID: 0ed6364bbb8f
Revises: 957320c5468b
Create Date: 2026-12-06 23:30:30

"""

import sqlalchemy as sa
from alembic import op

import shared.db

# revision identifiers, used by Alembic.
revision = "0ed6364bbb8f"
down_revision = "957320c5468b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_check_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("given_by", sa.String(length=200), nullable=False),
        sa.Column("given_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("wording_version", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_data_check_consents_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_data_check_consents_household_id_households"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_check_consents")),
        sa.UniqueConstraint("application_id", name=op.f("uq_data_check_consents_application_id")),
    )
    op.create_table(
        "material_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_by", sa.String(length=200), nullable=True),
        sa.Column("answered_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answer_note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(answered_at IS NULL) = (answered_by IS NULL)", name=op.f("ck_material_requests_answered_with_whom")
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_material_requests_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_material_requests")),
    )
    op.create_index(op.f("ix_material_requests_application_id"), "material_requests", ["application_id"], unique=False)
    op.create_index(
        "uq_material_requests_open",
        "material_requests",
        ["application_id"],
        unique=True,
        postgresql_where=sa.text("answered_at IS NULL"),
        sqlite_where=sa.text("answered_at IS NULL"),
    )

    op.create_table(
        "application_materials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("original_name", sa.String(length=200), nullable=False),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.Column("uploaded_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "content_type IN ('image/jpeg', 'image/png', 'image/webp', 'image/heic', 'application/pdf')",
            name=op.f("ck_application_materials_content_type_allowed"),
        ),
        sa.CheckConstraint(
            "kind IN ('id_card', 'household_register', 'income_proof', 'disability_certificate', 'medical_records', 'other')",
            name=op.f("ck_application_materials_kind_known"),
        ),
        sa.CheckConstraint("length(sha256) = 64", name=op.f("ck_application_materials_sha256_length")),
        sa.CheckConstraint(
            "size_bytes BETWEEN 1 AND 52428800", name=op.f("ck_application_materials_size_bytes_bounded")
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_materials_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["material_requests.id"],
            name=op.f("fk_application_materials_request_id_material_requests"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_materials")),
        sa.UniqueConstraint("application_id", "sha256", name=op.f("uq_application_materials_application_id_sha256")),
    )
    op.create_index(
        "ix_application_materials_application_id_id", "application_materials", ["application_id", "id"], unique=False
    )

    # Plain ALTER TABLE ADD COLUMN, not a batch: on SQLite a batch rebuilds the table, which the triggers of
    # leads (naming households) do not survive.
    op.add_column("applications", sa.Column("submitted_by", sa.String(length=200), nullable=True))
    op.create_index("ix_applications_submitted_by_id", "applications", ["submitted_by", "id"], unique=False)
    op.add_column("households", sa.Column("declared_by", sa.String(length=200), nullable=True))
    op.create_index("ix_households_declared_by_id", "households", ["declared_by", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_households_declared_by_id", table_name="households")
    op.drop_column("households", "declared_by")
    op.drop_index("ix_applications_submitted_by_id", table_name="applications")
    op.drop_column("applications", "submitted_by")
    op.drop_table("application_materials")  # with its indexes
    op.drop_table("material_requests")
    op.drop_table("data_check_consents")
