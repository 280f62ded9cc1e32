"""Assistance (社会救助): households, economic assessment, policy parameters, eligibility, applications,
status lookups for other services, and proactive discovery (signals and whole-city screening)."""

from fastapi import FastAPI

from services.assistance.applications.router import router as applications_router
from services.assistance.assessment.router import router as assessment_router
from services.assistance.auth import JobsCanceller, JobsReader
from services.assistance.catalogue.router import router as catalogue_router
from services.assistance.database import PII_READS
from services.assistance.discovery.router import router as discovery_router
from services.assistance.eligibility.router import router as eligibility_router
from services.assistance.households.router import router as households_router
from services.assistance.indicators.router import router as indicators_router
from services.assistance.jobs import spreadsheets, tasks
from services.assistance.leads.router import router as leads_router
from services.assistance.notices import outbox
from services.assistance.online.router import router as online_router
from services.assistance.policies.router import router as policies_router
from services.assistance.programmes.router import router as programmes_router
from services.assistance.programmes.service import audit_subjects
from services.assistance.scopes import PII_READS_READ, SUBJECT_DATA_ERASE, SUBJECT_DATA_READ
from services.assistance.settings import AssistanceSettings
from services.assistance.subjects import SUBJECT_DATA
from shared.app import api_prefix, create_service_app
from shared.identity import CurrentPrincipal
from shared.jobs_api import jobs_router
from shared.pii_reads import SubjectFinder, pii_reads_router
from shared.subject_data import subject_data_router


def create_app(settings: AssistanceSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or AssistanceSettings(),
        title="Assistance service (社会救助)",
        description="Households and members (救助家庭), family economic status assessment (家庭经济状况认定), dated "
        "and cited policy parameters (低保标准, 低保边缘, 特困供养, 孤儿养育, 残疾人两项补贴), eligibility "
        "that explains itself, applications through the review chain (also made from a phone, with materials), "
        "programme status lookups for other services, partner signals and whole-city screening (数据找人).",
        routers=[
            policies_router,
            households_router,
            assessment_router,
            programmes_router,
            eligibility_router,
            applications_router,
            online_router,
            discovery_router,
            leads_router,
            catalogue_router,
            indicators_router,
            pii_reads_router(PII_READS, scope=PII_READS_READ, subjects=SubjectFinder("id_number", audit_subjects)),
            # The jobs of its worker process (`python -m services.assistance.worker`): this one only enqueues.
            subject_data_router(SUBJECT_DATA, read_scope=SUBJECT_DATA_READ, erase_scope=SUBJECT_DATA_ERASE),
            jobs_router(tasks, reader=JobsReader, canceller=JobsCanceller),
            spreadsheets.router(api_prefix("assistance")),
            outbox.messages_router(reader=CurrentPrincipal),
        ],
    )
