"""Leads lose the (area_code, state) index

No query could use it: the area filters were `area_code LIKE 'prefix%'`, which PostgreSQL serves from a B-tree
only under the C collation (these databases use C.UTF-8), and nothing looks leads up by area_code alone with an
equality. Yet every lead a screening writes paid for it: at city scale about a fifth of writing the leads. Area
filters are now ranges (`shared.areas.within_area`) served by ix_leads_screening_id_area_code for a screening's
leads; lists across screenings read the table in id order.

Revision ID: b81e5f0c7a93
Revises: c6e1f0a9d2b4
Create Date: 2026-11-29 19:10:00
"""

from typing import Sequence, Union

from alembic import op

revision: str = "b81e5f0c7a93"
down_revision: Union[str, Sequence[str], None] = "c6e1f0a9d2b4"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.drop_index("ix_leads_area_code_state", table_name="leads")


def downgrade() -> None:
    op.create_index("ix_leads_area_code_state", "leads", ["area_code", "state"])
