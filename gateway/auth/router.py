"""Sign-in endpoints of the gateway (`/api/auth/v1`): the OAuth2 token endpoint, staff sign-in, clients."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Header, Query, Request, Response

from gateway.auth import grants, oauth, service
from gateway.auth.dependencies import Caller, ClientsWrite, GrantsRead, StaffWrite
from gateway.auth.models import OAuthClient, StaffUser
from gateway.auth.oauth import OAuthError, OAuthRoute, from_refusal
from gateway.auth.schemas import (
    ClientIn,
    ClientOut,
    ClientScopesIn,
    ClientWithSecret,
    CodeRequest,
    CodeRequested,
    CodeSignIn,
    GrantOut,
    PasswordChange,
    SignOut,
    StaffAccountChange,
    StaffAccountIn,
    StaffAccountOut,
    StaffSignIn,
    TokenResponse,
    TotpConfirmation,
    TotpEnrollment,
    TotpStart,
    WeChatSignIn,
)
from gateway.principals import issue_token
from shared.db import Session, utcnow
from shared.errors import Forbidden, InvalidInput, Unauthorized, problem_responses
from shared.identity import Principal
from shared.pagination import Page, PageParams, page_of, page_params
from shared.schemas import CONTROL_CHARACTERS
from shared.scopes import DECLARED

router = APIRouter(prefix="/api/auth/v1", tags=["auth 身份认证"])
# The token endpoint answers in RFC 6749's words (gateway/auth/oauth.py), not problem+json.
token_router = APIRouter(prefix="/api/auth/v1", tags=["auth 身份认证"], route_class=OAuthRoute)


CLIENT_ID_MAX = 64


def _tokens(request: Request, principal: Principal, refresh: service.IssuedRefresh | None = None) -> TokenResponse:
    settings = request.app.state.settings
    lifetime = settings.access_token_lifetime_s
    return TokenResponse(
        access_token=issue_token(principal, settings.token_secret, lifetime),
        expires_in=lifetime,
        scope=" ".join(sorted(principal.scopes)),
        refresh_token=refresh.token if refresh else None,
    )


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "malformed Basic credentials") from None
    return client_id, secret


@token_router.post(
    "/token",
    response_model=TokenResponse,
    summary="OAuth2 token endpoint",
    description="`grant_type=client_credentials` for partner departments and services (client id and "
    "secret by HTTP Basic or in the form); `grant_type=refresh_token` to spend a refresh token "
    "for a new pair (a spent token presented again revokes its whole family). Access tokens "
    'last 15 minutes. Refusals follow RFC 6749 §5.2 (`{"error": "invalid_client", '
    '"error_description": …}`, 400, or 401 for `invalid_client`), not problem+json, so '
    "that ordinary OAuth2 client libraries read them.",
    responses=oauth.RESPONSES,
)
async def token(
    request: Request,
    session: Session,
    grant_type: Annotated[
        Literal["client_credentials", "refresh_token"],
        Form(description="`client_credentials` for clients, `refresh_token` for people"),
    ],
    client_id: Annotated[
        str | None, Form(max_length=CLIENT_ID_MAX, description="The client's id, when not sent by HTTP Basic")
    ] = None,
    client_secret: Annotated[
        str | None, Form(max_length=200, description="The client's secret, when not sent by HTTP Basic")
    ] = None,
    refresh_token: Annotated[
        str | None, Form(max_length=200, description="With `grant_type=refresh_token`: the refresh token to spend")
    ] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> TokenResponse:
    settings = request.app.state.settings
    try:
        if grant_type == "refresh_token":
            if not refresh_token:
                raise OAuthError("invalid_request", "refresh_token is required with grant_type=refresh_token")
            principal, refresh = await service.rotate_refresh(session, settings, refresh_token)
            return _tokens(request, principal, refresh)
        credentials = _basic_credentials(authorization) or (client_id, client_secret)
        if not all(credentials):
            raise OAuthError("invalid_client", "client_id and client_secret are required")
        # The id is looked up in the database: PostgreSQL refuses a NUL in text (a 500), and a form body is not a
        # model that checks its text. By HTTP Basic it has no length bound either.
        if CONTROL_CHARACTERS.search(credentials[0] or "") or len(credentials[0] or "") > CLIENT_ID_MAX:
            raise OAuthError("invalid_request", f"client_id: at most {CLIENT_ID_MAX} characters, no control characters")
        return _tokens(request, await service.authenticate_client(session, *credentials))
    except (Unauthorized, Forbidden) as refusal:
        raise from_refusal(refusal) from None


@router.post(
    "/staff-sign-ins",
    response_model=TokenResponse,
    summary="Staff sign-in (工作人员登录)",
    description="Username and password. After repeated failures the account is locked for a while. "
    "Returns a 15-minute access token and a refresh token. An account made with a one-time "
    "password (the first administrator, by `manage bootstrap`) gets a token with no scope "
    "until its holder has set up a second factor (`POST /staff/totp`, then its confirmation) "
    "and chosen a new password (`POST /staff/password`); then they sign in again.",
    responses=problem_responses(401, 422),
)
async def staff_sign_in(request: Request, body: StaffSignIn, session: Session) -> TokenResponse:
    principal = await service.sign_in_staff(
        session, request.app.state.settings, body.username, body.password, body.totp
    )
    refresh = await service.issue_refresh(session, principal, request.app.state.settings)
    return _tokens(request, principal, refresh)


@router.post(
    "/code-requests",
    status_code=202,
    response_model=CodeRequested,
    summary="Ask for a sign-in code by SMS (短信验证码)",
    description="Residents sign in with their phone and a 6-digit code. A code lasts 5 minutes and allows "
    "5 tries; one code a minute and five an hour per phone, and sign-in requests are limited "
    "per address too.",
    responses=problem_responses(404, 422, 429, 503),
)
async def request_code(request: Request, body: CodeRequest, session: Session) -> CodeRequested:
    await service.request_code(session, request.app.state.settings, request.app.state.code_sender, body.phone)
    return CodeRequested(
        expires_in=int(service.CODE_LIFETIME.total_seconds()),
        resend_after=int(service.CODE_RESEND_AFTER.total_seconds()),
    )


@router.post(
    "/code-sign-ins",
    response_model=TokenResponse,
    summary="Resident sign-in with an SMS code",
    description="Returns a 15-minute access token and a refresh token. The first sign-in creates the "
    "resident's account; the phone number is kept only as a keyed digest and a masked form.",
    responses=problem_responses(401, 422),
)
async def code_sign_in(request: Request, body: CodeSignIn, session: Session) -> TokenResponse:
    principal = await service.sign_in_resident(session, request.app.state.settings, body.phone, body.code)
    refresh = await service.issue_refresh(session, principal, request.app.state.settings)
    return _tokens(request, principal, refresh)


@router.post(
    "/wechat-sign-ins",
    response_model=TokenResponse,
    summary="WeChat mini-program sign-in (微信小程序登录)",
    description="Exchanges the code from `wx.login()` for the user's openid with WeChat, and signs the "
    "resident in (creating the account the first time). With `phone` and `sms_code` the WeChat "
    "account is linked to that phone's account, so that signing in by SMS or by WeChat is the "
    "same resident with the same records (409 when either is already linked to another "
    "account). 503 when WeChat does not answer; 404 when the deployment has no mini-program.",
    responses=problem_responses(401, 404, 409, 422, 503),
)
async def wechat_sign_in(request: Request, body: WeChatSignIn, session: Session) -> TokenResponse:
    if (body.phone is None) != (body.sms_code is None):
        given, missing = ("phone", "sms_code") if body.sms_code is None else ("sms_code", "phone")
        raise InvalidInput(
            missing, "is required with {given}: the code sent by SMS proves the phone is yours", given=given
        )
    principal = await service.sign_in_wechat(
        session, request.app.state.settings, request.app.state.wechat, body.code, body.phone, body.sms_code
    )
    refresh = await service.issue_refresh(session, principal, request.app.state.settings)
    return _tokens(request, principal, refresh)


@router.post(
    "/sign-outs",
    status_code=204,
    summary="Sign out",
    description="Revokes the refresh token and every token rotated from the same sign-in.",
    responses=problem_responses(422),
)
async def sign_out(body: SignOut, session: Session) -> Response:
    await service.sign_out(session, body.refresh_token)
    return Response(status_code=204)


@router.post(
    "/staff/totp",
    response_model=TotpEnrollment,
    summary="Set up a second factor (TOTP)",
    description="For the signed-in member of staff: a new authenticator secret, pending until confirmed "
    "with a first code. After confirmation, sign-in needs a code as well as the password. "
    "Replacing a second factor that is on (a new phone) takes the account's `current_password` "
    "(422 without it or when wrong, which counts towards lock-out).",
    responses=problem_responses(401, 403, 422),
)
async def start_totp(
    request: Request, session: Session, principal: Caller, body: TotpStart | None = None
) -> TotpEnrollment:
    current = body.current_password if body else None
    secret, uri = await service.start_totp(session, request.app.state.settings, principal, current)
    return TotpEnrollment(secret=secret, otpauth_uri=uri)


@router.post(
    "/staff/totp/confirmation",
    status_code=204,
    summary="Confirm the second factor",
    description="The first code of the authenticator app turns the second factor on: from then on, "
    "sign-in needs a code as well as the password. 409 when no set-up is waiting; 422 when "
    "the code does not match.",
    responses=problem_responses(401, 403, 409, 422),
)
async def confirm_totp(body: TotpConfirmation, session: Session, principal: Caller) -> Response:
    await service.confirm_totp(session, principal, body.code)
    return Response(status_code=204)


@router.post(
    "/staff/password",
    status_code=204,
    summary="Change one's own password",
    description="For the signed-in member of staff: the current password and a new one (12 characters at "
    "least). A wrong current password (422) counts towards lock-out. An account still on its "
    "one-time password must confirm a second factor first (409 otherwise); after this call it "
    "signs in with the new password and its code, and its tokens carry its role's scopes. Every "
    "sign-in of the account ends: its refresh tokens, on every device, no longer renew (access "
    "tokens already issued expire within 15 minutes).",
    responses=problem_responses(401, 403, 409, 422),
)
async def change_password(request: Request, body: PasswordChange, session: Session, principal: Caller) -> Response:
    await service.change_password(
        session, request.app.state.settings, principal, body.current_password, body.new_password
    )
    return Response(status_code=204)


# Client administration ----------------------------------------------------------------------------


def client_out(client: OAuthClient) -> ClientOut:
    until = client.previous_secret_valid_until
    return ClientOut(
        client_id=client.client_id,
        name=client.name,
        kind=client.kind,
        scopes=client.scopes,
        revoked=client.revoked_at is not None,
        previous_secret_valid_until=until.isoformat() if until and until > utcnow() else None,
    )


def known_scopes(scopes: list[str]) -> list[str]:
    unknown = [s for s in scopes if s not in DECLARED]
    if unknown:
        raise InvalidInput("scopes", "unknown scope(s): {unknown}", unknown=", ".join(unknown))
    return scopes


GRANT_RULE = (
    "You may grant only scopes you hold yourself (403 otherwise, and nothing is written); every grant is "
    "recorded for auditors (`GET /api/auth/v1/grants`)."
)


@router.post(
    "/clients",
    status_code=201,
    response_model=ClientWithSecret,
    summary="Register a client",
    description="A partner department (合作部门) or a service of the suite, with the scopes it may use. "
    "The secret is returned once and stored only as a digest. " + GRANT_RULE,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_client(body: ClientIn, session: Session, admin: ClientsWrite) -> ClientWithSecret:
    known_scopes(body.scopes)
    client, secret = await service.create_client(
        session, admin, client_id=body.client_id, name=body.name, kind=body.kind, scopes=body.scopes
    )
    return ClientWithSecret(client=client_out(client), client_secret=secret)


@router.post(
    "/clients/{client_id}/secret-rotations",
    response_model=ClientWithSecret,
    summary="Rotate a secret",
    description="Issues a new secret; the previous one keeps working for a grace period (24 h by default). "
    "The new secret carries the client's scopes, so you must hold them all. " + GRANT_RULE,
    responses=problem_responses(401, 403, 404),
)
async def rotate_secret(request: Request, client_id: str, session: Session, admin: ClientsWrite) -> ClientWithSecret:
    grace = dt.timedelta(seconds=request.app.state.settings.secret_rotation_grace_s)
    client, secret = await service.rotate_secret(session, admin, client_id, grace)
    return ClientWithSecret(client=client_out(client), client_secret=secret)


@router.put(
    "/clients/{client_id}/scopes",
    response_model=ClientOut,
    summary="Change a client's scopes",
    description="Replaces the scopes; any scope added must be one you hold. Tokens already issued keep the "
    "old scopes until they expire (15 minutes). " + GRANT_RULE,
    responses=problem_responses(401, 403, 404, 422),
)
async def set_scopes(client_id: str, body: ClientScopesIn, session: Session, admin: ClientsWrite) -> ClientOut:
    return client_out(await service.set_client_scopes(session, admin, client_id, known_scopes(body.scopes)))


@router.post(
    "/clients/{client_id}/revocation",
    response_model=ClientOut,
    summary="Revoke a client",
    description="The client can no longer get tokens; tokens already issued expire within 15 minutes. "
    "Recorded for auditors.",
    responses=problem_responses(401, 403, 404),
)
async def revoke(client_id: str, session: Session, admin: ClientsWrite) -> ClientOut:
    return client_out(await service.revoke_client(session, admin, client_id))


# Staff accounts -----------------------------------------------------------------------------------


def staff_out(user: StaffUser) -> StaffAccountOut:
    return StaffAccountOut(
        username=user.username, display_name=user.display_name, role=user.role, area_code=user.area_code
    )


@router.post(
    "/staff-accounts",
    status_code=201,
    response_model=StaffAccountOut,
    summary="Create a staff account",
    description="A member of staff (工作人员) with a role and the division they work for. The role's scopes "
    "must all be yours and the area within yours. " + GRANT_RULE,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_staff(body: StaffAccountIn, session: Session, admin: StaffWrite) -> StaffAccountOut:
    return staff_out(
        await service.create_staff(
            session,
            admin,
            username=body.username,
            display_name=body.display_name,
            password=body.password,
            role=body.role,
            area_code=body.area_code,
        )
    )


@router.patch(
    "/staff-accounts/{username}",
    response_model=StaffAccountOut,
    summary="Change a staff role or area",
    description="The account must be within your area and its role's scopes yours, before and after the "
    "change. Tokens already issued keep the old rights until they expire (15 minutes); a "
    "refresh reads the account again. " + GRANT_RULE,
    responses=problem_responses(401, 403, 404, 422),
)
async def change_staff(username: str, body: StaffAccountChange, session: Session, admin: StaffWrite) -> StaffAccountOut:
    return staff_out(await service.change_staff(session, admin, username, role=body.role, area_code=body.area_code))


@router.get(
    "/grants",
    response_model=Page[GrantOut],
    summary="Audit of rights granted (auditors)",
    description="Every client registered, rotated, re-scoped or revoked and every staff account created or "
    "changed: who did it, when, in which request, and what the target holds afterwards. Newest "
    "first; `target` narrows to one client (`client:<id>`) or account (`staff:<username>`).",
    responses=problem_responses(401, 403, 422),
)
async def list_grants(
    session: Session,
    auditor: GrantsRead,
    page: Annotated[PageParams, Depends(page_params)],
    target: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[GrantOut]:
    rows = await grants.list_grants(session, page, target=target)
    return page_of([GrantOut.model_validate(r, from_attributes=True) for r in rows], page, key=lambda g: g.id)
