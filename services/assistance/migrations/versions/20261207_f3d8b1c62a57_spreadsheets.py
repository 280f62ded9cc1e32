"""spreadsheets: uploads to import and exports to download (shared/spreadsheet_transfers.py)

Revision ID: f3d8b1c62a57
Revises: f7b2c8d4e0a6
Create Date: 2026-12-07 00:00:00

"""

from alembic import op

from shared.migrations import create_spreadsheets_table, drop_spreadsheets_table

# revision identifiers, used by Alembic.
revision = "f3d8b1c62a57"
down_revision = "f7b2c8d4e0a6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_spreadsheets_table(op.get_bind())


def downgrade() -> None:
    drop_spreadsheets_table(op.get_bind())
