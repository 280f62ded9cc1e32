"""The suite as a person runs it: real processes, through the gateway."""

import itertools
import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from services import SERVICES
from services.manage import DATABASES
from shared import divisions
from shared.settings import ROOT
from tests.e2e.conftest import suite_env
from tools.devserver import Suite

pytestmark = pytest.mark.e2e


def token(suite, principal: str) -> dict[str, str]:
    response = httpx.post(suite.url() + "/api/auth/v1/dev-tokens", json={"principal": principal})
    return {"Authorization": "Bearer " + response.json()["access_token"]}


_house_numbers = itertools.count(time.time_ns() // 1000 % 50_000 + 10_000)


def standard_address(suite, township: str = "百丈街道", road: str = "天童南路") -> dict:
    """A house of the placenames registry in 鄞州区, filed under the first community of `township`, issued by the
    city's staff: where the journeys' people live (the demo registry holds names and divisions, no addresses)."""
    township_code = divisions.division_code(township)
    community = min(d.code for d in divisions.tree().by_code.values() if d.current and d.parent == township_code)
    url = suite.url() + "/api/placenames/v1"
    district = divisions.division_code("鄞州区")
    [found] = httpx.get(f"{url}/names/resolve", params={"name": road, "district_code": district}).json()
    issued = httpx.post(
        f"{url}/addresses",
        headers=token(suite, "staff-city"),
        json={
            "district_code": district,
            "township_code": township_code,
            "community_code": community,
            "road_id": found["id"],
            "house_number": str(next(_house_numbers)),
            "latitude": 29.85,
            "longitude": 121.56,
        },
    )
    assert issued.status_code == 201, issued.text
    return issued.json()


# One public or demo-visible resource per service, to prove the whole path.
PROBES = {
    "eldercare": ("/api/eldercare/v1/elders", "staff-yinzhou"),
    "assistance": ("/api/assistance/v1/policies", "staff-city"),
    "charity": ("/api/charity/v1/organizations", None),
    "placenames": ("/api/placenames/v1/divisions/330200", None),
}


def test_all_four_services_are_ready_behind_the_gateway(suite):
    status, body = suite.get("/readyz")
    assert status == 200 and body["status"] == "ready"
    assert {name: s["status"] for name, s in body["services"].items()} == {name: "ready" for name in SERVICES}


def test_each_service_answers_through_the_gateway_and_logs_the_same_request_id(suite):
    for service, (path, principal) in PROBES.items():
        request_id = f"e2e-{service}-{time.time_ns()}"
        headers = {"X-Request-ID": request_id} | (token(suite, principal) if principal else {})
        response = httpx.get(suite.url() + path, headers=headers)
        assert response.status_code == 200, (service, response.text)
        assert response.headers["x-request-id"] == request_id
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            lines = [
                json.loads(line) for line in suite.log_path(service).read_text().splitlines() if line.startswith("{")
            ]
            logged = [line for line in lines if line.get("request_id") == request_id]
            if logged:
                break
            time.sleep(0.1)
        assert logged and logged[0]["status"] == 200 and logged[0]["route"].startswith(f"/api/{service}/v1/")


def test_demo_principals_see_what_they_should(suite):
    resident = httpx.get(suite.url() + "/api/eldercare/v1/elders", headers=token(suite, "resident")).json()
    assert sorted(e["name"] for e in resident["items"]) == ["王阿娣", "陈根发"]
    yinzhou = httpx.get(suite.url() + "/api/eldercare/v1/elders", headers=token(suite, "staff-yinzhou")).json()
    assert yinzhou["items"] and all(e["area_code"].startswith("330212") for e in yinzhou["items"])
    for elder in yinzhou["items"]:
        assert "*" in elder["id_number_masked"]


def test_stopping_one_service_fails_only_its_prefix_until_it_returns(suite):
    suite.stop("charity")
    try:
        down = httpx.get(suite.url() + "/api/charity/v1/organizations")
        assert down.status_code == 503 and down.json()["service"] == "charity"
        for service in ("eldercare", "assistance", "placenames"):
            path, principal = PROBES[service]
            ok = httpx.get(suite.url() + path, headers=token(suite, principal) if principal else {})
            assert ok.status_code == 200, service
        status, body = suite.get("/readyz")  # the gateway stays in rotation; charity's state is in the body
        assert status == 200 and body["status"] == "degraded"
        assert body["services"]["charity"]["status"] == "unreachable"
    finally:
        suite.start("charity")
        suite.wait_ready()
    assert httpx.get(suite.url() + "/api/charity/v1/organizations").status_code == 200


def test_dev_up_stops_every_process_it_started_on_sigterm(tmp_path):
    ports_and_databases = suite_env(tmp_path)
    env = os.environ | ports_and_databases
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.devserver"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    probe = Suite(ports_and_databases)
    try:
        probe.wait_ready(timeout=90)
        # Loading the demo data again adds nothing.
        again = subprocess.run(
            [sys.executable, "-m", "services.manage", "seed"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert again.count("(0 new rows)") == len(DATABASES), again
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert "is up" in output and "stopped." in output and "Demo staff sign-in" in output
    for name in [*SERVICES, "gateway"]:
        with pytest.raises(httpx.ConnectError):
            httpx.get(probe.url(name) + "/healthz", timeout=1)


def test_staff_sign_in_through_the_gateway_reaches_the_services(suite):
    from gateway.seed import DEMO_PASSWORD

    signed_in = httpx.post(
        suite.url() + "/api/auth/v1/staff-sign-ins", json={"username": "yinzhou-demo", "password": DEMO_PASSWORD}
    )
    assert signed_in.status_code == 200, signed_in.text
    headers = {"Authorization": "Bearer " + signed_in.json()["access_token"]}
    elders = httpx.get(suite.url() + "/api/eldercare/v1/elders", headers=headers)
    assert elders.status_code == 200 and all(e["area_code"].startswith("330212") for e in elders.json()["items"])
    # A district member of staff may not set city-wide policy.
    refused = httpx.post(suite.url() + "/api/assistance/v1/policies", headers=headers, json={})
    assert refused.status_code in (403, 422)


def test_no_personal_data_reaches_any_log(suite):
    """ID numbers and phone numbers sent through the suite appear in no process's log."""
    import datetime as dt
    import re

    from stdnum.cn import ric

    base = f"330212{dt.date(1949, 9, 9):%Y%m%d}012"
    id_number = base + ric.calc_check_digit(base + "0")
    phone = "13700001234"
    staff = token(suite, "staff-yinzhou")
    registered = httpx.post(
        suite.url() + "/api/eldercare/v1/elders",
        headers=staff,
        json={
            "id_number": id_number,
            "name": "日志测试",
            "phone": phone,
            "address_code": standard_address(suite)["code"],
            "emergency_contacts": [{"name": "女儿", "phone": "13700005678", "relation": "女儿"}],
        },
    )
    assert registered.status_code in (201, 409), registered.text
    # An invalid one too: validation errors must not echo it into a log either.
    httpx.post(suite.url() + "/api/eldercare/v1/elders", headers=staff, json={"id_number": id_number[:-1] + "0"})
    httpx.post(suite.url() + "/api/auth/v1/code-requests", json={"phone": phone})
    time.sleep(0.5)
    personal = re.compile(rf"{id_number[:-1]}|{phone}|13700005678|\b\d{{17}}[\dXx]\b")
    for name in [*SERVICES, "gateway"]:
        text = suite.log_path(name).read_text()
        leaks = [line for line in text.splitlines() if personal.search(line)]
        assert leaks == [], (name, leaks[:3])


def order_for_chen_genfa(suite, meal: str, extra_headers: dict[str, str] | None = None) -> httpx.Response:
    """The demo resident orders tomorrow's `meal` for 陈根发 (特困 in the demo data) at the first canteen. One
    live order per person and meal: tests sharing the suite order different meals."""
    # A first lookup in a freshly started assistance opens its pool and fills its caches; on a loaded
    # 2-core machine that alone can pass eldercare's 300 ms budget, which the fallback tests cover.
    httpx.post(
        suite.url() + "/api/assistance/v1/status-lookups",
        headers=token(suite, "staff-city"),
        timeout=10,
        json={"id_number": "330203194503150022"},
    )
    resident = token(suite, "resident")  # the family member who cares for 陈根发
    elders = httpx.get(suite.url() + "/api/eldercare/v1/elders", headers=resident).json()["items"]
    elder = next(e for e in elders if e["name"] == "陈根发")
    canteens = httpx.get(suite.url() + "/api/eldercare/v1/canteens", headers=resident).json()["items"]
    # The demo has menus for the day the suite started and the next: the later one still open is tomorrow's, or
    # today's once midnight (Asia/Shanghai) has passed since the start. The list's days are the service's own.
    menus = httpx.get(
        suite.url() + f"/api/eldercare/v1/canteens/{canteens[0]['id']}/menus", params={"meal": meal}, headers=resident
    ).json()
    menu = max((m for m in menus if m["meal"] == meal and m["ordering_open"]), key=lambda m: m["served_on"])
    return httpx.post(
        suite.url() + "/api/eldercare/v1/meal-orders",
        timeout=10,
        headers=resident | {"Idempotency-Key": f"e2e-meal-{time.time_ns()}"} | (extra_headers or {}),
        json={"menu_id": menu["id"], "elder_id": elder["id"], "fulfilment": "dine_in"},
    )


def test_a_meal_is_priced_with_the_status_assistance_holds(suite):
    """eldercare → gateway (its own client-credentials token) → assistance: 陈根发 is 特困 in the demo data."""
    order = order_for_chen_genfa(suite, "lunch")
    assert order.status_code == 201, order.text
    priced = order.json()
    assert (priced["pricing_basis"], priced["status_source"], priced["subsidy_tier"]) == ("live", "assistance", "tekun")
    assert priced["payable_fen"] == priced["unit_price_fen"] - priced["subsidy_fen"] and priced["subsidy_fen"] > 0


def test_an_auditor_finds_who_looked_a_person_up_by_their_id_number(suite):
    """A citizen asks who looked at their data: the city's auditor, signed in through the gateway, finds the
    status lookup about them by ID number in the body, with no number in any URL or in the answer."""
    from gateway.seed import DEMO_PASSWORD

    wang = "330203194503150022"
    purpose = f"e2e 审计查询 {time.time_ns()}"
    looked_up = httpx.post(
        suite.url() + "/api/assistance/v1/status-lookups",
        headers=token(suite, "staff-city"),
        json={"id_number": wang, "purpose": purpose},
        timeout=10,
    )
    assert looked_up.status_code == 200, looked_up.text
    signed_in = httpx.post(
        suite.url() + "/api/auth/v1/staff-sign-ins", json={"username": "auditor-demo", "password": DEMO_PASSWORD}
    )
    assert signed_in.status_code == 200, signed_in.text
    auditor = {"Authorization": "Bearer " + signed_in.json()["access_token"]}
    found = httpx.post(suite.url() + "/api/assistance/v1/pii-reads/searches", headers=auditor, json={"id_number": wang})
    assert found.status_code == 200, found.text
    assert [(r["reader"], r["subject_type"]) for r in found.json()["items"] if r["purpose"] == purpose] == [
        ("staff:city-demo", "status_lookup")
    ]
    assert wang not in found.text


def test_a_batch_uploaded_through_the_gateway_is_standardised_by_the_placenames_worker_process(suite):
    """The API process only enqueues; the worker process `./dev up` started runs the job."""
    headers = token(suite, "partner") | {"content-type": "text/csv"}
    body = "编号,地址\r\nw1,海曙区柳汀街59号\r\nw2,宁波市江北区风华路818号\r\n".encode()
    upload = httpx.post(suite.url() + "/api/placenames/v1/batch-standardizations", content=body, headers=headers)
    assert upload.status_code == 202, upload.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        batch = httpx.get(
            suite.url() + f"/api/placenames/v1/batch-standardizations/{upload.json()['id']}",
            headers=token(suite, "partner"),
        ).json()
        if batch["status"] == "done":
            break
        time.sleep(0.5)
    assert batch["status"] == "done" and batch["processed_lines"] == 2, batch
