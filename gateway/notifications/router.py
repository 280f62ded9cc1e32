"""`/api/notifications/v1`: a person's notification preferences, and the contacts the services' workers send to."""

from __future__ import annotations

from fastapi import APIRouter, Request

from gateway.auth.dependencies import Caller, ContactsRead
from gateway.notifications import service
from gateway.notifications.schemas import ContactsIn, ContactsOut, PreferencesIn, PreferencesOut
from shared.db import Session
from shared.errors import problem_responses

router = APIRouter(prefix="/api/notifications/v1", tags=["notifications 通知"])


@router.get(
    "/preferences",
    response_model=PreferencesOut,
    summary="How I am told",
    description="The caller's notification channels: the in-app message (always: it is the written notice, "
    "listed at `GET /api/<service>/v1/messages`), SMS and WeChat subscription messages (订阅消息) as chosen, "
    "and quiet hours (免打扰, Asia/Shanghai; emergencies still go). Residents and staff only.",
    responses=problem_responses(401, 403),
)
async def get_preferences(session: Session, caller: Caller) -> PreferencesOut:
    return await service.get_preferences(session, caller)


@router.put(
    "/preferences",
    response_model=PreferencesOut,
    summary="Choose how I am told",
    description="Set the channels beyond the in-app message and the quiet hours. SMS needs a phone: a resident "
    "gives the phone they sign in with by SMS code (any other is a 422), staff their work phone. WeChat needs "
    "a sign-in with WeChat first (it gives the openid messages go to) and the template accepted in the "
    "mini-program. The in-app message cannot be turned off, and emergency calls also go by SMS to a carer "
    "whose phone is on file, whatever the choice (docs/notifications.md).",
    responses=problem_responses(401, 403, 422),
)
async def put_preferences(request: Request, session: Session, caller: Caller, body: PreferencesIn) -> PreferencesOut:
    return await service.set_preferences(session, request.app.state.settings, caller, body)


@router.post(
    "/contacts",
    response_model=ContactsOut,
    summary="Contacts of the people being notified (services' workers)",
    description="For a page of subjects (at most 500): each one's chosen channels, phone and WeChat openid (in "
    "the clear: the worker sends to them and keeps none) and quiet hours. A subject without preferences gets "
    "the defaults: in-app only, quiet hours 22:00–07:00. A POST so that no subject goes into a URL or a log. "
    "Needs `notifications.contacts:read` (the services' clients).",
    responses=problem_responses(401, 403, 422),
)
async def contacts(session: Session, _worker: ContactsRead, body: ContactsIn) -> ContactsOut:
    return ContactsOut(items=await service.contacts(session, body.subjects))
