from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class PlacenamesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PLACENAMES_", extra="ignore", populate_by_name=True)

    service_name: str = "placenames"
    port: int = 8004
