"""project sites: where a project is carried out, each at a standard address (shared/addresses.py)

Revision ID: e8b1d4f6a2c9
Revises: c3f9a1e7d5b2
Create Date: 2026-12-07 03:00:00

"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

# revision identifiers, used by Alembic.
revision = "e8b1d4f6a2c9"
down_revision = "c3f9a1e7d5b2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project_sites",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("added_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        # shared.addresses.StandardAddress
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("address_written", sa.String(200)),
        sa.Column("address_code", sa.String(20)),
        sa.Column("address_status", sa.String(16), nullable=False),
        sa.Column("area_code", sa.String(12), nullable=False),
        sa.Column("latitude", sa.Float()),
        sa.Column("longitude", sa.Float()),
        sa.UniqueConstraint("project_id", "name"),
        sa.CheckConstraint("address_status IN ('standard', 'pending', 'unresolved')", name="address_status_known"),
        sa.CheckConstraint("address_status <> 'standard' OR address_code IS NOT NULL", name="standard_address_coded"),
        sa.CheckConstraint("latitude IS NULL OR (latitude BETWEEN -90 AND 90)", name="latitude_range"),
        sa.CheckConstraint("longitude IS NULL OR (longitude BETWEEN -180 AND 180)", name="longitude_range"),
    )
    op.create_index("ix_project_sites_address_code", "project_sites", ["address_code"])
    op.create_index("ix_project_sites_address_status_id", "project_sites", ["address_status", "id"])


def downgrade() -> None:
    op.drop_table("project_sites")
