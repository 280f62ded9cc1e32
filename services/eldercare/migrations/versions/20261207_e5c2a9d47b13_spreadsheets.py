"""spreadsheets: uploads to import and exports to download (shared/spreadsheet_transfers.py)

Revision ID: e5c2a9d47b13
Revises: b8d2e6f0a4c1
Create Date: 2026-12-07 00:00:00

"""

from alembic import op

from shared.migrations import create_spreadsheets_table, drop_spreadsheets_table

# revision identifiers, used by Alembic.
revision = "e5c2a9d47b13"
down_revision = "b8d2e6f0a4c1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_spreadsheets_table(op.get_bind())


def downgrade() -> None:
    drop_spreadsheets_table(op.get_bind())
