"""Traces are off unless an OTLP endpoint is configured; off, the app is served as it is."""

from services.placenames.settings import PlacenamesSettings
from shared import tracing
from shared.app import create_service_app


def test_tracing_is_on_only_with_an_otlp_endpoint_and_not_disabled():
    assert not tracing.configured({})
    assert tracing.configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing.configured({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"})
    assert not tracing.configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"})
    assert not tracing.configured(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"}
    )


def test_off_the_app_is_served_unwrapped(monkeypatch):
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    app = create_service_app(PlacenamesSettings(env="test"), title="t", description="d", routers=[])
    assert tracing.traced_app(app, "placenames") is app and not tracing.enabled()
    assert tracing.current_trace_id() is None
