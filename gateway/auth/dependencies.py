"""Who calls the gateway's own routes: the caller of a bearer token, and one alias per scope a route requires.

The gateway's routes authenticate the bearer token directly (there is no assertion to read), so they do not
use `shared.identity.require`; a route names what it needs by its parameter's type:
`async def revoke(..., admin: ClientsWrite)`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request, Security

from gateway.principals import bearer_scheme
from gateway.scopes import (
    CLIENTS_WRITE,
    CONTACTS_READ,
    GRANTS_READ,
    PRIVACY_DATA_READ,
    PRIVACY_REQUESTS_ANSWER,
    PRIVACY_REQUESTS_WRITE,
    STAFF_WRITE,
)
from shared.errors import Forbidden, Unauthorized
from shared.identity import Principal


def caller(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    _doc: Annotated[object, Security(bearer_scheme)] = None,
) -> Principal:
    """The principal of the request's bearer token (401 without a valid one)."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized()
    principal, _ = request.app.state.authenticator.principal(authorization[7:].strip())
    return principal


def holding(scope: str) -> Any:
    """Dependency: the caller, who must hold `scope` (403 otherwise)."""

    def dependency(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        if not principal.has(scope):
            raise Forbidden("this action needs the scope {scope}", scope=scope)
        return principal

    return Depends(dependency)


Caller = Annotated[Principal, Depends(caller)]
ClientsWrite = Annotated[Principal, holding(CLIENTS_WRITE)]
StaffWrite = Annotated[Principal, holding(STAFF_WRITE)]
GrantsRead = Annotated[Principal, holding(GRANTS_READ)]
PrivacyDataRead = Annotated[Principal, holding(PRIVACY_DATA_READ)]
PrivacyRequestsWrite = Annotated[Principal, holding(PRIVACY_REQUESTS_WRITE)]
PrivacyRequestsAnswer = Annotated[Principal, holding(PRIVACY_REQUESTS_ANSWER)]
ContactsRead = Annotated[Principal, holding(CONTACTS_READ)]
