"""What eldercare tells people, and whom (the outbox is shared/notifications.py; docs/notifications.md).

The people told about an older person are their carers (家属, the residents with an approved care link), and,
where one acted, the person who did (the resident who raised a call, the staff member who placed an order).
Each notice is written in the transaction of its event, under a key that names the event once.

The texts are Chinese, for people; the SMS and WeChat templates take the parameters (an older person's name
masked, a time), never the body: in mainland China an SMS is an approved template.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare.database import JOBS, NOTIFICATION_DELIVERIES, NOTIFICATIONS
from services.eldercare.elders.models import Elder, ElderCarer
from services.eldercare.settings import EldercareSettings
from shared import clock
from shared.notifications import Outbox, next_page

PEOPLE = ("resident:", "staff:")  # subjects that are people: not services or the system


async def audience(session: AsyncSession, who: dict[str, Any], after: str | None, limit: int) -> list[str]:
    """`{"carers_of": elder_id, "subjects": [...]}`: the elder's carers and the named people, in pages."""
    sources: list[list[str]] = [list(who.get("subjects", []))]
    elder_id = who.get("carers_of")
    if elder_id is not None:
        query = select(ElderCarer.subject).where(ElderCarer.elder_id == elder_id)
        if after is not None:
            query = query.where(ElderCarer.subject > after)
        sources.append(list(await session.scalars(query.order_by(ElderCarer.subject).limit(limit))))
    return next_page(sources, after, limit)


outbox = Outbox(
    "eldercare", (NOTIFICATIONS, NOTIFICATION_DELIVERIES), JOBS, audience=audience, settings=EldercareSettings
)


def masked(name: str) -> str:
    """王阿娣 → 王**: enough for a carer to know whom it is about, not enough for anyone else."""
    return name[:1] + "*" * max(1, len(name) - 1)


def local_time(at: dt.datetime) -> str:
    return at.astimezone(clock.SHANGHAI).strftime("%m-%d %H:%M")


def carers_and(elder_id: int, *subjects: str | None) -> dict[str, Any]:
    return {"carers_of": elder_id, "subjects": sorted({s for s in subjects if s and s.startswith(PEOPLE)})}


async def _elder(session: AsyncSession, elder_id: int) -> Elder:
    elder = await session.get(Elder, elder_id)
    assert elder is not None
    return elder


async def call_raised(session: AsyncSession, call: Any) -> None:
    elder = await _elder(session, call.elder_id)
    await outbox.notify(
        session,
        key=f"call.raised:{call.id}",
        kind="call.raised",
        title="紧急呼叫",
        body=f"{masked(elder.name)}于{local_time(call.called_at)}发出紧急呼叫，工作人员正在处理。",
        params=[masked(elder.name), local_time(call.called_at)],
        audience=carers_and(elder.id, call.raised_by),
        emergency=True,
        resource=f"emergency-calls/{call.id}",
    )


async def call_answered(session: AsyncSession, call: Any, handler: str) -> None:
    elder = await _elder(session, call.elder_id)
    now = clock.now()
    await outbox.notify(
        session,
        key=f"call.answered:{call.id}",
        kind="call.answered",
        title="紧急呼叫已响应",
        body=f"{masked(elder.name)}的紧急呼叫已于{local_time(now)}由工作人员响应。",
        params=[masked(elder.name), local_time(now)],
        audience=carers_and(elder.id, call.raised_by),
        emergency=True,
        resource=f"emergency-calls/{call.id}",
    )


OUTCOMES = {
    "resolved_on_site": "已现场处置",
    "hospital": "已送医",
    "false_alarm": "为误报",
    "referred": "已转介",
    "died": "老人不幸离世",
}


async def call_closed(session: AsyncSession, call: Any, outcome: str) -> None:
    elder = await _elder(session, call.elder_id)
    result = OUTCOMES.get(outcome, outcome)
    await outbox.notify(
        session,
        key=f"call.closed:{call.id}",
        kind="call.closed",
        title="紧急呼叫已结束",
        body=f"{masked(elder.name)}的紧急呼叫已结束：{result}。",
        params=[masked(elder.name), result],
        audience=carers_and(elder.id, call.raised_by),
        resource=f"emergency-calls/{call.id}",
    )


async def visit_missed(session: AsyncSession, visit: Any) -> None:
    elder = await _elder(session, visit.elder_id)
    await outbox.notify(
        session,
        key=f"visit.missed:{visit.id}",
        kind="visit.missed",
        title="上门服务未到",
        body=f"{masked(elder.name)}预约于{local_time(visit.starts_at)}的上门服务没有签到，已记为未到。",
        params=[masked(elder.name), local_time(visit.starts_at)],
        audience=carers_and(elder.id),
        resource=f"visits/{visit.id}",
    )


async def visit_unverified(session: AsyncSession, visit: Any) -> None:
    elder = await _elder(session, visit.elder_id)
    await outbox.notify(
        session,
        key=f"visit.unverified:{visit.id}",
        kind="visit.unverified",
        title="上门服务待核实",
        body=f"{masked(elder.name)}于{local_time(visit.starts_at)}的上门服务未通过核验"
        f"（{'、'.join(visit.flags or [])}），工作人员将核实。",
        params=[masked(elder.name), local_time(visit.starts_at)],
        audience=carers_and(elder.id),
        resource=f"visits/{visit.id}",
    )


async def bed_offered(session: AsyncSession, offer: Any, elder: Elder, institution_name: str) -> None:
    deadline = local_time(offer.expires_at)
    await outbox.notify(
        session,
        key=f"bed.offered:{offer.id}",
        kind="bed.offered",
        title="床位轮候到位",
        body=f"{institution_name}为{masked(elder.name)}保留了一张床位，请在{deadline}前确认入住，逾期将顺延给下一位。",
        params=[masked(elder.name), deadline],
        audience=carers_and(elder.id),
        resource=f"bed-holds/{offer.id}",
    )


async def meal_cancelled(session: AsyncSession, order: Any, by: str) -> None:
    elder = await _elder(session, order.elder_id)
    await outbox.notify(
        session,
        key=f"meal.cancelled:{order.id}",
        kind="meal.cancelled",
        title="助餐订单已取消",
        body=f"{masked(elder.name)}的助餐订单（{order.quantity}份）已取消。",
        params=[masked(elder.name), str(order.quantity)],
        audience=carers_and(elder.id, order.placed_by, by),
        resource=f"meal-orders/{order.id}",
    )
