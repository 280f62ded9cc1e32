"""The blob store of the materials (shared/blobs.py), made from the service's settings once per process."""

from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from services.assistance.settings import AssistanceSettings
from shared.blobs import BlobStore, LocalBlobStore, S3BlobStore
from shared.settings import VAR_DIR


def store_from(settings: AssistanceSettings) -> BlobStore:
    if settings.materials_store == "s3":
        return S3BlobStore.connect(
            endpoint=settings.materials_s3_endpoint,
            bucket=settings.materials_s3_bucket,
            access_key=settings.materials_s3_access_key,
            secret_key=settings.materials_s3_secret_key,
            secure=settings.materials_s3_secure,
            region=settings.materials_s3_region,
        )
    return LocalBlobStore(Path(settings.materials_dir) if settings.materials_dir else VAR_DIR / "assistance-materials")


def materials_store(request: Request) -> BlobStore:
    """The process's store: made on first use (a client holds no connection until it is used)."""
    state = request.app.state
    if getattr(state, "materials_store", None) is None:
        state.materials_store = store_from(state.settings)
    store: BlobStore = state.materials_store
    return store


MaterialsStore = Annotated[BlobStore, Depends(materials_store)]
