from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class PlacenamesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PLACENAMES_", extra="ignore", populate_by_name=True)

    service_name: str = "placenames"
    port: int = 8004
    # The road-name unification plan (道路名称统一): 16 roads in 10 groups; the indicator counts against it.
    unification_plan_roads: int = 16
    change_retention_days: int = Field(
        365,
        ge=1,
        le=36500,
        description="Assumption (not from the bureau): changes older than this many days are pruned from the change "
        "feed; a reader whose cursor is older gets 410 and resynchronises",
    )
    parse_warm_up: bool = Field(
        True,
        description="At start, parse one address in the parse worker process (starting it, shipping it the "
        "parser's dictionary, building its road speller) before /readyz says ready: on a busy node that took more "
        "than the gateway's 10 s, and the first POST /parses got a 504. Off in the tests' apps (each would start "
        "a process)",
    )
    parse_warm_up_timeout_s: float = Field(
        180.0,
        gt=0,
        le=3600,
        description="Assumption: readiness waits this long at most for the warm-up; after it (or a failure, "
        "logged) the service is ready and the first batch starts the worker as before",
    )
