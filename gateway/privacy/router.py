"""Personal-data requests (个人信息权利请求, PIPL arts. 44–47): `/api/privacy/v1`, served by the gateway itself."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Request

from gateway.auth.dependencies import Caller, PrivacyDataRead, PrivacyRequestsAnswer, PrivacyRequestsWrite
from gateway.privacy import service
from gateway.privacy.peers import SubjectDataPeers
from gateway.privacy.schemas import AnswerIn, CopyOut, DataRequestDetailOut, DataRequestIn, DataRequestOut
from gateway.scopes import PRIVACY_REQUESTS_ANSWER, PRIVACY_REQUESTS_READ, PRIVACY_REQUESTS_WRITE
from shared.db import RowId, Session
from shared.errors import Forbidden, problem_responses
from shared.identity import Principal
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(prefix="/api/privacy/v1", tags=["personal data 个人信息权利"])


def _register_reader(principal: Caller) -> Principal:
    """Residents follow their own requests; the staff who answer them, and auditors, read the whole register."""
    if not any(principal.has(s) for s in (PRIVACY_REQUESTS_WRITE, PRIVACY_REQUESTS_ANSWER, PRIVACY_REQUESTS_READ)):
        raise Forbidden(
            "this needs one of the scopes {privacy_requests_write}, {privacy_requests_answer}",
            privacy_requests_write=PRIVACY_REQUESTS_WRITE,
            privacy_requests_answer=PRIVACY_REQUESTS_ANSWER,
        )
    return principal


RegisterReader = Annotated[Principal, Depends(_register_reader)]


def _peers(request: Request) -> SubjectDataPeers:
    peers: SubjectDataPeers = request.app.state.privacy_peers
    return peers


Peers = Annotated[SubjectDataPeers, Depends(_peers)]


@router.post(
    "/copies",
    status_code=201,
    response_model=CopyOut,
    summary="A copy of what the suite holds about me",
    description="Everything the services hold about the caller's account and the people it acts for (家属代办: "
    "the older people whose care link staff approved): by service and category, masked as in every other answer, "
    "each record saying whether the law lets it be erased, and if not which law or duty requires keeping it (PIPL "
    "art. 45; art. 47 para. 2), and which fields a correction may name. A service that does not answer now is "
    "listed as unavailable; the rest is given. Each copy is recorded in the register as an access request answered "
    "at once, and audited.",
    responses=problem_responses(401, 403),
)
async def copy(session: Session, peers: Peers, principal: PrivacyDataRead) -> CopyOut:
    return await service.copy_for(session, peers, principal)


@router.post(
    "/data-requests",
    status_code=201,
    response_model=DataRequestOut,
    summary="Ask for a correction or a deletion",
    description="Names one record of the caller's copy (service, category, record id): any other record, "
    "whosever it is, is a 404. A correction (PIPL art. 46) names one of the record's correctable fields and what it "
    "should read. A deletion (art. 47) of a record the law requires to be kept (assistance case files, subsidy and "
    "ledger records, audits of reads, …) is refused at once with that reason (status `refused`); any other stays "
    "`open` until staff answer, by `due_on` (`privacy_answer_days` after the day asked: an assumption, see "
    "docs/privacy.md). One open request per record and kind: a second is a 409 naming the first.",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def submit(
    data: DataRequestIn, request: Request, session: Session, peers: Peers, principal: PrivacyRequestsWrite
) -> DataRequestOut:
    answer_days = request.app.state.settings.privacy_answer_days
    submitted = await service.submit(session, peers, principal, data, answer_days=answer_days)
    return service.request_out(submitted, clear=True)


@router.get(
    "/data-requests",
    response_model=Page[DataRequestOut],
    summary="Personal-data requests",
    description="Residents: their own requests. The staff who answer them, and auditors: the whole register, "
    "filtered by status, kind, or `overdue` (still open after the due day), a correction's value masked (it is "
    "shown in the clear on the request itself). Newest first.",
    responses=problem_responses(401, 403, 422),
)
async def list_requests(
    session: Session,
    principal: RegisterReader,
    page: Annotated[PageParams, Depends(page_params)],
    status: Literal["open", "done", "refused"] | None = None,
    kind: Literal["access", "correction", "deletion"] | None = None,
    overdue: bool | None = None,
) -> Page[DataRequestOut]:
    rows = await service.list_requests(session, principal, page, status=status, kind=kind, overdue=overdue)
    mine = principal.subject
    return page_of([service.request_out(r, clear=r.subject == mine) for r in rows], page, key=lambda r: r.id)


@router.get(
    "/data-requests/{request_id}",
    response_model=DataRequestDetailOut,
    summary="One personal-data request, with its audited steps",
    description="Where the request stands and each step: asked, copied, refused, erased, answered; who, when, and "
    "the request id. Another resident's request is a 404, as one that does not exist.",
    responses=problem_responses(401, 403, 404),
)
async def get_request(request_id: RowId, session: Session, principal: RegisterReader) -> DataRequestDetailOut:
    return await service.detail(session, principal, request_id)


@router.post(
    "/data-requests/{request_id}/answer",
    response_model=DataRequestOut,
    summary="Answer a personal-data request",
    description="City staff (the bureau's personal information protection officer, PIPL art. 52) answer an open "
    "request: `done` with what was done, or `refused` with the reason. Agreeing to a deletion has the service "
    "erase the record first; if it keeps it by law the answer is a 409 with that reason and the request stays "
    "open; if it does not answer, a 503 and nothing changes. A correction is made by staff through the service's "
    "own routes (audited there) and then answered here. Answered once: a second answer is a 409.",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def answer(
    request_id: RowId, data: AnswerIn, session: Session, peers: Peers, principal: PrivacyRequestsAnswer
) -> DataRequestOut:
    return service.request_out(await service.answer(session, peers, principal, request_id, data))


def install(app: FastAPI, gateway) -> None:
    """Wire the register into the gateway's own app (before its catch-all `/api/...` route)."""
    settings = gateway.settings
    app.state.privacy_peers = SubjectDataPeers(
        gateway, services=settings.privacy_services, timeout_s=settings.privacy_timeout_s
    )
    app.include_router(router)
