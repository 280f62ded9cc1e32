"""Leads keep a facts digest instead of the counted income

The 低保 / 低保边缘 leads a screening wrote kept the household's counted monthly income in their reasons
(`household_income_fen`), in the clear, so that the next screening could tell a lead closed on the same facts
(issue 7: incomes encrypted at rest, not shown by default). Each such lead now keeps `facts_digest` instead,
computed here from its stored figures exactly as services/assistance/discovery/facts.py computes it (the formula is
written out below so that this migration keeps doing what it did if that module changes), and the figure is
dropped.

The downgrade cannot bring the figures back: they are gone. It puts the old key back with a null value and drops
the digest, so the old code runs; the old screening then raises again the leads that had been closed (their
income compares as unknown), which is the safe way round: a visit too many, not a household missed.

Revision ID: c6e1f0a9d2b4
Revises: 66201d2b18fe
Create Date: 2026-11-29 17:40:00
"""

import hashlib
import hmac
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# The service's own keyring, as in 5717a12db7cc: the digests written here must equal those the running service
# computes, under the same blind index key.
from shared.pii import keyring

revision: str = "c6e1f0a9d2b4"
down_revision: Union[str, Sequence[str], None] = "66201d2b18fe"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BATCH = 5000
INCOME = "household_income_fen"
SELECT = sa.text(
    "SELECT id, reasons FROM leads WHERE id > :last AND screening_id IS NOT NULL "
    "AND member_id IS NULL ORDER BY id LIMIT " + str(BATCH)
).columns(id=sa.Integer, reasons=sa.JSON)
UPDATE = sa.text("UPDATE leads SET reasons = :reasons WHERE id = :id").bindparams(
    sa.bindparam("reasons", type_=sa.JSON)
)


def _digest(key: str, members, income, standard) -> str | None:
    if members is None or income is None or standard is None:
        return None
    return hashlib.sha256(f"{key}{int(members)}:{int(income)}:{int(standard)}".encode()).hexdigest()


def _rewrite(change) -> None:
    connection, last = op.get_bind(), 0
    while True:
        rows = connection.execute(SELECT, {"last": last}).all()
        if not rows:
            return
        updates = [
            {"id": row.id, "reasons": new} for row in rows if (new := change(dict(row.reasons or {}))) is not None
        ]
        if updates:
            connection.execute(UPDATE, updates)
        last = rows[-1].id


def upgrade() -> None:
    key = hmac.new(keyring().index_key, b"assistance.lead_facts", hashlib.sha256).hexdigest()

    def change(reasons: dict) -> dict | None:
        if INCOME not in reasons:
            return None
        income = reasons.pop(INCOME)
        reasons["facts_digest"] = _digest(key, reasons.get("counted_members"), income, reasons.get("standard_fen"))
        return reasons

    _rewrite(change)


def downgrade() -> None:
    def change(reasons: dict) -> dict | None:
        if "facts_digest" not in reasons:
            return None
        del reasons["facts_digest"]
        reasons[INCOME] = None  # the figure is not kept anywhere any more
        return reasons

    _rewrite(change)
