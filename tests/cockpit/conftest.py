"""The gateway in-process, its cockpit asking fake services on loopback (real HTTP, canned indicators)."""

from __future__ import annotations

import copy

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.conftest import service_database
from tests.gateway.conftest import free_port, gateway_client, serve_in_background

AS_OF = "2026-11-29"


def fig(code: str, value, unit: str = "count", *, area: str = "330200", target: dict | None = None, **dimensions):
    """One figure of `/indicators` (shared/indicators.py), as a service answers it."""
    return {
        "code": code,
        "value": value,
        "unit": unit,
        "area": area,
        "as_of": AS_OF,
        "dimensions": {k: str(v) for k, v in dimensions.items()},
        "target": target,
        "note": None,
    }


def goal(value, met: bool, *, scope: str = "city", rule: str = "at_least", new_in_year: bool = False) -> dict:
    return {
        "value": value,
        "rule": rule,
        "scope": scope,
        "new_in_year": new_in_year,
        "met": met,
        "source": "宁波市民政局2022年工作要点",
        "note": None,
    }


# Each service's `/indicators` in the one shape all four answer, with the figures the cockpit shows.
PAYLOADS = {
    "eldercare": {
        "/indicators": {
            "items": [
                fig("canteens", 2, kind="central_kitchen"),
                fig("canteens", 7, kind="canteen", target=goal(150, False, new_in_year=True)),
                fig("canteens", 3, kind="meal_point"),
                fig("meals_served", 340),
                fig("beds", 4100, target=goal(4000, True, new_in_year=True)),
                fig("beds", 1900, bed_type="general"),
                fig("beds", 2100, bed_type="nursing"),
                fig("beds", 100, bed_type="dementia", target=goal(960, False, new_in_year=True)),
                fig("nursing_bed_share", 0.5122, "ratio", target=goal(0.6, False, scope="area")),
                fig("family_beds", 800, target=goal(800, True)),
                fig("certified_caregivers_per_10k", 30.2, "per_10k", target=goal(27, True, scope="area")),
                fig("visits", 41, status="verified"),
                fig("visits", 2, status="flagged"),
                fig("visits", 1, status="missed"),
            ]
        }
    },
    "assistance": {
        "/indicators": {
            "items": [
                *(
                    fig(code, n, unit, programme=p)
                    for p in (
                        "dibao_marginal",
                        "orphan_institution",
                        "orphan_scattered",
                        "child_in_difficulty",
                        "disability_living_subsidy",
                        "disability_care_subsidy",
                    )
                    for code, n, unit in (
                        ("households", 0, "count"),
                        ("persons", 0, "count"),
                        ("monthly_grants", 0, "fen"),
                    )
                ),
                fig("households", 3, programme="dibao"),
                fig("persons", 5, programme="dibao"),
                fig("monthly_grants", 250000, "fen", programme="dibao"),
                fig("households", 1, programme="tekun"),
                fig("persons", 1, programme="tekun"),
                fig("monthly_grants", 187000, "fen", programme="tekun"),
                fig("monthly_grants", 437000, "fen"),
                fig("leads_open", 7),
                fig("reviews_overdue", 2),
                fig("dibao_standard", 110000, "fen_per_month", target=goal(110000, True, scope="area")),
                fig("households", 3, area="330203", programme="dibao"),
                fig("persons", 5, area="330203", programme="dibao"),
                fig("monthly_grants", 250000, "fen", area="330203", programme="dibao"),
                fig("leads_open", 7, area="330203"),
                fig("reviews_overdue", 2, area="330203"),
            ]
        }
    },
    "charity": {
        "/indicators": {
            "items": [
                fig("organizations_registered", 120, target=goal(100, True, rule="more_than")),
                fig("organizations_new_this_year", 3, target=goal(11, False)),
                fig("charities", 10),
                fig("fundraising_qualified", 4),
                *(
                    fig("projects", n, status=s)
                    for s, n in (("draft", 1), ("filed", 0), ("fundraising", 2), ("executing", 1), ("closed", 0))
                ),
                *(
                    f
                    for period in ("this_year", "all_time")
                    for f in (
                        fig("donations", 5, period=period),
                        fig("donated", 1234500, "fen", period=period),
                        fig("refunded", 500, "fen", period=period),
                        fig("raised", 1234000, "fen", period=period),
                        fig("spent", 100000, "fen", period=period),
                    )
                ),
                fig("trusts", 3),
                fig("trust_scale", 500000000, "fen"),
                fig("trusts", 1, area="330203"),
                fig("trusts", 2, area="330212"),
                {**fig("ledger_differences", 2), "alert": True},
                fig("community_fund_coverage", 92.5, "percent", target=goal(90, True, scope="area")),
                fig(
                    "campaign_participation",
                    97.0,
                    "percent",
                    target=goal(95, True, scope="area"),
                    campaign_id=1,
                    campaign_name="2025年慈善一日捐",
                ),
                fig(
                    "campaign_participation",
                    80.0,
                    "percent",
                    target=goal(95, False, scope="area"),
                    campaign_id=2,
                    campaign_name="2026年慈善一日捐",
                ),
            ]
        }
    },
    "placenames": {
        "/indicators": {
            "items": [
                fig("standard_addresses", 5000),
                fig("plates_issued", 4200),
                fig("standard_names", 270),
                fig("naming_events", 3),
                fig("renaming_events", 2),
                fig("unified_roads", 4, target=goal(16, False)),
                fig("unification_progress", 0.25, "ratio"),
                fig("rectified_names", 9),
                fig("filings_missed", 0),
            ]
        }
    },
}
# The services that narrow their figures to the area asked, and how they are asked (placenames does not).
AREA_PARAMS = {"eldercare": "area_code", "assistance": "area_code", "charity": "district"}


