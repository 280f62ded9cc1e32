"""Personal data at rest (PIPL): ID numbers, phones and incomes encrypted in the database.

- `Encrypted(purpose)`: a column type that encrypts on write and decrypts on read with AES-256-GCM.
  The stored text is `v1:<key id>:<base64(nonce | ciphertext | tag)>`; the purpose (e.g.
  "elders.id_number") is bound in as associated data, so a value copied into another column does not
  decrypt.
- `blind_index(purpose, value)`: an HMAC-SHA256 digest to look a value up by equality (find an elder by
  ID number) without storing it in the clear.
- Keys come from the environment: `PII_KEYS` (JSON: key id -> base64 32-byte key), `PII_ACTIVE_KEY`
  (the id new values are written with) and `PII_INDEX_KEY`. Every key id ever used stays in `PII_KEYS`
  until `reencrypt` has moved all rows to the active key; then it may go.
Dev and test use a fixed key that production refuses.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from typing import TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Dialect, String, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeDecorator

_Value = TypeVar("_Value")

FORMAT = "v1"
_DEV_KEY = base64.b64encode(hashlib.sha256(b"minzheng dev pii key: change-me").digest()).decode()
_DEV_INDEX_KEY = base64.b64encode(hashlib.sha256(b"minzheng dev pii index key: change-me").digest()).decode()


class PiiKeyError(RuntimeError):
    pass


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes]
    active: str
    index_key: bytes

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Keyring:
        env = os.environ if environ is None else environ
        production = env.get("ENV") == "production"
        raw_keys = env.get("PII_KEYS")
        if not raw_keys:
            if production:
                raise PiiKeyError("PII_KEYS must be set in production")
            raw_keys = json.dumps({"dev": _DEV_KEY})
        keys = {kid: base64.b64decode(value) for kid, value in json.loads(raw_keys).items()}
        active = env.get("PII_ACTIVE_KEY") or (next(iter(keys)) if len(keys) == 1 else "")
        index_key = env.get("PII_INDEX_KEY") or ("" if production else _DEV_INDEX_KEY)
        ring = cls(keys=keys, active=active, index_key=base64.b64decode(index_key) if index_key else b"")
        ring.check(production)
        return ring

    def check(self, production: bool) -> None:
        if self.active not in self.keys:
            raise PiiKeyError(f"PII_ACTIVE_KEY {self.active!r} is not one of PII_KEYS")
        if any(len(k) != 32 for k in self.keys.values()) or len(self.index_key) != 32:
            raise PiiKeyError("PII keys must be 32 bytes, base64-encoded")
        if production and ("dev" in self.keys or self.index_key == base64.b64decode(_DEV_INDEX_KEY)):
            raise PiiKeyError("the dev PII keys are refused in production")

    def encrypt(self, purpose: str, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[self.active]).encrypt(nonce, plaintext.encode(), purpose.encode())
        return f"{FORMAT}:{self.active}:{base64.b64encode(nonce + sealed).decode()}"

    def key_id(self, stored: str) -> str:
        return stored.split(":", 2)[1]

    def decrypt(self, purpose: str, stored: str) -> str:
        version, kid, body = stored.split(":", 2)
        if version != FORMAT or kid not in self.keys:
            raise PiiKeyError(f"cannot decrypt a {version} value under key {kid!r}: is it in PII_KEYS?")
        raw = base64.b64decode(body)
        try:
            return AESGCM(self.keys[kid]).decrypt(raw[:12], raw[12:], purpose.encode()).decode()
        except InvalidTag:
            raise PiiKeyError(
                f"a {purpose} value failed authentication: tampered, or moved from another column"
            ) from None

    def blind_index(self, purpose: str, value: str) -> str:
        return hmac.new(self.index_key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


_keyring: Keyring | None = None


def keyring() -> Keyring:
    """The process's keyring, read from the environment on first use."""
    global _keyring
    if _keyring is None:
        _keyring = Keyring.from_environment()
    return _keyring


def use_keyring(ring: Keyring | None) -> None:
    """Replace the process's keyring (key rotation tooling and tests); None re-reads the environment."""
    global _keyring
    _keyring = ring


def blind_index(purpose: str, value: str) -> str:
    return keyring().blind_index(purpose, value)


