from typing import Literal

from pydantic import Field
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
    # Jobs that share one screening's chunks: its own and `screening_workers - 1` helpers, which free worker
    # processes pick up (discovery/runner.py). As many as worker processes may work on one screening: with fewer
    # workers, the helpers left over find nothing to do and end at once.
    screening_workers: int = Field(2, ge=1, le=64)
    # Chunks each worker process has in flight at once on PostgreSQL (discovery/runner.py): 4 keeps a small
    # machine's cores busy (the quickest screening); 1 leaves a core of a node it shares with the API to the API
    # (docs/benchmarks/assistance.md has both). SQLite has one writer: always 1.
    screening_chunks_in_flight: int = Field(4, ge=1, le=16)

    # Materials of online applications (photos and scans of documents, services/assistance/online): `local` keeps
    # them under `materials_dir` (default var/assistance-materials), for dev; `s3` in an S3-compatible bucket, for
    # production (a pod's disk does not outlive it). The endpoint is host[:port], without a scheme.
    materials_store: Literal["local", "s3"] = "local"
    materials_dir: str = ""
    materials_s3_endpoint: str = ""
    materials_s3_secure: bool = True
    materials_s3_region: str | None = None
    materials_s3_bucket: str = "assistance-materials"
    materials_s3_access_key: str = ""
    materials_s3_secret_key: str = ""
    # Assumption (no figure in the domain brief): 1,000,000 bytes per file, under the gateway's 1 MiB request body
    # limit with room for the multipart envelope; a phone's document photo, compressed by the mini-program, is a
    # few hundred kB. Raising it needs GATEWAY_MAX_BODY_BYTES raised too.
    materials_max_bytes: int = Field(1_000_000, ge=1024, le=50 * 1024 * 1024)
    # Assumption: how many files one application may hold, and households one resident may declare.
    materials_per_application: int = Field(30, ge=1, le=200)
    declared_households_per_resident: int = Field(3, ge=1, le=20)
    # Assumption: the incomes and assets a resident may declare for one household (a family of ten, each with a
    # few incomes and assets, stays well under it); more go through the community (社区) at the counter.
    declared_figures_per_household: int = Field(100, ge=1, le=1000)
