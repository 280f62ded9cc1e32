"""Settings every process shares: read from the environment, refusing placeholder secrets outside dev."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = ROOT / "var"

# Dev secrets: good enough on a laptop, refused in production.
DEV_IDENTITY_SECRET = "dev-identity-secret-change-me-0123456789abcdef"
DEV_TOKEN_SECRET = "dev-token-secret-change-me-0123456789abcdef"
PLACEHOLDER_MARKER = "change-me"
# Every process needs these; other secrets (a service's client secret) may be absent when unused.
REQUIRED_SECRETS = frozenset({"identity_secret", "token_secret"})

Environment = Literal["dev", "test", "production"]


def suite_wide(name: str, default: Any) -> Any:
    """A value read from the same unprefixed variable by every process (ENV, IDENTITY_SECRET, ...)."""
    return Field(default, validation_alias=AliasChoices(name.lower(), name.upper()))


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    env: Environment = suite_wide("env", "dev")
    # HMAC key of the gateway's identity assertions; the gateway signs, every service verifies.
    identity_secret: str = suite_wide("identity_secret", DEV_IDENTITY_SECRET)
    log_level: str = suite_wide("log_level", "INFO")

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Self:
        if self.env == "production":
            for name, value in self.model_dump().items():
                if not name.endswith("secret"):
                    continue
                if PLACEHOLDER_MARKER in value or (len(value) < 32 and (value or name in REQUIRED_SECRETS)):
                    raise ValueError(f"{name} must be a real secret of at least 32 characters in production")
        return self


class ServiceSettings(CommonSettings):
    """Base of each service's settings. A subclass sets its env prefix, `service_name` and `port`."""

    service_name: str
    port: int
    database_url: str = ""
    db_pool_size: int = 20  # connections to the database at most, kept open once made
    # Calls to peer services go through the gateway with the service's own client credentials. Unset: the
    # gateway on this machine, on GATEWAY_PORT (as ./dev up and the end-to-end tests run it).
    gateway_url: str = ""
    client_secret: str = ""
    # The whole budget of one call to placenames (parse, then the address's lookup), retry included.
    placenames_timeout_s: float = 1.0
    # Seconds between looks at placenames' change feed while it has nothing new (shared/changefeed.py): the
    # longest a rename waits before a worker applies it.
    change_feed_poll_s: float = Field(1.0, gt=0, le=60)
    # How much lower a worker process's CPU priority is than the API's (its niceness is raised by this much when
    # it starts; 0 leaves it as started): on a shared node its batch work yields the cores to request handling.
    # Unprefixed (WORKER_NICENESS), the same for every service's worker: docs/jobs.md, measured in
    # docs/benchmarks/assistance.md.
    worker_niceness: int = Field(10, ge=0, le=19, validation_alias=AliasChoices("worker_niceness", "WORKER_NICENESS"))

    @property
    def peer_client_secret(self) -> str:
        """In dev and test the gateway seeds a client per service with a known secret (gateway/seed.py)."""
        return self.client_secret or (
            f"dev-client-secret-{self.service_name}-change-me" if self.env != "production" else ""
        )

    @model_validator(mode="after")
    def _defaults(self) -> Self:
        self.database_url = database_url_or_default(self.database_url, self.service_name)
        if not self.gateway_url:
            self.gateway_url = f"http://127.0.0.1:{os.environ.get('GATEWAY_PORT', '8000')}"
        return self


def database_url_or_default(url: str, name: str) -> str:
    """The embedded SQLite file under var/ when no URL is set; a plain PostgreSQL URL means asyncpg
    (operators paste the URL their database gives them)."""
    if not url:
        return f"sqlite+aiosqlite:///{VAR_DIR / (name + '.db')}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url
