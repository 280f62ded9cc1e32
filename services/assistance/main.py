"""Assistance (社会救助): policy parameters now; households, eligibility, applications and discovery to come."""

from fastapi import FastAPI

from services.assistance.policies.router import router as policies_router
from services.assistance.settings import AssistanceSettings
from shared.app import create_service_app


def create_app(settings: AssistanceSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or AssistanceSettings(),
        title="Assistance service (社会救助)",
        description="Dated, cited policy parameters of social assistance (低保标准, 低保边缘, 特困供养, 孤儿养育, "
                    "残疾人两项补贴); later households, family economic status assessment (家庭经济状况认定), "
                    "eligibility, applications and proactive discovery (数据找人).",
        routers=[policies_router],
    )