class FakeServices:
    """One loopback server answering as all four services; tests reshape answers and read what was asked."""

    def __init__(self):
        self.payloads = copy.deepcopy(PAYLOADS)
        self.requests: list[dict] = []
        self.app = FastAPI()

        @self.app.get("/api/{service}/v1/{path:path}")
        async def answer(service: str, path: str, request: Request):
            self.requests.append(
                {
                    "service": service,
                    "path": f"/{path}",
                    "params": dict(request.query_params),
                    "assertion": request.headers.get("x-identity-assertion"),
                }
            )
            body = self.payloads.get(service, {}).get(f"/{path}")
            if body is None:
                return JSONResponse({"status": 404}, status_code=404)
            body = copy.deepcopy(body)
            asked = request.query_params.get(AREA_PARAMS.get(service, ""))
            for item in body.get("items", []) if isinstance(body.get("items"), list) else []:
                if asked and isinstance(item, dict) and item.get("area") == "330200":  # the whole: the area asked
                    item["area"] = asked
            day = request.query_params.get("day")
            if service == "eldercare" and day:  # an earlier day: its date, and 10 meals per day of the month
                for item in body["items"]:
                    item["as_of"] = day
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
    async for client in gateway_client(
        database, upstream_eldercare=url, upstream_assistance=url, upstream_charity=url, upstream_placenames=url
    ):
        client.fake = fake_services
        yield client


@pytest.fixture
async def cockpit_gateway_placenames_down(fake_services, db_dir):
    """As cockpit_gateway, but nothing listens where placenames should be."""
    fake_services.reset()
    database = await service_database("gateway", "sqlite", db_dir)
    url = fake_services.url
    async for client in gateway_client(
        database,
        upstream_eldercare=url,
        upstream_assistance=url,
        upstream_charity=url,
        upstream_placenames=f"http://127.0.0.1:{free_port()}",
    ):
        client.fake = fake_services
        yield client


@pytest.fixture(scope="session")
async def real_services(db_dir):
    """The four real service apps on loopback, on their migrated (empty) SQLite databases."""
    import importlib

    from tests.conftest import settings_for

    servers, urls = [], {}
    for name in ("eldercare", "assistance", "charity", "placenames"):
        database = await service_database(name, "sqlite", db_dir, role="cockpit")
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
