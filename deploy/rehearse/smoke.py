"""The rehearsal's smoke test: what ops check after `docker compose up` in production, through the gateway only.

    python deploy/rehearse/smoke.py GATEWAY_URL ENV_FILE docker compose -p ... -f ... (the compose command)

Secrets come from the rehearsal's env file, the one compose was given. Exits non-zero, saying what failed, on the
first check that does not hold.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable

import httpx

ONE_OFF = {"eldercare-migrate", "assistance-migrate", "charity-migrate", "placenames-migrate", "gateway-migrate"}
ONE_OFF |= {"bootstrap"}
SERVICES = ("eldercare", "assistance", "charity", "placenames")


def wait_for(what: str, check: Callable[[], str | None], timeout_s: float) -> None:
    """Polls `check` (None when it holds, else why not) until it holds or the time is up."""
    deadline = time.monotonic() + timeout_s
    while (why := check()) is not None:
        if time.monotonic() > deadline:
            sys.exit(f"smoke: {what}: still not after {timeout_s:.0f} s: {why}")
        time.sleep(2)
    print(f"smoke: {what}")


def containers(compose: list[str]) -> dict[str, dict[str, object]]:
    out = subprocess.run([*compose, "ps", "-a", "--format", "json"], capture_output=True, text=True, check=True).stdout
    # compose prints one JSON object per line (older releases: one array).
    rows = json.loads(out) if out.lstrip().startswith("[") else [json.loads(line) for line in out.splitlines() if line]
    return {str(row["Service"]): row for row in rows}


def all_healthy(compose: list[str]) -> str | None:
    rows = containers(compose)
    for name, row in sorted(rows.items()):
        if name in ONE_OFF:
            if row["State"] != "exited" or row.get("ExitCode") != 0:
                return f"{name} is {row['State']} (exit {row.get('ExitCode')})"
        elif row["State"] != "running" or row.get("Health") not in ("", "healthy"):
            return f"{name} is {row['State']} ({row.get('Health') or 'no health check'})"
    missing = {*SERVICES, *(f"{s}-worker" for s in SERVICES), "gateway", "postgres", "redis"} - rows.keys()
    return f"no container for {sorted(missing)}" if missing else None


def read_env_file(path: str) -> dict[str, str]:
    with open(path) as lines:
        return dict(line.rstrip("\n").split("=", 1) for line in lines if "=" in line)


def main(base: str, env_file: str, compose: list[str]) -> None:
    env = read_env_file(env_file)
    client = httpx.Client(base_url=base, timeout=10)

    def answers() -> str | None:
        try:
            return None if client.get("/healthz").status_code == 200 else "not 200"
        except httpx.HTTPError as exc:
            return repr(exc)

    wait_for("the gateway answers /healthz", answers, 300)
    wait_for("every container healthy, every one-off job exited 0", lambda: all_healthy(compose), 180)

    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    print(f"smoke: /readyz {ready.status_code} {ready.text[:200]}")

    # The migration job loaded the register's reference data: the division tree answers.
    city = client.get("/api/placenames/v1/divisions/330200")
    assert city.status_code == 200, f"the division tree: {city.status_code} {city.text}"
    print("smoke: placenames' division tree is loaded")

    # Production exposes no Swagger UI, and the API description only to token holders.
    assert client.get("/docs").status_code == 404
    assert client.get("/openapi.json").status_code == 401
    print("smoke: /docs is gone and /openapi.json needs a token")

    # Each service's client, registered by the bootstrap job with the secret the service was given.
    for service in SERVICES:
        token = client.post(
            "/api/auth/v1/token",
            data={
                "grant_type": "client_credentials",
                "client_id": service,
                "client_secret": env[f"{service.upper()}_CLIENT_SECRET"],
            },
        )
        assert token.status_code == 200, f"{service}'s client: {token.status_code} {token.text}"
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        described = client.get(f"/api/{service}/v1/openapi.json", headers=bearer)
        assert described.status_code == 200, f"{service}'s API description: {described.status_code}"
    print("smoke: each service's client gets a token, and sees its API description through the gateway")

    # A call between services as eldercare makes it (its identity, through the gateway, into assistance's database).
    token = client.post(
        "/api/auth/v1/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "eldercare",
            "client_secret": env["ELDERCARE_CLIENT_SECRET"],
        },
    ).json()["access_token"]
    lookup = client.post(
        "/api/assistance/v1/status-lookups",
        json={"id_number": "330203194503150022"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert lookup.status_code == 200, f"status lookup as eldercare: {lookup.status_code} {lookup.text}"
    print(f"smoke: eldercare's status lookup in assistance answers {lookup.json()}")

    # The first administrator: the one-time password signs in to a token with no scope until the account is set up.
    signed_in = client.post(
        "/api/auth/v1/staff-sign-ins",
        json={"username": env["BOOTSTRAP_ADMIN"], "password": env["BOOTSTRAP_ADMIN_PASSWORD"]},
    )
    assert signed_in.status_code == 200, f"first sign-in: {signed_in.status_code} {signed_in.text}"
    assert signed_in.json().get("scope", "") == "", signed_in.json().get("scope")
    print("smoke: the first administrator signs in with the one-time password, to a token with no scope")

    # Bootstrap again: finds everything and changes nothing.
    again = subprocess.run([*compose, "run", "--rm", "-T", "bootstrap"], capture_output=True, text=True)
    assert again.returncode == 0 and "already bootstrapped" in again.stdout + again.stderr, again.stdout + again.stderr
    print("smoke: bootstrap run a second time changes nothing")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
