"""The facts digest of a household lead: "closed on the same facts" told by equality, without the income.

A lead for 低保 or 低保边缘 was raised on the household's counted members, counted monthly income and the 低保
standard. The screening must not raise it again once it was closed on those same facts, so the lead has to keep
something that tells them apart; but the counted income is not kept in the clear (see
services/assistance/pii.py). The lead keeps `sha256(key || "members:income:standard")` instead, hex, under a
secret key: equal facts give equal digests, and without the key a digest cannot be checked against guessed
incomes (there are only so many).

Why not HMAC: the screening computes the digest inside its INSERT … SELECT, where every row's figures are, and
core PostgreSQL SQL has `sha256` but no HMAC (that is pgcrypto, an extension). A keyed hash of this form is enough
for an equality digest whose key never leaves the service: the length-extension weakness of `sha256(key || m)`
lets no one forge anything that matters here, since nobody outside is shown or asked to verify a digest.

The key is a per-purpose subkey derived (HMAC) from the blind-index key `PII_INDEX_KEY`, so it is not the index
key itself, and like the blind indexes it survives a rotation of the encryption keys. It is used as hex text,
so the key and the message concatenate as text in SQL on both backends: PostgreSQL hashes with its built-in
`sha256(bytea)`, SQLite with `sha256_hex`, which `shared.db` registers on every SQLite connection, and Python
with `hashlib`; all three give the same digest (tests/assistance/test_lead_facts.py).
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import BigInteger, String, cast, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from shared.pii import keyring

PURPOSE = b"assistance.lead_facts"


def facts_key() -> str:
    """The digest's key: an HMAC-derived subkey of the blind-index key, as 64 hex characters."""
    return hmac.new(keyring().index_key, PURPOSE, hashlib.sha256).hexdigest()


def facts_digest(counted_members: int, income_fen: int, standard_fen: int, *, key: str | None = None) -> str:
    """The digest of a household lead's facts, in Python (the same as `facts_digest_sql`)."""
    message = f"{key or facts_key()}{int(counted_members)}:{int(income_fen)}:{int(standard_fen)}"
    return hashlib.sha256(message.encode()).hexdigest()


class sha256_hex(FunctionElement):
    """The lower-case hex SHA-256 of a text's UTF-8 bytes, in SQL on either backend."""

    type = String()
    inherit_cache = True


@compiles(sha256_hex, "postgresql")
def _sha256_hex_postgresql(element, compiler, **kw):
    return f"encode(sha256(convert_to({compiler.process(element.clauses, **kw)}, 'UTF8')), 'hex')"


@compiles(sha256_hex)
def _sha256_hex_sqlite(element, compiler, **kw):
    return f"sha256_hex({compiler.process(element.clauses, **kw)})"  # registered by shared.db on SQLite


def facts_digest_sql(counted_members, income_fen, standard_fen, *, key: str | None = None):
    """The same digest as a SQL expression over integer columns (or values)."""

    def text(value):
        return cast(literal(value, BigInteger) if isinstance(value, int) else value, String)

    return sha256_hex(
        literal(key or facts_key(), String)
        + text(counted_members)
        + literal(":", String)
        + text(income_fen)
        + literal(":", String)
        + text(standard_fen)
    )
