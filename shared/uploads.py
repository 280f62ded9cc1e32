"""Files people upload (photos and scans of documents): read within a size limit, typed by their bytes.

What a file is comes from its first bytes (the `filetype` library's signatures), never from its name or the
`Content-Type` a client declares: a PDF named `.jpg` is a PDF, and is stored and served as one. A file whose
bytes are none of the allowed types (an archive, an executable, a web page, an empty or truncated file) is a
415 naming the field. Nothing is decompressed or decoded, so a zip bomb or a decompression-bomb image costs
no more than its own size: archives are refused by type, and images are stored as they came.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import filetype  # type: ignore[import-untyped]  # the library ships no type information
from fastapi import UploadFile

from shared.errors import DomainError, FieldProblem, fields_detail
from shared.i18n import N_, translate

READ_CHUNK = 64 * 1024

# The document types a phone sends: photos (JPEG, PNG, WebP, HEIC from iPhones) and scanned PDFs.
DOCUMENT_TYPES: dict[str, str] = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heic",
    "application/pdf": "pdf",
}


class _FileRefused(DomainError):
    """A file refused for what it is, named as a field: `message` a catalogue text, its placeholders from `params`."""

    def __init__(self, field: str, message: str, **params: Any):
        problem = FieldProblem(field=field, location="body", message=message).with_params(**params)
        super().__init__(f"{field}: {message.format(**params) if params else message}", errors=[problem])

    def localized(self, locale: str) -> tuple[str, str]:
        return translate(locale, self.title), fields_detail(locale, self.errors or [])


class PayloadTooLarge(_FileRefused):
    status, slug, title = 413, "payload-too-large", N_("Request body too large")


class UnsupportedMediaType(_FileRefused):
    status, slug, title = 415, "unsupported-media-type", N_("Unsupported file type")


@dataclass(frozen=True)
class CheckedFile:
    """An upload's bytes with what they were found to be."""

    data: bytes
    content_type: str  # sniffed from the bytes
    extension: str
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)


async def read_within(upload: UploadFile, max_bytes: int, *, field: str = "file") -> bytes:
    """The upload's bytes, read a chunk at a time and refused (413) as soon as they pass `max_bytes`."""
    chunks, size = [], 0
    while chunk := await upload.read(READ_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(field, "a file may be at most {max_bytes} bytes", max_bytes=max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def sniffed(data: bytes, allowed: dict[str, str] = DOCUMENT_TYPES, *, field: str = "file") -> CheckedFile:
    """`data` typed by its signature, or 415 when it is not one of `allowed` (MIME type → file extension)."""
    if not data:
        raise UnsupportedMediaType(field, "the file is empty")
    kind = filetype.guess(data)
    if kind is None or kind.mime not in allowed:
        found = kind.mime if kind is not None else N_("not a known document or image type")
        raise UnsupportedMediaType(
            field,
            "the file's content is {found}; send a photo or scan as {allowed}",
            found=found,
            allowed=", ".join(sorted(allowed)),
        )
    return CheckedFile(
        data=data, content_type=kind.mime, extension=allowed[kind.mime], sha256=hashlib.sha256(data).hexdigest()
    )


async def checked_upload(
    upload: UploadFile, max_bytes: int, allowed: dict[str, str] = DOCUMENT_TYPES, *, field: str = "file"
) -> CheckedFile:
    """An upload read within `max_bytes` and typed by its bytes (413 or 415 naming `field` otherwise)."""
    return sniffed(await read_within(upload, max_bytes, field=field), allowed, field=field)
