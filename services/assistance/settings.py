from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class AssistanceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANCE_", extra="ignore", populate_by_name=True)

    service_name: str = "assistance"
    port: int = 8002

    # A screening whose heartbeat is older than this is taken over (after a crash or a restart).
    screening_stale_after_s: float = 30.0
    # Households per chunk of a screening: a chunk is one transaction and one checkpoint, so progress moves and a
    # resumed job redoes at most this many. 1 M households took 27.2 s in chunks of 5,000 and 19.8-20.9 s in chunks
    # of 10,000-50,000 (the fixed cost of a chunk's statements; docs/benchmarks/assistance.md).
    screening_chunk: int = 20_000
