from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class AssistanceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANCE_", extra="ignore", populate_by_name=True)

    service_name: str = "assistance"
    port: int = 8002

    # A screening whose heartbeat is older than this is taken over (after a crash or a restart).
    screening_stale_after_s: float = 30.0
    screening_chunk: int = 5000
