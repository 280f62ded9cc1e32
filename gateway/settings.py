from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from gateway.limits import Limit
from services import SERVICES
from shared.settings import DEV_TOKEN_SECRET, CommonSettings, database_url_or_default, suite_wide


class GatewaySettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    port: int = 8000
    # The gateway's own database: staff accounts, residents, OAuth clients, refresh tokens, codes.
    database_url: str = ""
    db_pool_size: int = 10
    access_token_lifetime_s: int = 15 * 60
    refresh_token_lifetime_s: int = 30 * 24 * 3600
    # A rotated client secret keeps working this long, so a partner can roll over without downtime.
    secret_rotation_grace_s: int = 24 * 3600
    staff_max_failed_sign_ins: int = 5
    staff_lockout_s: int = 15 * 60
    # HMAC key of the bearer tokens the gateway issues; only the gateway holds it.
    token_secret: str = DEV_TOKEN_SECRET
    upstream_eldercare: str = ""
    upstream_assistance: str = ""
    upstream_charity: str = ""
    upstream_placenames: str = ""
    max_body_bytes: int = 1024 * 1024
    # Uploads of files (paths ending so) may be larger: a spreadsheet of a street's register is a few MiB. The
    # service bounds the file itself too (shared/spreadsheets.py MAX_UPLOAD_BYTES).
    upload_max_body_bytes: int = 33 * 1024 * 1024
    upload_path_suffixes: tuple[str, ...] = ("/spreadsheet-imports",)
    # The TCP connect to a service only: waiting for a free pooled connection is the queue's business.
    upstream_connect_timeout_s: float = 1.0
    # Read deadline: how long the gateway waits for a service's answer before 504 `gateway-timeout`. Each such
    # timeout counts towards the breaker, so the deadline must be well under what callers wait, or they give
    # up first and a hung service is never noticed: its hangs never open the breaker.
    # Overrides per service ("placenames") or per path prefix ("/api/placenames/v1/batches"); the longest
    # matching prefix wins, then the service's own, then the default.
    upstream_read_timeout_s: float = 10.0
    upstream_read_timeouts: dict[str, float] = Field(default_factory=dict)
    # Shorter than the services' keep-alive (75 s), so the gateway never reuses a connection they closed.
    upstream_keepalive_s: float = 30.0
    # Requests in flight to one service at most, and how many more may wait for a free connection; beyond
    # that the answer is 503 `busy` with Retry-After, at once and without calling the service. The queue
    # waits at most about one read deadline when the service is healthy.
    upstream_pool_size: int = 200
    upstream_queue_size: int = 200
    # Circuit breaker per upstream: after this many transport failures in a row (unreachable, timed out,
    # broken answer) the gateway stops calling the service and answers 503 at once; after the pause one
    # trial request goes through and, if answered, closes the breaker. A short pause: a restarted service
    # is served again within it, while a hung one no longer ties up a connection per request for the
    # whole read timeout.
    upstream_breaker_failures: int = 5
    upstream_breaker_pause_s: float = 2.0
    dev_token_lifetime_s: int = 12 * 3600
    # Personal-data requests (gateway/privacy). ASSUMPTION: PIPL sets no number of days for an answer, and neither
    # the domain brief nor the plan gives one; 15 days is the figure commonly cited from the national standard
    # GB/T 35273 (a recommended standard, not law). Check it before relying on it (docs/privacy.md).
    privacy_answer_days: int = Field(15, ge=1, le=60)
    # The services that answer what they hold about a resident account (shared/subject_data.py), and how long the
    # gateway waits for each.
    privacy_services: list[str] = Field(default_factory=lambda: ["eldercare", "assistance", "charity"])
    privacy_timeout_s: float = 3.0
    # WeChat mini-program sign-in (jscode2session); unset means the deployment has no mini-program.
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_appid: str = ""
    wechat_secret: str = ""
    # Residents sign in by SMS code (and link WeChat with one). On in production, it needs an SMS provider
    # (SMS_PROVIDER, shared/sms.py), or the gateway refuses to start; off, the code routes answer 404.
    resident_sign_in: bool = True
    # Rate limits as "requests per second/burst", per caller: by principal kind, by address when
    # anonymous, and per address on the sign-in routes (a brake on password guessing).
    redis_url: str = suite_wide("redis_url", "")
    rate_limits: dict[str, str] = Field(
        default_factory=lambda: {
            "anonymous": "20/40",
            "resident": "10/30",
            "staff": "50/100",
            "partner": "100/200",
            "service": "500/1000",
            "sign-in": "0.2/20",
        }
    )

    def limits(self) -> dict[str, Limit]:
        parsed = {}
        for kind, text in self.rate_limits.items():
            rate, _, burst = text.partition("/")
            parsed[kind] = Limit(rate=float(rate), burst=int(burst))
        return parsed

    @model_validator(mode="after")
    def _defaults(self):
        import os

        self.database_url = database_url_or_default(self.database_url, "gateway")

        for name, port in SERVICES.items():
            if not getattr(self, f"upstream_{name}"):
                service_port = os.environ.get(f"{name.upper()}_PORT", port)
                setattr(self, f"upstream_{name}", f"http://127.0.0.1:{service_port}")
        for key, seconds in self.upstream_read_timeouts.items():
            if key not in SERVICES and not any(key.startswith(f"/api/{name}/") for name in SERVICES):
                raise ValueError(f"upstream_read_timeouts: {key!r} is neither a service nor /api/<service>/...")
            if not seconds > 0:
                raise ValueError(f"upstream_read_timeouts: {key!r} needs a positive number of seconds")
        return self

    def read_deadlines(self, service: str) -> tuple[float, dict[str, float]]:
        """(the service's default read deadline, its per-prefix overrides)."""
        own = {k: v for k, v in self.upstream_read_timeouts.items() if k.startswith(f"/api/{service}/")}
        return self.upstream_read_timeouts.get(service, self.upstream_read_timeout_s), own

    def upstreams(self) -> dict[str, str]:
        return {name: getattr(self, f"upstream_{name}").rstrip("/") for name in SERVICES}
