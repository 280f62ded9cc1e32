"""Who is calling: the gateway's signed identity assertion, and the dependencies that require it.

The gateway authenticates every caller and forwards a short-lived assertion (a JWT, HS256, audience
= the service, lifetime <= 60 s) in `X-Identity-Assertion`. Services trust nothing else: a bare header
naming a user is ignored. Authorization is declared per route with `require(...)`, which also puts the
scopes into the OpenAPI.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2, SecurityScopes

from shared.areas import CITY_CODE, covers
from shared.errors import Forbidden, Unauthorized

ASSERTION_HEADER = "x-identity-assertion"
ASSERTION_ISSUER = "minzheng-gateway"
ASSERTION_LIFETIME_S = 60
ALGORITHM = "HS256"

PrincipalKind = Literal["resident", "staff", "partner", "service"]


@dataclass(frozen=True)
class Principal:
    subject: str
    kind: PrincipalKind
    scopes: frozenset[str] = field(default_factory=frozenset)
    area: str | None = None  # staff only: the division code whose data they may see
    name: str | None = None

    def has(self, scope: str) -> bool:
        return scope in self.scopes

    def covers(self, area_code: str | None) -> bool:
        """Whether a staff member's area includes `area_code` (their division or one below it)."""
        if not self.is_area_staff or self.area is None or not area_code:
            return False
        return covers(self.area, area_code)

    def check_covers(self, area_code: str) -> None:
        """Forbidden unless the caller's area includes `area_code` (see `covers`)."""
        if not self.covers(area_code):
            raise Forbidden("area {area_code} is outside your area {area}", area_code=area_code, area=self.area)

    @property
    def is_area_staff(self) -> bool:
        """Staff with an area: the only callers whose access runs by division (`covers`, `within_area`)."""
        return self.kind == "staff" and bool(self.area)

    @property
    def is_city_staff(self) -> bool:
        """Staff whose area is the whole city: they set city-wide policy and rates."""
        return self.kind == "staff" and self.area == CITY_CODE

    def claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = {"sub": self.subject, "kind": self.kind, "scope": " ".join(sorted(self.scopes))}
        if self.area:
            claims["area"] = self.area
        if self.name:
            claims["name"] = self.name
        return claims

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        return cls(
            subject=claims["sub"],
            kind=claims["kind"],
            scopes=frozenset(claims.get("scope", "").split()),
            area=claims.get("area"),
            name=claims.get("name"),
        )


def system_principal(service: str, *scopes: str) -> Principal:
    """Who a service's scheduled jobs act as: city-wide staff named for the worker, holding only `scopes`."""
    return Principal(subject=f"system:{service}-worker", kind="staff", scopes=frozenset(scopes), area=CITY_CODE)


def sign(claims: dict[str, Any], secret: str, *, audience: str, issuer: str, lifetime_s: int) -> str:
    now = int(time.time())
    return jwt.encode(
        {**claims, "aud": audience, "iss": issuer, "iat": now, "exp": now + lifetime_s}, secret, algorithm=ALGORITHM
    )


def verify(token: str, secret: str, *, audience: str, issuer: str) -> dict[str, Any]:
    """Claims of a valid token, or Unauthorized. Only HS256 is accepted (no `none`, no key confusion)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired") from None
    except jwt.PyJWTError:
        raise Unauthorized("the token is not valid") from None
    return claims


def mint_assertion(principal: Principal, *, audience: str, secret: str, request_id: str | None = None) -> str:
    claims = principal.claims()
    if request_id:
        claims["rid"] = request_id
    return sign(claims, secret, audience=audience, issuer=ASSERTION_ISSUER, lifetime_s=ASSERTION_LIFETIME_S)


# Documentation of how callers authenticate at the gateway; services themselves read the assertion.
gateway_oauth = OAuth2(
    flows=OAuthFlows(clientCredentials=OAuthFlowClientCredentials(tokenUrl="/api/auth/v1/token", scopes={})),
    scheme_name="gateway",
    description="Bearer token issued by the gateway (residents, staff, partner departments, services).",
    auto_error=False,
)


# Assertions already verified, until they expire: the gateway reuses one assertion per caller for its
# lifetime, so most requests skip the signature check. Keyed by audience and secret too, so an assertion
# checked for one service (or under an old secret) is never taken for another.
_VERIFIED: dict[tuple[str, str, str], tuple[Principal, int]] = {}
_VERIFIED_MAX = 10_000


def _verified_principal(token: str, secret: str, audience: str) -> Principal:
    key = (token, audience, secret)
    hit = _VERIFIED.get(key)
    if hit is not None and hit[1] > time.time():
        return hit[0]
    claims = verify(token, secret, audience=audience, issuer=ASSERTION_ISSUER)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()  # crude but bounded: a full cache is rebuilt from the next requests
    principal = Principal.from_claims(claims)
    _VERIFIED[key] = (principal, int(claims["exp"]))
    return principal


def _principal_from_request(request: Request) -> Principal | None:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    token = request.headers.get(ASSERTION_HEADER)
    if not token:
        return None
    settings = request.app.state.settings
    principal = _verified_principal(token, settings.identity_secret, settings.service_name)
    request.state.principal = principal
    request.state.principal_kind = principal.kind
    return principal


async def optional_principal(
    request: Request, _doc: Annotated[str | None, Depends(gateway_oauth)] = None
) -> Principal | None:
    return _principal_from_request(request)


async def _required_principal(
    security_scopes: SecurityScopes, request: Request, _doc: Annotated[str | None, Security(gateway_oauth)] = None
) -> Principal:
    principal = _principal_from_request(request)
    if principal is None:
        raise Unauthorized()
    missing = [s for s in security_scopes.scopes if not principal.has(s)]
    if missing:
        raise Forbidden("this action needs the scope(s): {missing}", missing=", ".join(missing))
    return principal


def require(*scopes: str) -> Any:
    """Dependency: a verified caller holding every one of `scopes` (401 without one, 403 without a scope)."""
    return Security(_required_principal, scopes=list(scopes))


CurrentPrincipal = Annotated[Principal, require()]
