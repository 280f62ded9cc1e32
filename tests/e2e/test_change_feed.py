"""The change feed as deployed: a road renamed in placenames reaches an elder's and a household's stored address
within seconds, through eldercare's and assistance's worker processes (their followers read the feed through the
gateway with the services' own client credentials); a worker restarted meanwhile resumes from its stored
cursor. A partner department reads the same feed with its client credentials."""

import sqlite3
import time

import httpx
import pytest

from tests.e2e.test_journeys import id_number, staff, unique

pytestmark = pytest.mark.e2e

PLACENAMES, ELDERCARE, ASSISTANCE = "/api/placenames/v1", "/api/eldercare/v1", "/api/assistance/v1"
# A worker polls every second; a restarted one first starts Python, gets its token and may find the gateway slow
# to answer on a loaded machine (then it tries again after a pause of up to 10 s).
WITHIN_S = 30.0


def eventually(read, check, within: float = WITHIN_S) -> dict:
    started = time.monotonic()
    while True:
        record = read()
        if check(record):
            return record
        assert time.monotonic() - started < within, f"not within {within} s: {record}"
        time.sleep(0.1)


def rename(suite, headers, name_id: int) -> int:
    renamed = httpx.post(
        f"{suite.url()}{PLACENAMES}/names/{name_id}/events",
        headers=headers,
        json={
            "kind": "renaming",
            "new_name": f"甬馈{unique() % 10**6}路",
            "decision_document": "甬政地名〔2026〕2号",
            "decided_on": "2026-12-01",
        },
    )
    assert renamed.status_code == 201, renamed.text
    return renamed.json()["result_id"]


def full_name(suite, code: str) -> str:
    return httpx.get(f"{suite.url()}{PLACENAMES}/addresses/{code}").json()["full_name"]


def cursor(suite, service: str) -> tuple[int, int]:
    path = suite.env[f"{service.upper()}_DATABASE_URL"].split("///", 1)[1]
    with sqlite3.connect(path) as database:
        return database.execute("SELECT position, applied FROM feed_cursors WHERE feed = 'placenames'").fetchone()


def test_a_rename_reaches_stored_addresses_within_seconds_across_a_worker_restart(suite):
    city = staff(suite, "city-demo")
    road = httpx.post(
        f"{suite.url()}{PLACENAMES}/names",
        headers=city,
        json={"name": f"甬馈{unique() % 10**6}路", "kind": "road", "district_code": "330212", "status": "standard"},
    )
    assert road.status_code == 201, road.text
    house = httpx.post(
        f"{suite.url()}{PLACENAMES}/addresses",
        headers=city,
        json={"district_code": "330212", "road_id": road.json()["id"], "house_number": "8"},
    )
    assert house.status_code == 201, house.text
    code = house.json()["code"]
    elder = httpx.post(
        f"{suite.url()}{ELDERCARE}/elders",
        headers=city,
        json={"id_number": id_number(1944, female=True), "name": "王阿娣", "address_code": code},
    )
    household = httpx.post(
        f"{suite.url()}{ASSISTANCE}/households",
        headers=city,
        json={
            "address_code": code,
            "members": [{"id_number": id_number(1950, female=False), "name": "陈根发", "relationship": "applicant"}],
        },
    )
    assert elder.status_code == household.status_code == 201, (elder.text, household.text)

    def elder_now() -> dict:
        return httpx.get(f"{suite.url()}{ELDERCARE}/elders/{elder.json()['id']}", headers=city).json()

    def household_now() -> dict:
        return httpx.get(f"{suite.url()}{ASSISTANCE}/households/{household.json()['id']}", headers=city).json()

    renamed = rename(suite, city, road.json()["id"])
    text = full_name(suite, code)
    eventually(elder_now, lambda e: e["address"] == text)
    eventually(household_now, lambda h: h["address"] == text)

    suite.stop("eldercare-worker")  # SIGTERM: it finishes the page in hand
    try:
        rename(suite, city, renamed)
        newest = full_name(suite, code)
        eventually(household_now, lambda h: h["address"] == newest)
        assert elder_now()["address"] == text  # no one follows for eldercare now
    finally:
        suite.start("eldercare-worker")
    eventually(elder_now, lambda e: e["address"] == newest)
    last_seq = httpx.get(f"{suite.url()}{PLACENAMES}/changes", headers=city).json()["last_seq"]
    position, applied = eventually(lambda: cursor(suite, "eldercare"), lambda c: c[0] == last_seq)
    assert applied == position  # from 0 to the feed's end, each change applied once across the restart


def test_a_partner_department_reads_the_feed_with_its_client_credentials(suite):
    city = staff(suite, "city-demo")
    registered = httpx.post(
        f"{suite.url()}/api/auth/v1/clients",
        headers=city,
        json={
            "client_id": f"gongan-{unique() % 10**6}",
            "name": "市公安局 (门牌)",
            "kind": "partner",
            "scopes": ["placenames.changes:read"],
        },
    )
    assert registered.status_code == 201, registered.text
    client = registered.json()
    token = httpx.post(
        f"{suite.url()}/api/auth/v1/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client"]["client_id"], client["client_secret"]),
    )
    assert token.status_code == 200, token.text
    partner = {"Authorization": "Bearer " + token.json()["access_token"]}
    page = httpx.get(f"{suite.url()}{PLACENAMES}/changes", params={"after": 0, "limit": 5}, headers=partner)
    assert page.status_code == 200, page.text
    assert page.json()["next_after"] == (page.json()["changes"][-1]["seq"] if page.json()["changes"] else 0)
    beyond = httpx.get(
        f"{suite.url()}{PLACENAMES}/changes", params={"after": page.json()["last_seq"] + 1}, headers=partner
    )
    assert beyond.status_code == 400 and beyond.headers["content-type"].startswith("application/problem+json")
    # The scope is the feed's only: the partner reads nothing else.
    assert httpx.get(f"{suite.url()}{ELDERCARE}/elders", headers=partner).status_code == 403
