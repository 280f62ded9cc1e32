from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class AssistanceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANCE_", extra="ignore", populate_by_name=True)

    service_name: str = "assistance"
    port: int = 8002
