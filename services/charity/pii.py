"""Personal data of the charity service at rest (PIPL).

Donors' phones (`donations.donor_phone_enc`, with a keyed blind index for the honour list) and the contact
phones of resource offers (`resource_offers.contact_phone_enc`) are stored with `shared.pii.Encrypted`.
Clear reads go through `POST /donations/{id}/pii-reads` and leave a record in `pii_reads`
(`services.charity.database.PII_READS`).

`reencrypt_all` is what a key-rotation command runs for this service. `donations` is append-only: its
UPDATE trigger is set aside inside the caller's transaction and put back before it ends, so the rotation
commits with the trigger in place, or rolls back with it never removed. On PostgreSQL this holds an ACCESS
EXCLUSIVE lock on `donations` until commit: donations wait while the keys rotate. The blind index key
(`PII_INDEX_KEY`) is not rotated by this.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.charity.donations.models import Donation
from services.charity.needs.models import ResourceOffer
from shared.pii import reencrypt

# As the migrations create them (20261129_badd9a528752 on PostgreSQL, the same name pattern on SQLite).
_SQLITE_NO_UPDATE = (
    "CREATE TRIGGER donations_no_update BEFORE UPDATE ON donations "
    "BEGIN SELECT RAISE(ABORT, 'donations is append-only'); END"
)


async def reencrypt_all(session: AsyncSession, *, batch: int = 500) -> dict[str, int]:
    """Rewrite every encrypted value of the service under the active key; rows changed, per table."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    await session.execute(
        text(
            "DROP TRIGGER donations_no_update"
            if sqlite
            else "ALTER TABLE donations DISABLE TRIGGER donations_append_only"
        )
    )
    counts = {"donations": await reencrypt(session, Donation.__table__, batch=batch)}
    await session.execute(
        text(_SQLITE_NO_UPDATE if sqlite else "ALTER TABLE donations ENABLE TRIGGER donations_append_only")
    )
    counts["resource_offers"] = await reencrypt(session, ResourceOffer.__table__, batch=batch)
    return counts
