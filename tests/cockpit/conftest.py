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
        "area_code": "330200", "as_of": "2026-11-29", "source_of_targets": "宁波市民政局2022年工作要点", "items": [
            {"code": "canteens_by_kind", "label": "助餐服务点（按类型）", "unit": "count", "target": 150,
             "value": {"central_kitchen": 2, "canteen": 7, "meal_point": 3}},
            {"code": "standardised_canteens", "label": "标准化老年食堂", "unit": "count", "target": 150, "value": 7},
            {"code": "meals_served", "label": "当日助餐份数", "value": 340, "unit": "portions"},
            {"code": "beds_by_type", "label": "养老机构床位（按类型）", "unit": "count", "target": 4000,
             "value": {"general": 1900, "nursing": 2100, "dementia": 100}},
            {"code": "nursing_bed_share", "label": "护理型床位占比", "value": 0.5122, "unit": "ratio", "target": 0.6},
            {"code": "dementia_beds", "label": "认知障碍照护床位", "value": 100, "unit": "count", "target": 960},
            {"code": "family_beds", "label": "家庭养老床位", "value": 800, "unit": "count", "target": 800},
            {"code": "certified_caregivers_per_10k", "label": "每万名老年人持证护理员", "value": 30.2,
             "unit": "per 10,000 older people", "target": 27},
            {"code": "visits", "label": "上门服务", "unit": "count",
             "value": {"verified": 41, "flagged": 2, "missed": 1}}]}},
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
                           "spent_fen": 100000},
        "trusts": {"trusts": 3, "scale_fen": 500000000, "by_district": {"330203": 1, "330212": 2}},
        "community_fund_coverage": {"value": 92.5, "target": 90, "met": True},
        "campaigns": [{"campaign_id": 1, "name": "2025年慈善一日捐", "participation": {"value": 97.0, "target": 95,
                                                                                   "met": True}},
                      {"campaign_id": 2, "name": "2026年慈善一日捐", "participation": {"value": 80.0, "target": 95,
                                                                                   "met": False}}]}},
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
            day = request.query_params.get("day")
            if service == "eldercare" and day:  # an earlier day: its date, and 10 meals per day of the month
                body = copy.deepcopy(body) | {"as_of": day}
                next(i for i in body["items"] if i["code"] == "meals_served")["value"] = int(day[-2:]) * 10
            return body

    def reset(self):
        self.payloads = copy.deepcopy(PAYLOADS)
        self.requests.clear()


@pytest.fixture(scope="session")
async def fake_services():
    fake = FakeServices()
    port = free_port()
    server, _task = await serve_in_background(fake.app, port)
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


@pytest.fixture(scope="session")
async def real_services(db_dir):
    """The four real service apps on loopback, on their migrated (empty) SQLite databases."""
    import importlib

    from tests.conftest import settings_for

    servers, urls = [], {}
    for name in ("eldercare", "assistance", "charity", "placenames"):
        database = await service_database(name, "sqlite", db_dir)
        app = importlib.import_module(f"services.{name}.main").create_app(settings_for(name, database.url))
        port = free_port()
        servers.append((await serve_in_background(app, port))[0])
        urls[f"upstream_{name}"] = f"http://127.0.0.1:{port}"
    yield urls
    for server in servers:
        server.should_exit = True


@pytest.fixture
async def real_gateway(real_services, db_dir):
    database = await service_database("gateway", "sqlite", db_dir)
    async for client in gateway_client(database, **real_services):
        # These services share the test's one event loop on a busy machine: a contract check, not a latency one.
        client.app.local_app.state.cockpit.timeout_s = 30
        yield client
