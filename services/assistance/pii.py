"""Personal data of the assistance service at rest (PIPL): what is encrypted, and why.

**ID numbers** are stored encrypted (`shared.pii.Encrypted`, one purpose per column so a ciphertext copied into
another column does not decrypt) next to a keyed blind index. Every table indexes the *same* blind index purpose,
`assistance.id_number` (`database.id_number_index`), so a person is found (status lookup, signals, one household
per person) and joined across
tables (members ⋈ enrolments in the screening) by equality on the index, never on clear text.

**Incomes** (`incomes.amount_fen`, `incomes.monthly_fen`) are stored encrypted too (`shared.pii.EncryptedInteger`,
purposes "incomes.amount_fen" and "incomes.monthly_fen"): an income says more about a household in hardship than
anything else it records. Both amounts are encrypted, since `amount_fen` is `monthly_fen × months` to within a few
fen. What is not an amount stays in the clear so rows can still be chosen in SQL: the member, the kind and item,
whether it is exempt, the period and the source. The price is the city-wide screening: the database can no longer
add incomes up, so each chunk reads its counted income rows, decrypts them in Python (`shared.pii.decrypt_integers`,
one cipher object per key) and loads the sums per member into a temporary table the rules' statement joins
(`discovery.batch.load_incomes`). Nothing else that adds incomes up runs in SQL. The non-negative CHECKs moved from
the database to the API's validation (`IncomeIn.amount_fen` is bounded by `shared.money.fen`).

**Responses** mask incomes by default: an income's amounts and the economic status' income totals are null
(`amounts_masked` / `incomes_masked`). The clear amounts come from `POST /households/{id}/incomes/{income_id}/
pii-reads` with `assistance.pii:read` and a stated purpose, audited under the member whose income it is. One
exception, decided on purpose: an **eligibility check** of a recorded household shows the household's counted
monthly income, per capita, and the criterion values it compared with the thresholds. That answer is the
explanation of a decision about the household (every criterion with the value used), it is only given to
staff holding `assistance.eligibility:check` for a household of their area, and it shows aggregates after the
policy's deductions, not the recorded incomes one by one.

**Leads** keep no income. A 低保 / 低保边缘 lead of the screening keeps in its reasons the rule, the day, the counted
members and the 低保 standard, and a **facts digest** (`discovery.facts`): `sha256(key || members:income:standard)`
under a subkey derived from the blind index key, computed inside the screening's INSERT … SELECT (PostgreSQL's
`sha256`, the same function registered on SQLite connections), so the screening still tells a lead closed on the
same facts by equality without the figure. Staff who visit get the counted income from an eligibility check of the
household (above). A partner signal's 低保 / 低保边缘 leads keep the same figures and digest (computed in Python with
`hashlib`, equal to the SQL one), besides the signal kind and the criteria passed. Migration c6e1f0a9d2b4 rewrote
the leads written before.

The service records no phone numbers.

`reencrypt_all` is what a key-rotation command runs for this service (`./dev manage reencrypt`): every ID number
and every income amount is rewritten under the active key (`PII_ACTIVE_KEY`); rows already under it are skipped,
so a run can be stopped and repeated. The blind index key (`PII_INDEX_KEY`) is not rotated by this: the indexes
stay valid.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.assessment.models import Income
from services.assistance.discovery.models import Signal
from services.assistance.households.models import Member
from services.assistance.programmes.models import Enrolment
from shared.pii import reencrypt


async def reencrypt_all(session: AsyncSession, *, batch: int = 500) -> dict[str, int]:
    """Move every encrypted value of the service to the active key; returns the rows changed per table."""
    return {
        model.__tablename__: await reencrypt(session, model.__table__, batch=batch)
        for model in (Member, Enrolment, Signal, Income)
    }
