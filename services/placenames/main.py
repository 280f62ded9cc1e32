"""Place names (地名地址): administrative divisions now; standard names, addresses and door plates to come."""

from fastapi import FastAPI

from services.placenames.divisions.router import router as divisions_router
from services.placenames.settings import PlacenamesSettings
from shared.app import create_service_app


def create_app(settings: PlacenamesSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or PlacenamesSettings(),
        title="Place names service (地名地址)",
        description="Administrative divisions (行政区划) of Ningbo down to village and community, with their "
                    "history; later standard place names, standard addresses (标准地名地址), address parsing and "
                    "digital door plates (数字门牌).",
        routers=[divisions_router],
    )
