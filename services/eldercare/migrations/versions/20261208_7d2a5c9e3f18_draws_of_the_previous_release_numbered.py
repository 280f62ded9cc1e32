"""draws of the previous release numbered: a draw written without its number (visit_seq) is its visit's first

Migration 9c4e7a1d2b36 numbered a visit's draws and reversals, and a draw must carry its number. The release before it
writes draws without one: during a rolling upgrade (and after a rollback) its check-outs on this schema were refused
by the CHECK, where the operations rule says a migration never breaks the release before it. On PostgreSQL (where
releases run side by side) a trigger now gives such a draw the number 1, before the constraints are checked: it is
its visit's first draw, as that release draws only a visit with no entry, and a second one is refused by the unique
key as uq_subsidy_entries_visit_id refused it before. SQLite (the embedded default, one process, no rolling upgrade)
has no such trigger: a BEFORE trigger there cannot change the row.

What the previous release still does not know, and an operator rolling back below 9c4e7a1d2b36 should: the kind
'reversal' (its entry list of an account holding one answers 500), and that a visit may have several entries (its
visit answer may show the subsidy of any one of them).

Revision ID: 7d2a5c9e3f18
Revises: 4b8e2f6c1a93
Create Date: 2026-12-08 01:35:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "7d2a5c9e3f18"
down_revision = "4b8e2f6c1a93"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""CREATE FUNCTION eldercare_subsidy_entries_number_draw() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.kind = 'draw' AND NEW.visit_id IS NOT NULL AND NEW.visit_seq IS NULL THEN
    NEW.visit_seq := 1;
  END IF;
  RETURN NEW;
END $$""")
    op.execute(
        "CREATE TRIGGER subsidy_entries_number_draw BEFORE INSERT ON subsidy_entries "
        "FOR EACH ROW EXECUTE FUNCTION eldercare_subsidy_entries_number_draw()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER subsidy_entries_number_draw ON subsidy_entries")
    op.execute("DROP FUNCTION eldercare_subsidy_entries_number_draw()")
