"""What charity holds about a resident account, for personal-data requests (shared/subject_data.py): the resources
it offered (慈善资源). An offer never matched to a need may be erased; a matched one is part of the record of how
charitable resources went where, and is kept."""

from __future__ import annotations

import json

from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.charity.database import IDEMPOTENCY_KEYS
from services.charity.needs.models import Match, ResourceOffer
from shared.errors import Conflict, NotFound
from shared.i18n import N_
from shared.idnumbers import mask_phone
from shared.subject_data import MAX_RECORDS, HeldCategory, HeldRecord, SubjectData, row_id

KEEP_MATCHED = N_(
    "matched to a community's need (资源对接): part of the record of where charitable resources went, which the "
    "Charity Law (慈善法) requires to be kept and disclosed; your contact phone stays masked"
)


def _matched(offer_id) -> object:
    return exists().where(Match.offer_id == offer_id)


async def collect(session: AsyncSession, subject: str) -> list[HeldCategory]:
    offers = select(ResourceOffer, _matched(ResourceOffer.id)).where(ResourceOffer.subject == subject)
    count = await session.scalar(select(func.count()).where(ResourceOffer.subject == subject)) or 0
    rows = (await session.execute(offers.order_by(ResourceOffer.id.desc()).limit(MAX_RECORDS))).all()
    records = [
        HeldRecord(
            id=str(offer.id),
            about="self",
            fields={
                "offerer_name": offer.offerer_name,
                "contact_phone": mask_phone(offer.contact_phone),
                "category": offer.category,
                "quantity": offer.quantity,
                "unit": offer.unit,
                "area_code": offer.area_code,
                "available_until": offer.available_until.isoformat(),
            },
            recorded_at=offer.created_at,
            erasable=not matched,
            retention=KEEP_MATCHED if matched else None,
            correctable=["offerer_name", "contact_phone"],
        )
        for offer, matched in rows
    ]
    return [
        HeldCategory(
            category="resource_offers", title="慈善资源 resources this account offered", count=count, records=records
        )
    ]


async def erase(session: AsyncSession, subject: str, category: str, record_id: str) -> None:
    offer_id = row_id(record_id)
    if category != "resource_offers" or offer_id is None:
        raise NotFound(
            "charity holds no {category} record {record_id} of this subject", category=category, record_id=record_id
        )
    mine = (ResourceOffer.id == offer_id, ResourceOffer.subject == subject)
    # Conditional on no match, so a need matched meanwhile keeps its offer.
    erased = await session.execute(delete(ResourceOffer).where(*mine, ~_matched(ResourceOffer.id)))
    if erased.rowcount == 1:
        await _forget_replays(session, subject, offer_id)
        return
    if await session.scalar(select(ResourceOffer.id).where(*mine)) is None:
        raise NotFound("no resource offer {record_id} of this subject", record_id=record_id)
    raise Conflict("kept: {reason}", resource=f"resource-offers/{offer_id}", reason=KEEP_MATCHED)


async def _forget_replays(session: AsyncSession, subject: str, offer_id: int) -> None:
    """The offer's create route kept its answer (name, description) under the caller's Idempotency-Key for replays:
    that copy goes with the offer, and a replay of the key no longer answers an erased offer."""
    keys = IDEMPOTENCY_KEYS.c
    stored = await session.execute(
        select(keys.id, keys.response_body).where(
            keys.owner == subject, keys.response_body.contains('"offerer_kind"', autoescape=True)
        )
    )
    gone = [key_id for key_id, body in stored if json.loads(body).get("id") == offer_id]
    if gone:
        await session.execute(delete(IDEMPOTENCY_KEYS).where(keys.id.in_(gone)))


SUBJECT_DATA = SubjectData("charity", collect, erase)
