"""spreadsheets: uploads to import and exports to download (shared/spreadsheet_transfers.py)

Revision ID: a9e4c7d25b16
Revises: e6c2a9b47d04
Create Date: 2026-12-07 00:00:00

"""

from alembic import op

from shared.migrations import create_spreadsheets_table, drop_spreadsheets_table

# revision identifiers, used by Alembic.
revision = "a9e4c7d25b16"
down_revision = "e6c2a9b47d04"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_spreadsheets_table(op.get_bind())


def downgrade() -> None:
    drop_spreadsheets_table(op.get_bind())
