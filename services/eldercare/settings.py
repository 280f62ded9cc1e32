from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class EldercareSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ELDERCARE_", extra="ignore", populate_by_name=True)

    service_name: str = "eldercare"
    port: int = 8001
