from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class AssistanceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANCE_", extra="ignore", populate_by_name=True)

    service_name: str = "assistance"
    port: int = 8002

    # Households per chunk of a screening, read by the worker process that runs it: a chunk is one transaction and
    # one checkpoint, so progress moves and a resumed job redoes at most this many. Too small a chunk pays the fixed
    # cost of its statements too often (docs/benchmarks/assistance.md).
    screening_chunk: int = 20_000
