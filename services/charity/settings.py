from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class CharitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CHARITY_", extra="ignore", populate_by_name=True)

    service_name: str = "charity"
    port: int = 8003
