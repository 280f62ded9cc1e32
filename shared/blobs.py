"""Where uploaded files live: a small blob store interface, on local disk in dev and on an S3-compatible object
store in production (through the `minio` client, which speaks S3 to any such store).

Keys are content-addressed by the callers (`.../<sha256>.<ext>`): putting the same bytes twice writes the same
object, so a retried upload never makes a second copy, and a blob written before its database row commits is
at worst an orphan, never a row without its file. Blobs are never deleted on a rollback.

Both stores are synchronous (file and socket I/O): callers run them off the event loop (`asyncio.to_thread`).
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Protocol

import urllib3
from minio import Minio
from minio.error import S3Error

from shared.errors import NotFound, ServiceUnavailable

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]*(/[a-z0-9][a-z0-9_\-.]*)*$")


def checked_key(key: str) -> str:
    """Keys are made by the code, never by callers: lower-case path segments, no `..`, no leading slash."""
    if not KEY_PATTERN.fullmatch(key) or ".." in key:
        raise ValueError(f"not a blob key: {key!r}")
    return key


class BlobStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...


class LocalBlobStore:
    """Files under one directory (dev: under var/). Each is written to a temporary file and renamed into
    place, so a reader never sees half a file."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / checked_key(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound("the stored file {key} is missing", key=key) from None


class S3BlobStore:
    """Objects in one bucket of an S3-compatible store. The bucket is made on first use when it is missing
    (in production operators make it, with its retention and encryption rules; this only helps dev)."""

    def __init__(self, client: Minio, bucket: str):
        self.client = client
        self.bucket = bucket
        self._bucket_checked = False
        self._lock = threading.Lock()

    @classmethod
    def connect(
        cls, *, endpoint: str, bucket: str, access_key: str, secret_key: str, secure: bool, region: str | None
    ) -> S3BlobStore:
        # Short timeouts and two retries: an upload waits seconds, not the client's default minutes, for a store
        # that does not answer (the caller then gets a 503 and retries; content-addressed keys make that safe).
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=2.0, read=20.0),
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)),
        )
        client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region, http_client=http
        )
        return cls(client, bucket)

    def _ensure_bucket(self) -> None:
        with self._lock:
            if not self._bucket_checked:
                if not self.client.bucket_exists(self.bucket):
                    self.client.make_bucket(self.bucket)
                self._bucket_checked = True

    def put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self._ensure_bucket()
            self.client.put_object(
                self.bucket, checked_key(key), io.BytesIO(data), len(data), content_type=content_type
            )
        except (S3Error, urllib3.exceptions.HTTPError) as error:
            raise ServiceUnavailable(
                "the document store did not take the file ({error_type})", error_type=type(error).__name__
            ) from None

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(self.bucket, checked_key(key))
        except S3Error as error:
            if error.code in ("NoSuchKey", "NoSuchBucket"):
                raise NotFound("the stored file {key} is missing", key=key) from None
            raise ServiceUnavailable(
                "the document store did not answer ({error_code})", error_code=error.code
            ) from None
        except urllib3.exceptions.HTTPError as error:
            raise ServiceUnavailable(
                "the document store did not answer ({error_type})", error_type=type(error).__name__
            ) from None
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()
