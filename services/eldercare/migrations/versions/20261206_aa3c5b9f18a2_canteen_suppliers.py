"""canteen suppliers: who supplies whom in the meal network (中央厨房 → 老年食堂 → 助餐点)

Expand only: two nullable columns (every existing row keeps its kind and has no supplier), a unique key the
foreign key needs, the foreign key, and two CHECKs. The CHECKs are added NOT VALID on PostgreSQL and with SQLite's
CHECKs set aside while its table is rebuilt, so a meal point registered before this release, which has no
supplier, stays (docs/operations.md, "Tightening"); a later release validates them once each has its supplier.

Revision ID: aa3c5b9f18a2
Revises: 5663f0df0229
Create Date: 2026-12-06 19:20:00

"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import add_checks, drop_checks

# revision identifiers, used by Alembic.
revision = "aa3c5b9f18a2"
down_revision = "5663f0df0229"
branch_labels = None
depends_on = None

CHECKS = {
    "canteens": {
        "ck_canteens_supplier_of_higher_level": "(supplied_by_id IS NULL AND supplier_kind IS NULL) OR (supplied_by_id IS NOT NULL AND ("
        "(kind = 'canteen' AND supplier_kind = 'central_kitchen') OR "
        "(kind = 'meal_point' AND supplier_kind IN ('central_kitchen', 'canteen'))))",
        "ck_canteens_meal_point_supplied": "kind <> 'meal_point' OR supplied_by_id IS NOT NULL",
    },
}


def upgrade() -> None:
    with op.batch_alter_table("canteens") as batch:
        batch.add_column(sa.Column("supplied_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("supplier_kind", sa.String(length=20), nullable=True))
        batch.create_unique_constraint(op.f("uq_canteens_id_kind"), ["id", "kind"])
        batch.create_index("ix_canteens_supplied_by_id", ["supplied_by_id"], unique=False)
    with op.batch_alter_table("canteens") as batch:
        batch.create_foreign_key(
            "fk_canteens_supplied_by_id_canteens", "canteens", ["supplied_by_id", "supplier_kind"], ["id", "kind"]
        )
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:  # the rebuild copies the existing rows, which the new CHECKs must not refuse (see above)
        op.execute("PRAGMA ignore_check_constraints = ON")
    add_checks(CHECKS)
    if sqlite:
        op.execute("PRAGMA ignore_check_constraints = OFF")


def downgrade() -> None:
    drop_checks(CHECKS)
    with op.batch_alter_table("canteens") as batch:
        batch.drop_constraint("fk_canteens_supplied_by_id_canteens", type_="foreignkey")
    with op.batch_alter_table("canteens") as batch:
        batch.drop_index("ix_canteens_supplied_by_id")
        batch.drop_constraint(op.f("uq_canteens_id_kind"), type_="unique")
        batch.drop_column("supplier_kind")
        batch.drop_column("supplied_by_id")
