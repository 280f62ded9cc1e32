"""address search order indexes

Search as you type lists a road's (or an area's) addresses houses first, short numbers first:
ORDER BY length(match_key), match_key. With an index in that order per road, a query walks it and stops after
the page instead of sorting every address on the road (3,700 per road with 1,000,000 addresses: 6–28 ms on
PostgreSQL, 0.1–1 ms with the index). Not partial: the queries bind `status` as a parameter, which neither
PostgreSQL's generic plans nor SQLite match against an index's WHERE. The indexes on `search_key` and
`geohash` are dropped: no query uses them (prefix search goes through the road; radius search through the
cell columns), and each cost space and time on every insert.

Revision ID: 5b1e7c3a9d20
Revises: 8d8bffaf5b55
Create Date: 2026-11-29 13:40:00
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "5b1e7c3a9d20"
down_revision: Union[str, Sequence[str], None] = "8d8bffaf5b55"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index("ix_addresses_road_order", "addresses", ["road_id", sa.text("length(match_key)"), "match_key"])
    op.create_index("ix_addresses_area_order", "addresses", ["area_id", sa.text("length(match_key)"), "match_key"])
    op.drop_index("ix_addresses_search_key", table_name="addresses")
    op.drop_index("ix_addresses_geohash", table_name="addresses")


def downgrade() -> None:
    op.create_index("ix_addresses_geohash", "addresses", ["geohash"])
    op.create_index("ix_addresses_search_key", "addresses", ["search_key"])
    op.drop_index("ix_addresses_area_order", table_name="addresses")
    op.drop_index("ix_addresses_road_order", table_name="addresses")
