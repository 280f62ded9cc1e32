"""The gateway: the suite's one front door.

`/api/<service>/...` goes to the raw proxy (gateway.proxy); everything else — health, the merged
OpenAPI, docs, token issue — is a small FastAPI app of the gateway's own.
"""

from __future__ import annotations

import asyncio
import os
from typing import Literal

import aiohttp
import fastapi_offline
from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import Field
from starlette.staticfiles import StaticFiles

from gateway.auth.codes import code_sender_from
from gateway.auth.router import router as auth_router
from gateway.auth.router import token_router
from gateway.auth.wechat import provider_from as wechat_provider_from
from gateway.cockpit.router import install as install_cockpit
from gateway.limits import MemoryBuckets, RedisBuckets, retry_after_header
from gateway.notifications.router import router as notifications_router
from gateway.openapi import MergedOpenAPI
from gateway.principals import DEMO_PRINCIPALS, Authenticator, bearer_token, issue_token
from gateway.privacy.router import install as install_privacy
from gateway.proxy import (
    DESCRIPTION_FOR_TOKENS,
    REQUESTS,
    UPSTREAM_ERRORS,
    Proxy,
    Upstream,
    UpstreamBreakers,
    accept_language,
    send_problem,
)
from gateway.settings import GatewaySettings
from shared.areas import CITY_CODE
from shared.db import Database
from shared.errors import NotFound, TooManyRequests, Unauthorized, install_error_handlers, problem_responses
from shared.i18n import N_, negotiate
from shared.logs import RequestContextMiddleware
from shared.metrics import install_metrics
from shared.params import refuse_control_characters
from shared.peer import CircuitBreaker
from shared.request_id import accept_or_make_request_id
from shared.schemas import Schema

SWAGGER_STATIC = os.path.join(os.path.dirname(fastapi_offline.__file__), "static")


class DevTokenRequest(Schema):
    """Which demo principal to issue a token for (dev and test only)."""

    principal: Literal["resident", "staff-yinzhou", "staff-city", "partner"] = Field(
        description="Which demo principal to act as"
    )


class DevTokenResponse(Schema):
    """A token for a demo principal, and what it carries."""

    access_token: str = Field(description="Bearer token for the `Authorization` header")
    token_type: Literal["bearer"] = Field("bearer", description="Always `bearer`")
    expires_in: int = Field(description="Seconds the token stays valid")
    principal: dict = Field(description="The principal's claims: subject, kind, scopes, area and name")