class EncryptedColumn(TypeDecorator[_Value]):
    """A column stored encrypted, as text: what `reencrypt` rotates. `purpose` names the column."""

    impl = String(500)
    cache_ok = True

    def __init__(self, purpose: str, length: int):
        super().__init__(length)
        self.purpose = purpose


class Encrypted(EncryptedColumn[str]):
    """A text column stored encrypted. `purpose` names the column, e.g. "elders.id_number"."""

    impl = String(500)
    cache_ok = True

    def __init__(self, purpose: str, length: int = 500):
        super().__init__(purpose, length)

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring().encrypt(self.purpose, value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring().decrypt(self.purpose, value)


async def reencrypt(session: AsyncSession, table: Table, *, batch: int = 500) -> int:
    """Re-encrypt every encrypted column of `table` under the active key; returns the rows changed.

    Reads the stored text raw (no decryption by the column type) so rows already under the active
    key are skipped cheaply, and the run can be stopped and repeated.
    """
    ring = keyring()
    purposes = {c.name: c.type.purpose for c in table.columns if isinstance(c.type, EncryptedColumn)}
    if not purposes:
        return 0
    key = next(iter(table.primary_key.columns))
    changed, last = 0, None
    while True:
        query = select(key, *[table.c[name].cast(String).label(name) for name in purposes]).order_by(key).limit(batch)
        if last is not None:
            query = query.where(key > last)
        rows = (await session.execute(query)).all()
        if not rows:
            return changed
        for row in rows:
            last = row[0]
            values = {}
            for name, purpose in purposes.items():
                stored = getattr(row, name)
                if stored is not None and ring.key_id(stored) != ring.active:
                    values[name] = ring.decrypt(purpose, stored)
            if values:
                await session.execute(update(table).where(key == row[0]).values(**values))
                changed += 1


class EncryptedInteger(EncryptedColumn[int]):
    """An integer column stored encrypted (e.g. an income in fen): the ciphertext of its decimal text, in the
    same format as `Encrypted`, so `reencrypt` rotates it too. Order and sums are lost in the database: code
    that adds such figures up reads them and adds them in Python (see `decrypt_integers`)."""

    impl = String(200)
    cache_ok = True

    def __init__(self, purpose: str, length: int = 200):
        super().__init__(purpose, length)

    def process_bind_param(self, value: int | str | None, dialect: Dialect) -> str | None:
        # A str is accepted as `reencrypt` hands back decrypted text; int() refuses anything not a whole number.
        return None if value is None else keyring().encrypt(self.purpose, str(int(value)))

    def process_result_value(self, value: str | None, dialect: Dialect) -> int | None:
        return None if value is None else int(keyring().decrypt(self.purpose, value))


def decrypt_integers(purpose: str, stored: list[str]) -> list[int]:
    """Many stored values of one `EncryptedInteger` purpose at once, for batch code (a city's incomes).

    The same checks as `Keyring.decrypt` (the GCM tag authenticates every value), with less work per value: one
    AES-GCM object per key id instead of one per value (building one expands the key schedule), the `v1:<key id>:`
    prefix matched rather than split, and base64 decoded by `binascii` directly (docs/benchmarks/assistance.md)."""
    ring, aad = keyring(), purpose.encode()
    ciphers: dict[str, tuple[str, AESGCM]] = {}  # key id -> (its prefix, its cipher)
    a2b, out = binascii.a2b_base64, []
    prefix: str | None = None
    cipher: AESGCM | None = None
    for text in stored:
        if prefix is None or cipher is None or not text.startswith(prefix):
            version, kid, _ = text.split(":", 2)
            if version != FORMAT or kid not in ring.keys:
                raise PiiKeyError(f"cannot decrypt a {version} value under key {kid!r}: is it in PII_KEYS?")
            if kid not in ciphers:
                ciphers[kid] = (f"{FORMAT}:{kid}:", AESGCM(ring.keys[kid]))
            prefix, cipher = ciphers[kid]
        raw = a2b(text[len(prefix) :])
        try:
            out.append(int(cipher.decrypt(raw[:12], raw[12:], aad)))
        except InvalidTag:
            raise PiiKeyError(
                f"a {purpose} value failed authentication: tampered, or moved from another column"
            ) from None
    return out
