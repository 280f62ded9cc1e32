"""Charity (慈善): organisations, projects and their disclosures, the donation ledger."""

from fastapi import FastAPI

from services.charity.auth import JobsCanceller, JobsReader
from services.charity.campaigns.router import router as campaigns_router
from services.charity.database import PII_READS
from services.charity.donations.router import record_donation
from services.charity.donations.router import router as donations_router
from services.charity.donations.service import audit_subjects
from services.charity.indicators.router import router as indicators_router
from services.charity.inkind.router import router as inkind_router
from services.charity.jobs import spreadsheets, tasks
from services.charity.ledger.router import router as ledger_router
from services.charity.needs.router import router as needs_router
from services.charity.organizations.router import router as organizations_router
from services.charity.projects.router import router as projects_router
from services.charity.public.router import router as public_router
from services.charity.receipts.router import router as receipts_router
from services.charity.scopes import PII_READS_READ, SUBJECT_DATA_ERASE, SUBJECT_DATA_READ
from services.charity.settings import CharitySettings
from services.charity.subjects import SUBJECT_DATA
from services.charity.trusts.router import router as trusts_router
from shared.app import api_prefix, create_service_app
from shared.jobs_api import jobs_router
from shared.pii_reads import SubjectFinder, pii_reads_router
from shared.subject_data import subject_data_router


def create_app(settings: CharitySettings | None = None) -> FastAPI:
    return create_service_app(
        settings or CharitySettings(),
        title="Charity service (慈善)",
        description="人人慈善: social organisations and charities (慈善组织) with their public-fundraising "
        "qualification (公开募捐资格); projects (慈善项目) from draft to closing with their filing "
        "(备案) and disclosures (信息公开); money donations, refunds and disbursements kept in an "
        "append-only double-entry ledger that reconciles.",
        routers=[
            organizations_router,
            projects_router,
            donations_router,
            ledger_router,
            receipts_router,
            public_router,
            indicators_router,
            campaigns_router,
            inkind_router,
            trusts_router,
            needs_router,
            pii_reads_router(PII_READS, scope=PII_READS_READ, subjects=SubjectFinder("phone", audit_subjects)),
            subject_data_router(SUBJECT_DATA, read_scope=SUBJECT_DATA_READ, erase_scope=SUBJECT_DATA_ERASE),
            jobs_router(tasks, reader=JobsReader, canceller=JobsCanceller),
            spreadsheets.router(api_prefix("charity")),
        ],
        busiest=[record_donation],  # a campaign's donations: the rush
    )