class Gateway:
    def __init__(self, settings: GatewaySettings):
        self.settings = settings
        self.authenticator = Authenticator(settings.token_secret, settings.identity_secret)
        self.upstreams: dict[str, Upstream] = {}
        self.proxy: Proxy | None = None
        self.openapi: MergedOpenAPI | None = None
        self.local_app = self._build_local_app()
        self.local = RequestContextMiddleware(self.local_app)
        self.owns_database = False

    async def startup(self) -> None:
        s = self.settings
        self.upstreams = {}
        for name, url in s.upstreams().items():
            read_timeout_s, read_timeouts = s.read_deadlines(name)
            self.upstreams[name] = Upstream(
                name,
                url,
                pool_size=s.upstream_pool_size,
                queue_size=s.upstream_queue_size,
                keepalive_s=s.upstream_keepalive_s,
                connect_timeout_s=s.upstream_connect_timeout_s,
                read_timeout_s=read_timeout_s,
                read_timeouts=read_timeouts,
                breaker=CircuitBreaker(
                    failure_threshold=s.upstream_breaker_failures, reset_after_s=s.upstream_breaker_pause_s
                ),
            )
        self.buckets = RedisBuckets(s.redis_url) if s.redis_url else MemoryBuckets()
        self.limits = s.limits()
        self.proxy = Proxy(
            self.upstreams,
            self.authenticator,
            s.max_body_bytes,
            self.buckets,
            self.limits,
            public_descriptions=s.env != "production",
            uploads=(s.upload_max_body_bytes, s.upload_path_suffixes),
        )
        self.openapi = MergedOpenAPI(self.upstreams)
        # Tests may hand the gateway a database bound to their own transaction before it starts.
        if getattr(self.local_app.state, "database", None) is None:
            self.local_app.state.database = Database(s.database_url, pool_size=s.db_pool_size)
            self.owns_database = True

    async def shutdown(self) -> None:
        await asyncio.gather(*(u.close() for u in self.upstreams.values()))
        await self.buckets.close()
        if self.owns_database:
            await self.local_app.state.database.dispose()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path.startswith("/api/"):
                service = path[5:].split("/", 1)[0]
                if service in self.upstreams:
                    return await self.proxy(scope, receive, send, service)
                if service == "auth" and scope["method"] == "POST" and await self._sign_in_refused(scope, send):
                    return
            return await self.local(scope, receive, send)
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        raise RuntimeError(f"unsupported scope {scope['type']}")

    async def _sign_in_refused(self, scope, send) -> bool:
        """Sign-in routes are limited per address: a brake on guessing passwords and secrets."""
        client = scope.get("client")
        wait = await self.buckets.take(f"sign-in:{client[0] if client else '-'}", self.limits["sign-in"])
        if not wait:
            return False
        await send_problem(
            send,
            429,
            "rate-limited",
            TooManyRequests.title,
            N_("too many sign-in attempts from this address: retry in {seconds} s"),
            accept_or_make_request_id(None),
            [(b"retry-after", retry_after_header(wait))],
            locale=negotiate(accept_language(scope)),
            params={"seconds": retry_after_header(wait).decode()},
        )
        return True

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def readiness(self) -> dict[str, dict]:
        async def check(name: str, upstream: Upstream) -> tuple[str, dict]:
            try:
                async with upstream.session.get(
                    f"{upstream.base_url}/readyz", timeout=aiohttp.ClientTimeout(total=2)
                ) as response:
                    body = await response.json(content_type=None)
                    state = {
                        "status": body.get("status", "unknown") if response.status == 200 else "unavailable",
                        "database": body.get("database"),
                    }
            except (TimeoutError, aiohttp.ClientError, ValueError):
                state = {"status": "unreachable"}
            upstream.ready = state["status"] == "ready"
            return name, state

        return dict(await asyncio.gather(*(check(n, u) for n, u in self.upstreams.items())))

    def _build_local_app(self) -> FastAPI:
        settings = self.settings
        production = settings.env == "production"
        app = FastAPI(
            title="宁波市民政 service suite (gateway)",
            version="1.0.0",
            openapi_url=None,
            docs_url=None,
            redirect_slashes=False,  # a redirect would be a guess; a 404 says what to use
            redoc_url=None,
            dependencies=[Depends(refuse_control_characters)],
            description="The one front door of the civil-affairs suite: eldercare (养老服务), assistance "
            "(社会救助), charity (慈善) and place names (地名地址). Authenticate with a bearer "
            "token; every response carries `X-Request-ID`.",
        )
        app.state.settings = settings
        app.state.authenticator = self.authenticator
        app.state.code_sender = code_sender_from(settings)  # refuses production without a provider
        app.state.wechat = wechat_provider_from(settings)
        install_error_handlers(app)
        gateway = self
        # /metrics: the gateway's own routes, plus what the proxy counts and its breakers' states.
        install_metrics(app, "gateway", extra=(REQUESTS, UPSTREAM_ERRORS, UpstreamBreakers(lambda: gateway.upstreams)))
        app.include_router(token_router)
        app.include_router(auth_router)
        app.include_router(notifications_router)
        install_cockpit(app, gateway)  # 民政数字驾驶舱: its API and page, before the /api catch-all
        install_privacy(app, gateway)  # personal-data requests (PIPL arts. 44–47), before the /api catch-all

        @app.get(
            "/healthz",
            summary="Liveness",
            tags=["health"],
            description="The gateway process is up. Asks no service and touches no database.",
        )
        async def healthz() -> dict:
            return {"status": "ok", "service": "gateway"}

        @app.get(
            "/readyz",
            summary="Readiness of the gateway, and each service's state",
            tags=["health"],
            description="200 while the gateway itself can serve (its sign-in database answers): `status` is "
            "`ready` when all four services are, `degraded` when some are not, each service's "
            "state beside it. 503 only when the gateway's own database does not answer. One "
            "service down must not take the gateway out of rotation: the other three still "
            "serve through it.",
        )
        async def readyz():
            services = await gateway.readiness()
            try:
                await asyncio.wait_for(app.state.database.ping(), 2)
                own = {"status": "ready", "database": app.state.database.dialect}
            except Exception:  # any failure to reach the sign-in database means sign-in is down
                own = {"status": "unavailable", "database": "unreachable"}
            all_ready = all(s["status"] == "ready" for s in services.values())
            status = "unavailable" if own["status"] != "ready" else "ready" if all_ready else "degraded"
            return JSONResponse(
                {"status": status, "gateway": own, "services": services},
                status_code=503 if status == "unavailable" else 200,
            )

        async def described_to(request: Request) -> None:
            """The API description's rule: anyone outside production; in production a valid bearer token."""
            if production:
                token = bearer_token(request.headers.get("authorization"))
                if token is None:
                    raise Unauthorized(DESCRIPTION_FOR_TOKENS)
                gateway.authenticator.principal(token)  # Unauthorized when expired, forged, ...

        @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(described_to)])
        async def openapi_document():
            return await gateway.openapi.document(app.openapi())

        @app.get("/", include_in_schema=False)
        async def landing():
            if not production:
                return RedirectResponse("/docs", status_code=307)  # relative: never this process's address
            return {
                "title": app.title,
                "api": "/api/<service>/v1/",
                "services": list(gateway.settings.upstreams()),
                "sign_in": "/api/auth/v1/",
                "openapi": "/openapi.json (with a bearer token)",
            }

        if not production:
            app.mount("/docs/static", StaticFiles(directory=SWAGGER_STATIC), name="swagger-static")

            @app.get("/docs", include_in_schema=False)
            async def docs():
                return get_swagger_ui_html(
                    openapi_url="/openapi.json",
                    title="民政 suite API",
                    swagger_js_url="/docs/static/swagger-ui-bundle.js",
                    swagger_css_url="/docs/static/swagger-ui.css",
                    swagger_favicon_url="/docs/static/favicon.png",
                )

            @app.post(
                "/api/auth/v1/dev-tokens",
                response_model=DevTokenResponse,
                tags=["auth 身份认证"],
                summary="Issue a token for a demo principal (dev and test only)",
                description="Until real sign-in exists, dev and test environments issue tokens for four "
                "demo principals: a resident (家属), staff of 鄞州区 (330212), city-level staff "
                f"({CITY_CODE}) and a partner department. Absent in production.",
                responses=problem_responses(422),
            )
            async def dev_token(body: DevTokenRequest) -> DevTokenResponse:
                principal = DEMO_PRINCIPALS[body.principal]
                lifetime = settings.dev_token_lifetime_s
                return DevTokenResponse(
                    access_token=issue_token(principal, settings.token_secret, lifetime),
                    expires_in=lifetime,
                    principal=principal.claims(),
                )

        @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
        async def unknown_api(request: Request, rest: str):
            raise NotFound(
                "no API at {path}; services: {services}",
                path=request.url.path,
                services=", ".join(gateway.settings.upstreams()),
            )

        return app


def create_app(settings: GatewaySettings | None = None) -> Gateway:
    return Gateway(settings or GatewaySettings())
