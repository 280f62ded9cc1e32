"""Eldercare (养老服务): older people, meal aid, home visits, beds, assessment, emergency calls."""

from fastapi import FastAPI

from services.eldercare.assessment.router import router as assessment_router
from services.eldercare.auth import JobsCanceller, JobsReader
from services.eldercare.beds.router import create_hold
from services.eldercare.beds.router import router as beds_router
from services.eldercare.calls.router import router as calls_router
from services.eldercare.carelinks.router import router as care_links_router
from services.eldercare.database import PII_READS
from services.eldercare.elders.router import router as elders_router
from services.eldercare.elders.service import audit_subjects
from services.eldercare.familybeds.router import router as family_beds_router
from services.eldercare.homecare.router import router as homecare_router
from services.eldercare.indicators.router import router as indicators_router
from services.eldercare.jobs import spreadsheets, tasks
from services.eldercare.meals.router import place_order
from services.eldercare.meals.router import router as meals_router
from services.eldercare.notices import outbox
from services.eldercare.overrides.router import router as overrides_router
from services.eldercare.peers import close_peers, open_peers
from services.eldercare.scopes import PII_READS_READ, SUBJECT_DATA_ERASE, SUBJECT_DATA_READ
from services.eldercare.settings import EldercareSettings
from services.eldercare.settlements.router import router as settlements_router
from services.eldercare.subjects import SUBJECT_DATA
from services.eldercare.subsidies.router import router as subsidies_router
from shared.app import api_prefix, create_service_app
from shared.identity import CurrentPrincipal
from shared.jobs_api import jobs_router
from shared.pii_reads import SubjectFinder, pii_reads_router
from shared.subject_data import subject_data_router


def create_app(settings: EldercareSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or EldercareSettings(),
        title="Eldercare service (养老服务)",
        description="Older people's profiles, meal aid (老年助餐), home visits (居家上门服务), institution and "
        "family beds, capability assessment (老年人能力评估) and emergency calls (为老呼叫).",
        routers=[
            elders_router,
            assessment_router,
            meals_router,
            settlements_router,
            beds_router,
            homecare_router,
            subsidies_router,
            family_beds_router,
            calls_router,
            indicators_router,
            care_links_router,
            overrides_router,
            pii_reads_router(PII_READS, scope=PII_READS_READ, subjects=SubjectFinder("id_number", audit_subjects)),
            subject_data_router(SUBJECT_DATA, read_scope=SUBJECT_DATA_READ, erase_scope=SUBJECT_DATA_ERASE),
            jobs_router(tasks, reader=JobsReader, canceller=JobsCanceller),
            spreadsheets.router(api_prefix("eldercare")),
            outbox.messages_router(reader=CurrentPrincipal),
        ],
        busiest=[place_order, create_hold],  # meal orders and bed holds: the rushes
        on_startup=[open_peers],
        on_shutdown=[close_peers],
    )
