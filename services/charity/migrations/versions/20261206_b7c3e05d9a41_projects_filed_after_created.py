"""projects: a plan is filed on or after the day its project was created

A filing dated before the project existed was accepted. The CHECK compares the filing date with the Shanghai
date of `created_at` (projects.models.shanghai_date); each database spells that date its own way. PostgreSQL
adds it NOT VALID (shared.migrations.add_checks): rows already there are not checked.

Revision ID: b7c3e05d9a41
Revises: a10eb491012a
Create Date: 2026-12-06 18:50:00

"""

from alembic import op

from shared.migrations import add_checks, drop_checks

# revision identifiers, used by Alembic.
revision = "b7c3e05d9a41"
down_revision = "a10eb491012a"
branch_labels = None
depends_on = None

SHANGHAI_DATE = {  # of created_at: Shanghai keeps UTC+8 all year
    "postgresql": "CAST(timezone('Asia/Shanghai', created_at) AS DATE)",
    "sqlite": "date(created_at, '+8 hours')",
}


def _checks() -> dict:
    created_on = SHANGHAI_DATE[op.get_bind().dialect.name]
    return {"projects": {"ck_projects_filed_after_created": f"filed_on IS NULL OR filed_on >= {created_on}"}}


def upgrade() -> None:
    add_checks(_checks())


def downgrade() -> None:
    drop_checks(_checks())
