"""Dev and test only: demo staff accounts, a client for each service and the demo resident's account. Nothing is
seeded in production."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import service
from gateway.auth.models import OAuthClient, Resident, StaffUser
from gateway.scopes import load_all
from gateway.settings import GatewaySettings
from services import SERVICES
from shared.areas import CITY_CODE
from shared.db import utcnow
from shared.demo import DEMO_RESIDENT_PHONE, DEMO_RESIDENT_SUBJECT
from shared.divisions import division_code
from shared.scopes import scopes_held_by

DEMO_PASSWORD = "demo-password-2022"
DEMO_STAFF = [
    ("yinzhou-demo", "鄞州区民政局 (demo)", "district", division_code("鄞州区")),
    ("baizhang-demo", "百丈街道 (demo)", "street", division_code("百丈街道")),
    ("city-demo", "宁波市民政局 (demo)", "city", CITY_CODE),
    ("auditor-demo", "审计 (demo)", "auditor", CITY_CODE),
]


def dev_client_secret(service_name: str) -> str:
    """The secret each service uses in dev to get its own token (its <SERVICE>_CLIENT_SECRET default)."""
    return f"dev-client-secret-{service_name}-change-me"


async def load(session: AsyncSession) -> int:
    settings = GatewaySettings()
    if settings.env == "production":
        return 0
    load_all()  # the scopes a service client holds come from every service's declarations
    service_scopes = sorted(scopes_held_by("service"))
    created = 0
    for username, display_name, role, area in DEMO_STAFF:
        if await session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is None:
            session.add(
                StaffUser(
                    username=username,
                    display_name=display_name,
                    role=role,
                    area_code=area,
                    password_hash=await service.hash_password(DEMO_PASSWORD),
                    failed_sign_ins=0,
                    created_at=utcnow(),
                )
            )
            created += 1
    for name in SERVICES:
        client = await session.get(OAuthClient, name)
        if client is None:
            session.add(
                OAuthClient(
                    client_id=name,
                    name=f"{name} service",
                    kind="service",
                    scopes=service_scopes,
                    secret_hash=service.digest(dev_client_secret(name)),
                    created_by="seed",
                    created_at=utcnow(),
                )
            )
            created += 1
        elif client.created_by == "seed" and client.scopes != service_scopes:
            client.scopes = service_scopes  # dev: a scope declared since the last run reaches the services
    # The demo phone's account carries the subject the services' demo data name (also one made by signing in
    # before this ran), so the demo resident signing in by SMS sees their elders.
    demo = await session.scalar(
        select(Resident).where(Resident.phone_index == service.keyed_digest(settings.token_secret, DEMO_RESIDENT_PHONE))
    )
    if demo is None:
        await service.resident_with_phone(session, settings, DEMO_RESIDENT_PHONE, subject=DEMO_RESIDENT_SUBJECT)
        created += 1
    else:
        demo.subject = DEMO_RESIDENT_SUBJECT
    await session.flush()
    return created
