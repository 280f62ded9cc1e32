"""What assistance tells people, and whom (the outbox is shared/notifications.py; docs/notifications.md).

An application's steps and its decision go to the staff member who accepted it (受理), who follows it through
the chain, and to the resident who applied from their phone (`submitted_by`; a counter application has none);
a request for more materials (补充材料) goes to that resident; a periodic review (定期复核) that falls due goes to
the accepting worker.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.database import JOBS, NOTIFICATION_DELIVERIES, NOTIFICATIONS
from services.assistance.settings import AssistanceSettings
from shared.notifications import Outbox, next_page
from shared.programmes import LABELS

PEOPLE = ("resident:", "staff:")

STEPS = {
    "investigate": "已完成入户调查",
    "preliminary_review": "已完成初审",
    "public_notice": "已进入公示",
    "decide": "已作出审核确认决定",
}
STATES = {"approved": "批准", "rejected": "不予批准"}


async def audience(session: AsyncSession, who: dict[str, Any], after: str | None, limit: int) -> list[str]:
    """`{"subjects": [...]}`: the people named when the notice was written."""
    return next_page([who.get("subjects", [])], after, limit)


outbox = Outbox(
    "assistance", (NOTIFICATIONS, NOTIFICATION_DELIVERIES), JOBS, audience=audience, settings=AssistanceSettings
)


def _people(*subjects: str | None) -> dict[str, Any]:
    return {"subjects": sorted({s for s in subjects if s and s.startswith(PEOPLE)})}


async def application_moved(session: AsyncSession, application: Any, step: str) -> None:
    programme = LABELS.get(application.programme, application.programme)
    decided = application.state in STATES
    if decided:
        outcome = STATES[application.state]
        body = f"{programme}申请（编号{application.id}）审核结果：{outcome}。"
        if application.reasons:
            body += f"理由：{application.reasons}"
        kind, params = "application.decided", [programme, outcome]
    else:
        body = f"{programme}申请（编号{application.id}）{STEPS.get(step, step)}。"
        kind, params = "application.step", [programme, STEPS.get(step, step)]
    await outbox.notify(
        session,
        key=f"application.{step}:{application.id}",
        kind=kind,
        title="救助申请结果" if decided else "救助申请进度",
        body=body,
        params=params,
        audience=_people(application.created_by, application.submitted_by),
        resource=f"applications/{application.id}",
    )


async def materials_requested(session: AsyncSession, application: Any, request: Any) -> None:
    programme = LABELS.get(application.programme, application.programme)
    await outbox.notify(
        session,
        key=f"application.materials_requested:{request.id}",
        kind="application.materials_requested",
        title="请补充申请材料",
        body=f"您的{programme}申请（编号{application.id}）需要补充材料：{request.note}",
        params=[programme, str(application.id)],
        audience=_people(application.submitted_by),
        resource=f"applications/{application.id}",
    )


async def review_due(session: AsyncSession, application: Any, due_on: dt.date) -> None:
    programme = LABELS.get(application.programme, application.programme)
    await outbox.notify(
        session,
        key=f"review.due:{application.id}:{due_on.isoformat()}",
        kind="review.due",
        title="定期复核到期",
        body=f"{programme}（申请编号{application.id}）的定期复核于{due_on.isoformat()}到期，请安排复核。",
        params=[programme, due_on.isoformat()],
        audience=_people(application.created_by),
        resource=f"applications/{application.id}",
    )
