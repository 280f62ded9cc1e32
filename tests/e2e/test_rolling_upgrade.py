"""A production rehearsal under traffic, with real processes (#16): ENV=production, PostgreSQL, Redis, migrations as
their own step, bootstrap. While clients order meals through the gateway without pause:
1. eldercare is upgraded: an expand migration runs under the old version, the new version starts beside it on
   the same port (REUSE_PORT), and the old one drains (SIGTERM) and stops;
2. eldercare's client secret is rolled: a new secret with a grace period, a process with it started beside, the
   old one drained;
3. the gateway itself is restarted the same way.
Not one request fails and no acknowledged write is lost. The clients behave as the mini-program does: every order
carries an Idempotency-Key, and a connection that breaks before an answer is sent again with the same key.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pyotp
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from shared.db import make_engine
from shared.migrations import alembic_config
from tests.e2e.conftest import free_ports

pytestmark = pytest.mark.postgresql_only

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("eldercare", "assistance", "charity", "placenames")
SHANGHAI = ZoneInfo("Asia/Shanghai")
ADMIN, ADMIN_PASSWORD, NEW_PASSWORD = "ops-admin", secrets.token_hex(8), secrets.token_hex(10)
AUTH = "/api/auth/v1"


class Process:
    """One process of the suite, run from a source tree (the current one, or a new version's copy)."""

    def __init__(self, name: str, module: str, env: dict[str, str], tree: Path, log_dir: Path):
        self.name, self.log = name, log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
        with open(self.log, "wb") as log:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", module],
                cwd=tree,
                env=env | {"PYTHONPATH": str(tree)},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_started(self, timeout_s: float = 60) -> None:
        """Listening: uvicorn says so once its startup has run (a probe on the shared port might reach the other)."""
        deadline = time.monotonic() + timeout_s
        while b"Application startup complete" not in self.log.read_bytes():
            assert self.popen.poll() is None, f"{self.name} exited: {self.log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"{self.name} did not start: {self.log.read_text()[-2000:]}"
            time.sleep(0.2)

    def drain(self) -> None:
        """SIGTERM: uvicorn stops accepting, finishes what it holds, closes idle connections, exits."""
        self.popen.send_signal(signal.SIGTERM)
        # uvicorn ends by raising the signal again once it has shut down cleanly, so -SIGTERM is a clean exit too.
        assert self.popen.wait(40) in (0, -signal.SIGTERM), self.log.read_text()[-2000:]
        assert b"Application shutdown complete" in self.log.read_bytes(), self.log.read_text()[-2000:]

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


class Traffic:
    """Clients ordering meals and reading them back through the gateway, each in its own thread, until stopped."""

    def __init__(self, base_url: str, token: str, slots: list[tuple[int, int]], clients: int = 3):
        self.base_url, self.token = base_url, token
        self.slots = iter(slots)  # (menu, elder): one live order per person and meal
        self.outcomes: Counter[str] = Counter()
        self.failures: list[str] = []
        self.created: dict[str, int] = {}  # Idempotency-Key → order id, for every order the suite acknowledged
        self.resent = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(60)

    def requests(self) -> int:
        with self.lock:
            return sum(self.outcomes.values())

    def _send(self, client: httpx.Client, method: str, path: str, **kwargs) -> httpx.Response | None:
        """Sent again, as it was, when the connection breaks before an answer: safe for a GET, and for a POST
        because of its Idempotency-Key."""
        for attempt in range(5):
            try:
                return client.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                with self.lock:
                    self.resent += 1
                if attempt == 4:
                    with self.lock:
                        self.failures.append(f"{method} {path}: {exc!r}")
                time.sleep(0.05 * (attempt + 1))
        return None

    def _client(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=30) as client:
            while not self.stopping.is_set():
                with self.lock:
                    menu_id, elder_id = next(self.slots)
                key = uuid.uuid4().hex
                order = {"menu_id": menu_id, "elder_id": elder_id, "fulfilment": "dine_in", "quantity": 1}
                answer = self._send(
                    client, "POST", "/api/eldercare/v1/meal-orders", json=order, headers={"Idempotency-Key": key}
                )
                if answer is None:
                    continue
                self._record("order", answer)
                if answer.status_code == 201:
                    with self.lock:
                        self.created[key] = answer.json()["id"]
                    read = self._send(client, "GET", f"/api/eldercare/v1/meal-orders/{answer.json()['id']}")
                    if read is not None:
                        self._record("read", read)

    def _record(self, what: str, answer: httpx.Response) -> None:
        with self.lock:
            self.outcomes[f"{what} {answer.status_code}"] += 1
            if answer.status_code >= 400:
                self.failures.append(f"{what} {answer.status_code}: {answer.text[:300]}")


def _env(scratch_database, log_dir: Path) -> dict[str, str]:
    ports = dict(zip((*SERVICES, "gateway"), free_ports(len(SERVICES) + 1), strict=True))
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_CLIENT_SECRET", "_DATABASE_URL"))}
    env |= {
        "ENV": "production",
        "LOG_LEVEL": "INFO",
        "REUSE_PORT": "1",
        # As compose ships: resident sign-in needs an SMS provider, which this rehearsal of staff traffic has not.
        "GATEWAY_RESIDENT_SIGN_IN": "false",
        "REDIS_URL": "redis://127.0.0.1:6379/13",
        "IDENTITY_SECRET": secrets.token_hex(32),
        "GATEWAY_TOKEN_SECRET": secrets.token_hex(32),
        "PII_KEYS": json.dumps({"k1": base64.b64encode(os.urandom(32)).decode()}),
        "PII_INDEX_KEY": base64.b64encode(os.urandom(32)).decode(),
        "BOOTSTRAP_ADMIN": ADMIN,
        "BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        # The clients below order as fast as they can, which the production limits rightly refuse.
        "GATEWAY_RATE_LIMITS": json.dumps(
            {k: "100000/100000" for k in ("anonymous", "resident", "staff", "partner", "service", "sign-in")}
        ),
        "GATEWAY_PORT": str(ports["gateway"]),
    }
    for name in (*SERVICES, "gateway"):
        env[f"{name.upper()}_DATABASE_URL"] = scratch_database(f"roll_{name}")
    for name in SERVICES:
        env[f"{name.upper()}_PORT"] = str(ports[name])
        env[f"{name.upper()}_CLIENT_SECRET"] = secrets.token_hex(32)
        env[f"{name.upper()}_GATEWAY_URL"] = f"http://127.0.0.1:{ports['gateway']}"
    return env


def _manage(env: dict[str, str], *args: str, tree: Path = ROOT) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "services.manage", *args],
        cwd=tree,
        env=env | {"PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def _admin_token(gateway: httpx.Client) -> str:
    """The first administrator's first day: the one-time password, a second factor, a new password."""
    first = gateway.post(f"{AUTH}/staff-sign-ins", json={"username": ADMIN, "password": ADMIN_PASSWORD})
    assert first.status_code == 200 and first.json()["scope"] == "", first.text
    headers = {"Authorization": f"Bearer {first.json()['access_token']}"}
    totp = pyotp.TOTP(gateway.post(f"{AUTH}/staff/totp", headers=headers).json()["secret"])
    assert (
        gateway.post(f"{AUTH}/staff/totp/confirmation", headers=headers, json={"code": totp.now()}).status_code == 204
    )
    change = {"current_password": ADMIN_PASSWORD, "new_password": NEW_PASSWORD}
    assert gateway.post(f"{AUTH}/staff/password", headers=headers, json=change).status_code == 204
    next_code = totp.at(int(time.time()) + 30)  # the confirmation spent the current step
    signed_in = gateway.post(
        f"{AUTH}/staff-sign-ins", json={"username": ADMIN, "password": NEW_PASSWORD, "totp": next_code}
    )
    assert signed_in.status_code == 200 and signed_in.json()["scope"], signed_in.text
    return signed_in.json()["access_token"]


def _meals_to_order(gateway: httpx.Client, token: str) -> list[tuple[int, int]]:
    """What a street office sets up on its first days: a standard address, a canteen there, the next two months'
    meals, and older people living at that address. Returns every (menu, person) a meal may be ordered for."""
    headers = {"Authorization": f"Bearer {token}"}

    def created(path: str, body: dict) -> dict:
        answer = gateway.post(path, json=body, headers=headers)
        assert answer.status_code == 201, f"{path}: {answer.status_code} {answer.text}"
        return answer.json()

    roads = gateway.get("/api/placenames/v1/names", params={"q": "天童南路", "kind": "road", "district_code": "330212"})
    assert roads.status_code == 200 and roads.json()["items"], roads.text  # the shipped register has the real roads
    place = {"district_code": "330212", "township_code": "330212008", "road_id": roads.json()["items"][0]["id"]}
    address = created("/api/placenames/v1/addresses", place | {"house_number": "188"})
    canteen = created(
        "/api/eldercare/v1/canteens",
        {"name": "百丈街道老年食堂", "kind": "canteen", "address_code": address["code"]},
    )
    today = dt.datetime.now(SHANGHAI).date()
    menus = [
        created(
            f"/api/eldercare/v1/canteens/{canteen['id']}/menus",
            {
                "served_on": str(today + dt.timedelta(days=day)),
                "meal": meal,
                "dishes": ["青菜"],
                "price_fen": 1500,
                "capacity": 100,
            },
        )["id"]
        # from the day after tomorrow: tomorrow's breakfast closes at 20:00 today (Shanghai), which a run in the
        # evening would pass
        for day in range(2, 61)
        for meal in ("breakfast", "lunch", "dinner")
    ]
    elders = [
        created(
            "/api/eldercare/v1/elders",
            {"id_number": id_number, "name": "王阿娣", "address_code": address["code"]},
        )["id"]
        for id_number in _id_numbers(30)
    ]
    return [(menu, elder) for menu in menus for elder in elders]


def _id_numbers(count: int) -> list[str]:
    """Valid resident ID numbers (GB 11643 check digit) of people born in 1940–1944, living in 鄞州区."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    numbers = []
    for n in range(count):
        body = f"330212{1940 + n % 5}{1 + n % 12:02d}{1 + n % 28:02d}{100 + n:03d}"
        numbers.append(body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11])
    return numbers


def _new_version(tmp: Path, env: dict[str, str]) -> Path:
    """The next release of the suite: today's code plus an expand migration of eldercare's (a nullable column,
    which the running version neither reads nor writes)."""
    tree = tmp / "v2"
    for part in ("shared", "services", "gateway"):
        shutil.copytree(ROOT / part, tree / part, ignore=shutil.ignore_patterns("__pycache__"))
    head = ScriptDirectory.from_config(alembic_config("eldercare", env["ELDERCARE_DATABASE_URL"])).get_current_head()
    (tree / "services/eldercare/migrations/versions/29991231_e0e0e0e0e0e0_expand_meal_order_note.py").write_text(
        f'''"""Expand: meal orders get a note (nullable: the version before this one never writes it)."""

import sqlalchemy as sa
from alembic import op

revision = "e0e0e0e0e0e0"
down_revision = "{head}"


def upgrade() -> None:
    op.add_column("meal_orders", sa.Column("kitchen_note", sa.String(200), nullable=True))


def downgrade() -> None:
    op.drop_column("meal_orders", "kitchen_note")
'''
    )
    return tree


async def _stored_orders(url: str) -> tuple[set[int], bool]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            ids = set((await connection.execute(text("SELECT id FROM meal_orders"))).scalars())
            columns = await connection.execute(
                text(
                    "SELECT 1 FROM information_schema.columns WHERE table_name = 'meal_orders' AND column_name = 'kitchen_note'"
                )
            )
            return ids, columns.first() is not None
    finally:
        await engine.dispose()


def _under_traffic(traffic: Traffic, step: str, action) -> None:
    """Runs one step of the upgrade while the traffic goes on, and shows that traffic went through it."""
    before = traffic.requests()
    action()
    deadline = time.monotonic() + 20
    while traffic.requests() < before + 30:  # served after the step too, not only before it
        assert time.monotonic() < deadline, f"traffic stalled after {step}: {traffic.outcomes}"
        time.sleep(0.1)


def test_an_upgrade_a_secret_roll_and_a_gateway_restart_under_traffic_fail_no_request_and_lose_no_write(
    scratch_database, tmp_path
):
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    env = _env(scratch_database, log_dir)
    _manage(env, "migrate")  # every database, as their own step before any process starts
    assert "registered the client eldercare" in _manage(env, "bootstrap", "--from-env")

    processes: list[Process] = []

    def start(name: str, environment: dict[str, str], tree: Path = ROOT) -> Process:
        module = "gateway" if name == "gateway" else f"services.{name}"
        process = Process(name, module, environment, tree, log_dir)
        processes.append(process)
        process.wait_started()
        return process

    try:
        running = {name: start(name, env) for name in (*SERVICES, "gateway")}
        gateway_url = f"http://127.0.0.1:{env['GATEWAY_PORT']}"
        with httpx.Client(base_url=gateway_url, timeout=30) as gateway:
            token = _admin_token(gateway)
            slots = _meals_to_order(gateway, token)

        new_tree = _new_version(tmp_path, env)
        with Traffic(gateway_url, token, slots) as traffic:
            _under_traffic(traffic, "the start", lambda: None)

            def upgrade_eldercare() -> None:
                _manage(env, "migrate", "eldercare", tree=new_tree)  # expand, under the old version
                new = start("eldercare", env, new_tree)
                running.pop("eldercare").drain()
                running["eldercare"] = new

            _under_traffic(traffic, "the upgrade of eldercare", upgrade_eldercare)

            def roll_eldercare_secret() -> None:
                rotated = _manage(env, "rotate-client-secret", "eldercare", "--grace", "600")
                secret = next(
                    line.split("=", 1)[1]
                    for line in rotated.splitlines()
                    if line.startswith("ELDERCARE_CLIENT_SECRET=")
                )
                env["ELDERCARE_CLIENT_SECRET"] = secret
                new = start("eldercare", env, new_tree)
                running.pop("eldercare").drain()
                running["eldercare"] = new

            _under_traffic(traffic, "the roll of eldercare's secret", roll_eldercare_secret)

            def restart_gateway() -> None:
                new = start("gateway", env)
                running.pop("gateway").drain()
                running["gateway"] = new

            _under_traffic(traffic, "the restart of the gateway", restart_gateway)

        assert not traffic.failures, (traffic.failures[:5], traffic.outcomes)
        stored, expanded = asyncio.run(_stored_orders(env["ELDERCARE_DATABASE_URL"]))
        assert expanded
        assert set(traffic.created.values()) <= stored, "an acknowledged order is not in the database"
        assert len(stored) == len(traffic.created), "an order was stored twice or without an answer"
        assert traffic.outcomes["order 201"] >= 120, traffic.outcomes
        print(f"\nrolling upgrade: {dict(traffic.outcomes)}, {traffic.resent} sent again after a broken connection")
    finally:
        for process in processes:
            process.kill()
