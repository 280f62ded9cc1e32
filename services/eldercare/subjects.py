"""What eldercare holds about a resident account, for personal-data requests (shared/subject_data.py): the care link
requests it made, the people it acts for (their records, the meal orders for them, and who read their personal data
in the clear), and which of these the law lets be erased."""

from __future__ import annotations

from sqlalchemy import String, cast, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare.carelinks.models import CareLinkRequest
from services.eldercare.database import PII_READS
from services.eldercare.elders.models import Elder, ElderCarer
from services.eldercare.meals.models import Canteen, MealOrder, Menu
from services.eldercare.notices import outbox
from shared.errors import Conflict, NotFound
from shared.i18n import N_
from shared.idnumbers import mask_id_number, mask_phone
from shared.subject_data import MAX_RECORDS, HeldCategory, HeldRecord, SubjectData, row_id

# Why each kept category must be kept. PIPL art. 47 lets a person have their data erased once its purpose is served,
# consent is withdrawn, …; where a law sets a keeping period that has not run out, the data is kept (art. 47, para 2).
KEEP_ELDER = N_(
    "the older person's own record in the eldercare register (养老服务对象档案): it serves them, and only they or the "
    "staff of their area may close it; a carer may ask for a correction"
)
KEEP_APPROVED_LINK = N_(
    "the decision that let this account act for the person (家属关联审核): kept as the record of who was given that "
    "right while the care link stands; ending the care link is a deletion of `care_links`"
)
KEEP_ORDER = N_(
    "a meal subsidised with public funds (老年助餐补贴): part of the canteen's settlement statement and kept as an "
    "accounting record (会计档案管理办法, 财政部 国家档案局令第79号: accounting vouchers 30 years)"
)
KEEP_READ = N_(
    "the audit of a read of personal data in the clear (append-only): kept as the record of who read what and why "
    "(PIPL art. 51; 网络安全法 art. 21: logs at least six months)"
)


def _record(record_id: object, about: str, fields: dict, at, *, keep: str | None = None, correctable=()) -> HeldRecord:
    return HeldRecord(
        id=str(record_id),
        about=about,
        fields=fields,
        recorded_at=at,
        erasable=keep is None,
        retention=keep,
        correctable=list(correctable),
    )


async def _count(session: AsyncSession, query) -> int:
    return await session.scalar(select(func.count()).select_from(query.order_by(None).limit(None).subquery())) or 0


