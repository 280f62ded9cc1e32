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
