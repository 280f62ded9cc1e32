"""Charity (慈善): the register of organisations now; projects, donations, trusts and needs to come."""

from fastapi import FastAPI

from services.charity.organizations.router import router as organizations_router
from services.charity.settings import CharitySettings
from shared.app import create_service_app


def create_app(settings: CharitySettings | None = None) -> FastAPI:
    return create_service_app(
        settings or CharitySettings(),
        title="Charity service (慈善)",
        description="Social organisations and charities (慈善组织): registration, public-fundraising "
                    "qualification (公开募捐资格) and evaluation grade; later projects (慈善项目), fundraising and "
                    "donations, charity trusts (慈善信托) and community charity funds.",
        routers=[organizations_router],
    )