async def collect(session: AsyncSession, subject: str) -> list[HeldCategory]:
    cared_for = select(ElderCarer.elder_id).where(ElderCarer.subject == subject)
    categories = []

    requests = select(CareLinkRequest).where(CareLinkRequest.requester == subject).order_by(CareLinkRequest.id.desc())
    categories.append(
        HeldCategory(
            category="care_link_requests",
            title="家属关联申请 care link requests this account made",
            count=await _count(session, requests),
            records=[
                _record(
                    r.id,
                    "self",
                    {
                        "stated_name": r.stated_name,
                        "id_number": mask_id_number(r.id_number),
                        "relation": r.relation,
                        "status": r.status,
                    },
                    r.created_at,
                    keep=KEEP_APPROVED_LINK if r.status == "approved" else None,
                )
                for r in await session.scalars(requests.limit(MAX_RECORDS))
            ],
        )
    )

    links = select(ElderCarer, Elder).join(Elder, Elder.id == ElderCarer.elder_id).where(ElderCarer.subject == subject)
    rows = (await session.execute(links.order_by(ElderCarer.id.desc()).limit(MAX_RECORDS))).all()
    categories.append(
        HeldCategory(
            category="care_links",
            title="家属关联 the people this account acts for (erasing one ends the care link)",
            count=await _count(session, links),
            records=[
                _record(link.id, f"elder:{elder.id}", {"elder_id": elder.id, "relation": link.relation}, None)
                for link, elder in rows
            ],
        )
    )
    categories.append(
        HeldCategory(
            category="elders",
            title="养老服务对象 the records of the people this account acts for",
            count=len(rows),
            records=[
                _record(
                    elder.id,
                    f"elder:{elder.id}",
                    {
                        "name": elder.name,
                        "id_number": mask_id_number(elder.id_number),
                        "phone": mask_phone(elder.phone) if elder.phone else None,
                        "address": elder.address,
                        "area_code": elder.area_code,
                        "lives_alone": elder.lives_alone,
                        "emergency_contacts": len(elder.emergency_contacts),
                    },
                    elder.created_at,
                    keep=KEEP_ELDER,
                    correctable=("name", "phone", "address", "emergency_contacts"),
                )
                for _link, elder in rows
            ],
        )
    )

    orders = (
        select(MealOrder, Menu, Canteen)
        .join(Menu, Menu.id == MealOrder.menu_id)
        .join(Canteen, Canteen.id == Menu.canteen_id)
        .where(MealOrder.elder_id.in_(cared_for))
        .order_by(MealOrder.id.desc())
    )
    categories.append(
        HeldCategory(
            category="meal_orders",
            title="助餐订单 meal orders for the people this account acts for",
            count=await _count(session, orders),
            records=[
                _record(
                    order.id,
                    f"elder:{order.elder_id}",
                    {
                        "canteen": canteen.name,
                        "served_on": menu.served_on.isoformat(),
                        "meal": menu.meal,
                        "status": order.status,
                        "subsidy_fen": order.subsidy_fen,
                        "payable_fen": order.payable_fen,
                        "placed_by_this_account": order.placed_by == subject,
                    },
                    order.created_at,
                    keep=KEEP_ORDER,
                )
                for order, menu, canteen in (await session.execute(orders.limit(MAX_RECORDS))).all()
            ],
        )
    )

    elder_ids = cared_for.with_only_columns(cast(ElderCarer.elder_id, String))  # the audit keeps ids as text
    reads = (
        select(PII_READS)
        .where(PII_READS.c.subject_type == "elder", PII_READS.c.subject_id.in_(elder_ids))
        .order_by(PII_READS.c.id.desc())
    )
    categories.append(
        HeldCategory(
            category="pii_reads",
            title="个人信息查阅记录 who read the personal data of the people this account acts for, and why",
            count=await _count(session, reads),
            records=[
                _record(
                    read.id,
                    f"elder:{read.subject_id}",
                    {
                        "reader_kind": read.reader_kind,
                        "reader_area": read.reader_area,
                        "fields": read.fields,
                        "purpose": read.purpose,
                    },
                    read.read_at,
                    keep=KEEP_READ,
                )
                for read in (await session.execute(reads.limit(MAX_RECORDS))).all()
            ],
        )
    )
    return categories


async def erase(session: AsyncSession, subject: str, category: str, record_id: str) -> None:
    """Erase a care link request that was never approved, or end a care link; everything else is kept by law."""
    key = row_id(record_id)
    if key is None:
        raise NotFound("no {category} record {record_id} of this subject", category=category, record_id=record_id)
    if category == "care_link_requests":
        request = await session.scalar(
            select(CareLinkRequest).where(CareLinkRequest.id == key, CareLinkRequest.requester == subject)
        )
        if request is None:
            raise NotFound("no care link request {record_id} of this subject", record_id=record_id)
        if request.status == "approved":
            raise Conflict(
                "kept: {reason}",
                resource=f"care-link-requests/{key}",
                reason=KEEP_APPROVED_LINK,
            )
        await session.delete(request)
    elif category == "care_links":
        ended = await session.execute(delete(ElderCarer).where(ElderCarer.id == key, ElderCarer.subject == subject))
        if ended.rowcount != 1:
            raise NotFound("no care link {record_id} of this subject", record_id=record_id)
    elif category in ("elders", "meal_orders", "pii_reads"):
        reason = {"elders": KEEP_ELDER, "meal_orders": KEEP_ORDER, "pii_reads": KEEP_READ}[category]
        raise Conflict("kept: {reason}", resource=f"{category}/{record_id}", reason=reason)
    else:
        raise NotFound("eldercare holds no category {category}", category=category)
    await session.flush()


SUBJECT_DATA = SubjectData("eldercare", collect, erase, also=(outbox,))  # and its notifications
