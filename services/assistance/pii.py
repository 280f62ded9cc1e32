"""Personal data of the assistance service at rest (PIPL; issue 7 item 6).

ID numbers are stored encrypted (`shared.pii.Encrypted`, one purpose per column so a ciphertext copied into
another column does not decrypt) next to a keyed blind index. Every table indexes the *same* blind index
purpose, `assistance.id_number`, so a person is found (status lookup, signals, one household per person) and
joined across tables (members ⋈ enrolments in the screening) by equality on the index, never on clear text.

Incomes stay in the clear at rest, on purpose: the set-based screening sums `monthly_fen` in SQL over every
household of the city, and the raw `amount_fen` is `monthly_fen × months` to within a few fen, so encrypting
one without the other would hide nothing. What identifies a person (the ID number) is what is encrypted.
The service records no phone numbers.

`reencrypt_all` is what a key-rotation command runs for this service: every ID number is rewritten under the
active key (`PII_ACTIVE_KEY`); rows already under it are skipped, so a run can be stopped and repeated. The
blind index key (`PII_INDEX_KEY`) is not rotated by this: the indexes stay valid.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.database import Base
from shared.pii import blind_index, keyring, reencrypt
from shared.pii_reads import pii_reads_table

ID_NUMBER_INDEX = "assistance.id_number"

# The audit of clear reads (a member's ID number, on request with a purpose) and of status lookups by ID
# number (which programmes a person receives), append-only by trigger (migration 8c1e4b7f2a90).
PII_READS = pii_reads_table(Base.metadata)


def id_number_index(id_number: str) -> str:
    """The blind index of a (validated, upper-case) ID number: equal numbers, equal indexes, in every table."""
    return blind_index(ID_NUMBER_INDEX, id_number)


def encrypt_for(purpose: str, value: str) -> str:
    """The stored text of `value` for a column of `purpose`, for code that writes rows around the ORM (bulk)."""
    return keyring().encrypt(purpose, value)


async def reencrypt_all(session: AsyncSession, *, batch: int = 500) -> dict[str, int]:
    """Move every encrypted value of the service to the active key; returns the rows changed per table."""
    # Imported here: the models import this module for the blind index.
    from services.assistance.discovery.models import Signal
    from services.assistance.households.models import Member
    from services.assistance.programmes.models import Enrolment

    return {model.__tablename__: await reencrypt(session, model.__table__, batch=batch)
            for model in (Member, Enrolment, Signal)}
