"""leads: references checked once per statement, not by per-row foreign keys

A screening writes a city's leads in a few INSERT … SELECT statements (1.3 M rows for a million households). The
foreign keys to screenings, households and members ran one trigger and one `SELECT … FOR KEY SHARE` per row, which
was most of the job's cost. They are replaced by:

- PostgreSQL: one statement-level trigger after INSERT that checks every new row against households, members (the
  member of that household) and screenings in one set-based query over the transition table, and statement-level
  triggers after DELETE on screenings, households and members that delete their leads (the old ON DELETE CASCADE).
  A transaction-scoped advisory lock keeps the two apart: writing leads takes it shared, deleting a referenced
  row takes it exclusive, so a delete either sees the written leads or the insert's check sees the row gone.
- SQLite (one writer at a time): a row trigger before INSERT that refuses a missing reference, and row triggers
  after DELETE that delete the leads.

On both, the three columns cannot be changed once written (a lead's target is its identity).
The foreign keys to signals and applications stay (signal leads and closures are one row at a time).

Revision ID: a4c19e7d3b52
Revises: f7d31a9b5c24
Create Date: 2026-11-29 15:00:00
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "a4c19e7d3b52"
down_revision: Union[str, Sequence[str], None] = "f7d31a9b5c24"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TARGET_INDEX = "uq_leads_screening_target"
# pg_advisory_xact_lock key shared by the insert check and the deleting triggers ('leads' in ASCII).
LOCK_KEY = 0x6C65616473

REFERENCES = [  # (column, table, constraint name)
    ("screening_id", "screenings", "fk_leads_screening_id_screenings"),
    ("household_id", "households", "fk_leads_household_id_households"),
    ("member_id", "members", "fk_leads_member_id_members"),
]

PG_UP = [
    f"""CREATE FUNCTION assistance_leads_check_references() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared({LOCK_KEY});
  -- Three anti-joins, not one query with three ORed subqueries: the planner cannot turn ORed subqueries
  -- into joins and probed them row by row (measured: 324 ms against 120-140 ms for 32,000 leads). A person's
  -- lead needs no household probe: its member is of that household, and members.household_id is a foreign key.
  IF EXISTS (SELECT 1 FROM new_leads n WHERE n.member_id IS NULL
             AND NOT EXISTS (SELECT 1 FROM households h WHERE h.id = n.household_id))
     OR EXISTS (SELECT 1 FROM new_leads n WHERE n.member_id IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM members m WHERE m.id = n.member_id AND m.household_id = n.household_id))
     OR EXISTS (SELECT 1 FROM new_leads n WHERE n.screening_id IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM screenings s WHERE s.id = n.screening_id)) THEN
    RAISE EXCEPTION 'a lead names a household, member (of that household) or screening that does not exist'
      USING ERRCODE = '23503';
  END IF;
  RETURN NULL;
END $$""",
    """CREATE TRIGGER leads_check_references AFTER INSERT ON leads REFERENCING NEW TABLE AS new_leads
  FOR EACH STATEMENT EXECUTE FUNCTION assistance_leads_check_references()""",
    """CREATE FUNCTION assistance_leads_target_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.screening_id IS DISTINCT FROM OLD.screening_id OR NEW.household_id IS DISTINCT FROM OLD.household_id
     OR NEW.member_id IS DISTINCT FROM OLD.member_id THEN
    RAISE EXCEPTION 'a lead''s screening, household and member cannot change' USING ERRCODE = '23514';
  END IF;
  RETURN NEW;
END $$""",
    """CREATE TRIGGER leads_target_fixed BEFORE UPDATE OF screening_id, household_id, member_id ON leads
  FOR EACH ROW EXECUTE FUNCTION assistance_leads_target_fixed()""",
]
for column, table, _ in REFERENCES:
    PG_UP += [
        f"""CREATE FUNCTION assistance_{table}_delete_leads() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock({LOCK_KEY});
  DELETE FROM leads WHERE {column} IN (SELECT id FROM gone);
  RETURN NULL;
END $$""",
        f"""CREATE TRIGGER {table}_delete_leads AFTER DELETE ON {table} REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION assistance_{table}_delete_leads()""",
    ]
PG_DOWN = [
    "DROP TRIGGER leads_check_references ON leads",
    "DROP FUNCTION assistance_leads_check_references()",
    "DROP TRIGGER leads_target_fixed ON leads",
    "DROP FUNCTION assistance_leads_target_fixed()",
]
for _, table, _ in REFERENCES:
    PG_DOWN += [f"DROP TRIGGER {table}_delete_leads ON {table}", f"DROP FUNCTION assistance_{table}_delete_leads()"]

SQLITE_UP = [
    """CREATE TRIGGER leads_check_references BEFORE INSERT ON leads
WHEN NOT EXISTS (SELECT 1 FROM households WHERE id = NEW.household_id)
  OR (NEW.member_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM members WHERE id = NEW.member_id AND household_id = NEW.household_id))
  OR (NEW.screening_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM screenings WHERE id = NEW.screening_id))
BEGIN SELECT RAISE(ABORT, 'a lead names a household, member (of that household) or screening that does not exist');
END""",
    """CREATE TRIGGER leads_target_fixed BEFORE UPDATE OF screening_id, household_id, member_id ON leads
WHEN NEW.screening_id IS NOT OLD.screening_id OR NEW.household_id IS NOT OLD.household_id
  OR NEW.member_id IS NOT OLD.member_id
BEGIN SELECT RAISE(ABORT, 'a lead''s screening, household and member cannot change'); END""",
] + [
    f"CREATE TRIGGER {table}_delete_leads AFTER DELETE ON {table} BEGIN DELETE FROM leads WHERE {column} = OLD.id; END"
    for column, table, _ in REFERENCES
]
SQLITE_DOWN = ["DROP TRIGGER leads_check_references", "DROP TRIGGER leads_target_fixed"] + [
    f"DROP TRIGGER {table}_delete_leads" for _, table, _ in REFERENCES
]


def _target_index(create: bool) -> None:
    if create:
        op.create_index(
            TARGET_INDEX,
            "leads",
            ["screening_id", "household_id", "programme", sa.text("coalesce(member_id, 0)")],
            unique=True,
        )
    else:
        op.drop_index(TARGET_INDEX, table_name="leads")


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if not postgresql:
        _target_index(False)  # the SQLite batch rebuild cannot carry an expression index (see b3f9d07c61e2)
    with op.batch_alter_table("leads", schema=None) as batch_op:
        for _, _, name in REFERENCES:
            batch_op.drop_constraint(name, type_="foreignkey")
    if not postgresql:
        _target_index(True)
    for statement in PG_UP if postgresql else SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in PG_DOWN if postgresql else SQLITE_DOWN:
        op.execute(statement)
    if not postgresql:
        _target_index(False)
    with op.batch_alter_table("leads", schema=None) as batch_op:
        for column, table, name in REFERENCES:
            batch_op.create_foreign_key(name, table, [column], ["id"], ondelete="CASCADE")
    if not postgresql:
        _target_index(True)
