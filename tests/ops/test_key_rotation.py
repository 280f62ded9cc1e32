"""Key rotation as an operator runs it: add a key, make it active, `manage reencrypt`, and every stored
value of every database moves to it while reading back the same; a second run moves nothing."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from services.manage import DATABASES
from shared.pii import _DEV_KEY
from shared.settings import ROOT

pytestmark = pytest.mark.e2e

# Where each database keeps encrypted text (raw SQL: the test reads what is on disk, not what the app shows).
STORED = {
    "eldercare": "SELECT id_number FROM elders",
    "assistance": "SELECT id_number_enc FROM members",
    "gateway": None,
    "charity": None,
}  # placenames holds no personal data


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "services.manage", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_reencrypt_moves_every_value_to_the_new_key_and_a_second_run_moves_nothing(tmp_path):
    assert set(STORED) == set(DATABASES) - {"placenames"}
    env = {**os.environ, "ENV": "dev"}
    for name in DATABASES:
        env[f"{name.upper()}_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / name}.db"
    manage(env, "prepare", *STORED)
    before = {
        name: sqlite3.connect(tmp_path / f"{name}.db").execute(sql).fetchall() for name, sql in STORED.items() if sql
    }
    assert all(rows and all(v.startswith("v1:dev:") for (v,) in rows) for rows in before.values()), before

    new_key = base64.b64encode(os.urandom(32)).decode()
    rotated = env | {"PII_KEYS": json.dumps({"dev": _DEV_KEY, "k2026": new_key}), "PII_ACTIVE_KEY": "k2026"}
    first = manage(rotated, "reencrypt", *STORED)
    assert "eldercare: re-encrypted under key 'k2026'" in first and "elders" in first
    for name, sql in STORED.items():
        if sql:
            rows = sqlite3.connect(tmp_path / f"{name}.db").execute(sql).fetchall()
            assert len(rows) == len(before[name]) and all(v.startswith("v1:k2026:") for (v,) in rows), name
    assert "nothing to move" in manage(rotated, "reencrypt", "eldercare")

    # The old key may now go: the suite still reads everything with the new key alone.
    only_new = env | {"PII_KEYS": json.dumps({"k2026": new_key}), "PII_ACTIVE_KEY": "k2026"}
    # Re-seeding finds every demo person by blind index and decrypts them: it adds nothing.
    assert manage(only_new, "seed", *STORED).count("(0 new rows)") == len(STORED)
