"""The gateway in-process, its cockpit asking fake services on loopback (real HTTP, canned indicators)."""

from __future__ import annotations

import copy

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.conftest import service_database
from tests.gateway.conftest import free_port, gateway_client, serve_in_background

# Each service's `/indicators` in the shape the service really answers (eldercare: the shape its adapter reads).
PAYLOADS = {
    "eldercare": {"/indicators": {
        "as_of": "2026-11-29", "district": None,
        "canteens": {"new_this_year": 12}, "beds": {"added": 4100, "nursing_share_percent": 55.5,
                                                    "dementia_added": 100},
        "family_beds": {"total": 800}, "caregivers": {"per_10k_elders": 30.2},
        "meals": {"served_per_day": 340, "daily": [{"date": "2026-11-28", "meals": 320},
                                                   {"date": "2026-11-29", "meals": 360}]},
        "visits": {"verified_per_day": 41}}},
    "assistance": {
        "/indicators": {"as_of": "2026-11-29", "area_code": "330200", "totals": {
            "area_code": "330200", "leads_open": 7, "reviews_overdue": 2, "programmes": [
                {"programme": "dibao", "households": 3, "persons": 5, "monthly_grants_fen": 250000},
                {"programme": "tekun", "households": 1, "persons": 1, "monthly_grants_fen": 187000}]},
            "by_area": [{"area_code": "330203", "leads_open": 7, "reviews_overdue": 2, "programmes": [
                {"programme": "dibao", "households": 3, "persons": 5, "monthly_grants_fen": 250000}]}]},
        "/policies": {"as_of": "2026-11-29", "district_code": "330200", "items": [
            {"code": "dibao_standard", "value": 110000, "unit": "fen_per_month"}]}},
    "charity": {"/indicators": {
        "as_of": "2026-11-29", "district": None,
        "organizations": {"registered": {"value": 120, "target": 100, "met": True},
                          "new_this_year": {"value": 3, "target": 11, "met": False},
                          "charities": 10, "fundraising_qualified": 4},
        "projects_by_status": {"draft": 1, "filed": 0, "fundraising": 2, "executing": 1, "closed": 0},
        "money_this_year": {"donations": 5, "donated_fen": 1234500, "refunded_fen": 500, "raised_fen": 1234000,
                            "spent_fen": 100000},
        "money_all_time": {"donations": 5, "donated_fen": 1234500, "refunded_fen": 500, "raised_fen": 1234000,
                           "spent_fen": 100000}}},
    "placenames": {"/indicators": {
        "standard_addresses": 5000, "plates_issued": 4200, "standard_names": 270, "naming_events": 3,
        "renaming_events": 2, "unified_roads": 4, "unification_plan_roads": 16, "unification_progress": 0.25,
        "rectified_names": 9, "filings_missed": 0}},
}


class FakeServices:
    """One loopback server answering as all four services; tests reshape answers and read what was asked."""

    def __init__(self):
        self.payloads = copy.deepcopy(PAYLOADS)
        self.requests: list[dict] = []
        self.app = FastAPI()

        @self.app.get("/api/{service}/v1/{path:path}")
        async def answer(service: str, path: str, request: Request):
            self.requests.append({"service": service, "path": f"/{path}", "params": dict(request.query_params),
                                  "assertion": request.headers.get("x-identity-assertion")})
            body = self.payloads.get(service, {}).get(f"/{path}")
            if body is None:
                return JSONResponse({"status": 404}, status_code=404)
            return body

    def reset(self):
        self.payloads = copy.deepcopy(PAYLOADS)
        self.requests.clear()


@pytest.fixture(scope="session")
async def fake_services():
    fake = FakeServices()
    port = free_port()
    server = await serve_in_background(fake.app, port)
    fake.url = f"http://127.0.0.1:{port}"
    yield fake
    server.should_exit = True


@pytest.fixture
async def cockpit_gateway(fake_services, db_dir):
    """All four upstreams are the fake; placenames points at a closed port when a test asks for it."""
    fake_services.reset()
    database = await service_database("gateway", "sqlite", db_dir)
    url = fake_services.url
    async for client in gateway_client(database, upstream_eldercare=url, upstream_assistance=url,
                                       upstream_charity=url, upstream_placenames=url):
        client.fake = fake_services
        yield client


@pytest.fixture
async def cockpit_gateway_placenames_down(fake_services, db_dir):
    """As cockpit_gateway, but nothing listens where placenames should be."""
    fake_services.reset()
    database = await service_database("gateway", "sqlite", db_dir)
    url = fake_services.url
    async for client in gateway_client(database, upstream_eldercare=url, upstream_assistance=url,
                                       upstream_charity=url, upstream_placenames=f"http://127.0.0.1:{free_port()}"):
        client.fake = fake_services
        yield client
