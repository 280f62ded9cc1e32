"""Place names (地名地址): divisions, standard names and their history, standard addresses, parsing."""

from fastapi import FastAPI

from services.placenames.addresses.router import router as addresses_router
from services.placenames.auth import JobsCanceller, JobsReader
from services.placenames.batches.router import router as batches_router
from services.placenames.changes.router import router as changes_router
from services.placenames.checks.router import router as checks_router
from services.placenames.divisions.router import router as divisions_router
from services.placenames.indicators.router import router as indicators_router
from services.placenames.jobs import tasks
from services.placenames.names.router import router as names_router
from services.placenames.parsing import pool as parse_pool
from services.placenames.parsing.router import router as parsing_router
from services.placenames.plates.router import router as plates_router
from services.placenames.search.router import router as search_router
from services.placenames.settings import PlacenamesSettings
from shared.app import create_service_app
from shared.jobs_api import jobs_router


def create_app(settings: PlacenamesSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or PlacenamesSettings(),
        title="Place names service (地名地址)",
        description="Administrative divisions (行政区划) of Ningbo down to village and community, with their "
        "history; standard place names (标准地名) with their naming and renaming decisions; standard "
        "addresses (标准地名地址, 一址通) with stable codes and lineage; address parsing and matching.",
        # search first: /addresses/search must not be taken for /addresses/{code}
        routers=[
            search_router,
            divisions_router,
            names_router,
            addresses_router,
            parsing_router,
            plates_router,
            checks_router,
            indicators_router,
            batches_router,
            changes_router,
            jobs_router(tasks, reader=JobsReader, canceller=JobsCanceller),
        ],
        on_startup=[parse_pool.start, parse_pool.warm_up],
        on_shutdown=[parse_pool.stop_warm_up, parse_pool.stop],
    )
