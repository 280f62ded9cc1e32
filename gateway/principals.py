"""Bearer tokens: issued by the gateway, verified on every request, turned into service assertions.

Until real sign-in lands, dev and test environments issue tokens for four demo principals.
"""

from __future__ import annotations

import time

from fastapi.security import HTTPBearer

from gateway.scopes import load_all
from shared.areas import CITY_CODE
from shared.demo import DEMO_RESIDENT_SUBJECT
from shared.divisions import division_code
from shared.errors import Unauthorized
from shared.identity import Principal, mint_assertion, sign, verify
from shared.scopes import scopes_held_by

TOKEN_ISSUER = "minzheng-gateway-tokens"
TOKEN_AUDIENCE = "minzheng"

# The OpenAPI's `bearer` scheme, so that /docs' Authorize takes a token pasted as it is. The gateway's own routes
# name it (they read the header themselves; this only documents it) and the merged document offers it beside
# the client-credentials flow on every service's route (gateway/openapi.py).
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    bearerFormat="JWT",
    description="An access token pasted as it is: from `POST /api/auth/v1/dev-tokens` (dev only), a staff or "
    "resident sign-in, or a client's `POST /api/auth/v1/token`. The scopes an operation names "
    "still apply.",
)

# What each kind of caller may do comes from the services' own scope declarations.
load_all()

STAFF_SCOPES = scopes_held_by("staff")
CITY_STAFF_SCOPES = scopes_held_by("staff", "city_staff")
RESIDENT_SCOPES = scopes_held_by("resident")
PARTNER_SCOPES = scopes_held_by("partner")

DEMO_PRINCIPALS: dict[str, Principal] = {
    # The same subject as the demo phone's account (gateway/seed.py): one person, by dev token or by SMS.
    "resident": Principal(
        subject=DEMO_RESIDENT_SUBJECT, kind="resident", scopes=RESIDENT_SCOPES, name="demo resident (家属)"
    ),
    "staff-yinzhou": Principal(
        subject="staff:yinzhou-demo",
        kind="staff",
        scopes=STAFF_SCOPES,
        area=division_code("鄞州区"),
        name="鄞州区民政局 demo staff",
    ),
    "staff-city": Principal(
        subject="staff:city-demo",
        kind="staff",
        scopes=CITY_STAFF_SCOPES,
        area=CITY_CODE,
        name="宁波市民政局 demo staff",
    ),
    "partner": Principal(
        subject="partner:medical-insurance",
        kind="partner",
        scopes=PARTNER_SCOPES,
        name="市医疗保障局 (demo partner department)",
    ),
}


def issue_token(principal: Principal, secret: str, lifetime_s: int) -> str:
    return sign(principal.claims(), secret, audience=TOKEN_AUDIENCE, issuer=TOKEN_ISSUER, lifetime_s=lifetime_s)


class Authenticator:
    """Verifies bearer tokens and mints per-service assertions, caching both for their safe lifetime.

    Every request crosses this, so a token seen before costs a dict lookup, not two HMACs.
    """

    ASSERTION_REUSE_S = 30  # assertions live 60 s; one is reused while it has at least 30 s left
    MAX_ENTRIES = 50_000

    def __init__(self, token_secret: str, identity_secret: str):
        self.token_secret = token_secret
        self.identity_secret = identity_secret
        self._principals: dict[str, tuple[Principal, float]] = {}
        self._assertions: dict[tuple[str, str], tuple[str, float, Principal]] = {}

    def principal(self, token: str) -> tuple[Principal, float]:
        """The token's principal and its expiry (epoch seconds), or Unauthorized."""
        cached = self._principals.get(token)
        if cached is not None and cached[1] > time.time():
            return cached
        claims = verify(token, self.token_secret, audience=TOKEN_AUDIENCE, issuer=TOKEN_ISSUER)
        entry = (Principal.from_claims(claims), float(claims["exp"]))
        if len(self._principals) >= self.MAX_ENTRIES:
            self._principals.clear()
        self._principals[token] = entry
        return entry

    def assertion(self, token: str, service: str) -> tuple[str, Principal]:
        """(assertion for `service`, principal) for a bearer token, or Unauthorized."""
        now = time.time()
        cached = self._assertions.get((token, service))
        if cached is not None and cached[1] > now:
            return cached[0], cached[2]
        principal, expires = self.principal(token)
        assertion = mint_assertion(principal, audience=service, secret=self.identity_secret)
        # Never reuse an assertion past the bearer token's own expiry.
        if len(self._assertions) >= self.MAX_ENTRIES:
            self._assertions.clear()
        self._assertions[(token, service)] = (assertion, min(now + self.ASSERTION_REUSE_S, expires), principal)
        return assertion, principal


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return token.strip()
