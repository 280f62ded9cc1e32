"""Personal data of the eldercare service at rest: what is encrypted, and moving it to a new key.

Encrypted (`shared.pii.Encrypted`, one purpose per column): elders' and caregivers' ID numbers and phones,
the ID number a resident states in a care link request, and the phone of each emergency contact (inside the
elder's JSON list, see `elders.models.ContactsWithEncryptedPhones`). ID numbers are found by a keyed blind
index (`id_number_index`), never by their clear text. Names, addresses and coordinates stay in the clear:
staff work with them every day, and they are masked by no response either.

`reencrypt_all` is what a key-rotation command runs for this service: every encrypted value, the contact
phones included (which `shared.pii.reencrypt`, looking only at encrypted columns, would miss), is rewritten
under the active key; rows already under it are skipped, so the run can be stopped and repeated. The blind
index key (`PII_INDEX_KEY`) is not rotated by this.
"""

from __future__ import annotations

from sqlalchemy import JSON, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare.carelinks.models import CareLinkRequest
from services.eldercare.elders.models import CONTACT_PHONE, Elder
from services.eldercare.homecare.models import Caregiver
from shared.pii import keyring, reencrypt

TABLES = (Elder.__table__, Caregiver.__table__, CareLinkRequest.__table__)


async def reencrypt_contact_phones(session: AsyncSession, *, batch: int = 500) -> int:
    """Rewrite the emergency contacts whose phones are under an old key; returns the elders changed."""
    ring, table = keyring(), Elder.__table__
    raw = type_coerce(table.c.emergency_contacts, JSON).label("contacts")  # the stored JSON, phones still sealed
    changed, last = 0, 0
    while True:
        rows = (
            await session.execute(select(table.c.id, raw).where(table.c.id > last).order_by(table.c.id).limit(batch))
        ).all()
        if not rows:
            return changed
        for row in rows:
            last = row.id
            contacts = row.contacts or []
            if all(not c.get("phone") or ring.key_id(c["phone"]) == ring.active for c in contacts):
                continue
            clear = [c | {"phone": ring.decrypt(CONTACT_PHONE, c["phone"])} if c.get("phone") else c for c in contacts]
            # Written through the column type, which seals each phone under the active key.
            await session.execute(update(table).where(table.c.id == row.id).values(emergency_contacts=clear))
            changed += 1


async def reencrypt_all(session: AsyncSession, *, batch: int = 500) -> dict[str, int]:
    """Every encrypted value of the service under the active key; rows changed per table (and contacts)."""
    counts = {table.name: await reencrypt(session, table, batch=batch) for table in TABLES}
    counts["elders.emergency_contacts"] = await reencrypt_contact_phones(session, batch=batch)
    return counts
