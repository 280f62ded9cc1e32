"""Assistance (社会救助): households, economic assessment, policy parameters, programme status lookups."""

from fastapi import FastAPI

from services.assistance.applications.router import router as applications_router
from services.assistance.assessment.router import router as assessment_router
from services.assistance.eligibility.router import router as eligibility_router
from services.assistance.households.router import router as households_router
from services.assistance.programmes.router import router as programmes_router
from services.assistance.policies.router import router as policies_router
from services.assistance.settings import AssistanceSettings
from shared.app import create_service_app


def create_app(settings: AssistanceSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or AssistanceSettings(),
        title="Assistance service (社会救助)",
        description="Households and members (救助家庭), family economic status assessment (家庭经济状况认定), dated "
                    "and cited policy parameters (低保标准, 低保边缘, 特困供养, 孤儿养育, 残疾人两项补贴), eligibility "
                    "that explains itself, and programme status lookups for other services.",
        routers=[policies_router, households_router, assessment_router, programmes_router, eligibility_router,
                 applications_router],
    )
