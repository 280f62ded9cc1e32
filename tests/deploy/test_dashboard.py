"""The Grafana dashboard reads only metrics the processes export, and its business panels count routes
that exist: a renamed metric or route would otherwise leave a panel silently empty."""

from __future__ import annotations

import importlib
import json
import re

from shared.settings import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "minzheng.json"
# What shared/metrics.py and gateway/proxy.py export (tests/ops/test_metrics.py scrapes them for real).
EXPORTED = {
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "db_pool_connections_in_use",
    "db_pool_size",
    "gateway_requests_total",
    "gateway_request_duration_seconds_bucket",
    "gateway_upstream_errors_total",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
    "peer_circuit_breaker_state",
    "gateway_circuit_breaker_state",
    "business_events_total",
}
FUNCTIONS = {"sum", "by", "rate", "increase", "histogram_quantile", "le", "on", "group_left", "max"}


def expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["panels"]
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_every_metric_the_dashboard_reads_is_exported():
    for expr in expressions():
        bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", "", expr)  # drop selectors, ranges and strings
        names = set(re.findall(r"[a-z_][a-z0-9_]*", bare)) - FUNCTIONS
        names -= {"service", "route", "upstream", "status", "kind", "instance", "peer", "event"}  # grouping labels
        assert names <= EXPORTED, f"{expr}: unknown metrics {names - EXPORTED}"


def test_business_panels_count_routes_that_exist():
    routes = re.findall(r'route="(/api/(\w+)/v1[^"]*)", method="(\w+)"', "\n".join(expressions()))
    assert len(routes) == 4
    for path, service, method in routes:
        main = importlib.import_module(f"services.{service}.main")
        settings = importlib.import_module(f"services.{service}.settings")
        app = main.create_app(getattr(settings, f"{service.capitalize()}Settings")(env="test"))
        operations = app.openapi()["paths"].get(path, {})
        assert method.lower() in operations, f"{method} {path} is not a route of {service}"
