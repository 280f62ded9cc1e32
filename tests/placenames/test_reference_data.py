"""Production's register starts from the data that ships with the code: `manage migrate placenames` loads the
division tree and the real standard names, none of the illustrative rows, and a second run adds nothing. Without
it a new installation could issue or standardise no address (the rehearsal under traffic found that)."""

import asyncio
import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from shared.areas import CITY_CODE
from shared.db import make_engine

ROOT = Path(__file__).resolve().parents[2]


def _migrate(url: str) -> str:
    env = os.environ | {
        "ENV": "production",
        "PLACENAMES_DATABASE_URL": url,
        "IDENTITY_SECRET": secrets.token_hex(32),
        "PII_KEYS": json.dumps({"k1": base64.b64encode(os.urandom(32)).decode()}),
        "PII_INDEX_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    done = subprocess.run(
        [sys.executable, "-m", "services.manage", "migrate", "placenames"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def _counts(url: str) -> tuple[int, int, int, bool]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            divisions = (await connection.execute(text("SELECT count(*) FROM divisions"))).scalar_one()
            names = (await connection.execute(text("SELECT count(*) FROM place_names"))).scalar_one()
            made_up = (
                await connection.execute(text("SELECT count(*) FROM place_names WHERE illustrative"))
            ).scalar_one()
            city = (await connection.execute(text("SELECT 1 FROM divisions WHERE code = :c"), {"c": CITY_CODE})).first()
            return divisions, names, made_up, city is not None
    finally:
        await engine.dispose()


def test_migrating_placenames_in_production_loads_the_reference_data_once(scratch_database):
    url = scratch_database("placenames_reference")
    first = _migrate(url)
    divisions, names, made_up, city = asyncio.run(_counts(url))
    assert city and divisions > 100 and names >= 250 and made_up == 0
    assert "reference data up to date" in first
    again = _migrate(url)
    assert "(0 new rows)" in again and asyncio.run(_counts(url)) == (divisions, names, made_up, city)
