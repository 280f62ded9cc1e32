"""The real suite: four services and the gateway as processes on free loopback ports, SQLite in a temp dir."""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from services import SERVICES
from tests.shared.loopback import free_port
from tools.devserver import Suite


def free_ports(count: int) -> list[int]:
    """Ports for real processes, reserved until the session ends (tests/shared/loopback.py): a port looked up and
    closed could be taken by an outgoing connection before its process binds it. Each process binds beside the
    reservation (uvicorn sets SO_REUSEADDR), and so do a restart and a second process on the port (REUSE_PORT)."""
    return [free_port() for _ in range(count)]


def suite_env(tmp_path) -> dict[str, str]:
    ports = free_ports(len(SERVICES) + 1)
    generous = {kind: "1000/2000" for kind in ("anonymous", "resident", "staff", "partner", "service", "sign-in")}
    env = {
        "ENV": "dev",
        "GATEWAY_PORT": str(ports[-1]),
        "LOG_LEVEL": "INFO",
        # These tests load the suite on purpose; the limits have tests of their own.
        "GATEWAY_RATE_LIMITS": json.dumps(generous),
        "GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'gateway'}.db",
        # Uploaded materials of online applications, on the run's own disk rather than under var/.
        "ASSISTANCE_MATERIALS_DIR": str(tmp_path / "materials"),
    }
    for port, name in zip(ports, SERVICES, strict=False):
        env[f"{name.upper()}_PORT"] = str(port)
        env[f"{name.upper()}_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / name}.db"
    return env


class Collector:
    """A stand-in OpenTelemetry collector on loopback: takes OTLP/HTTP protobuf exports and keeps the spans
    as dicts (service, trace and span ids, parent, name, attributes)."""

    def __init__(self):
        self.spans: list[dict] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                collector.take(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            service = next(a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in span.attributes}
                    with self.lock:
                        self.spans.append(
                            {
                                "service": service,
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent": span.parent_span_id.hex(),
                                "name": span.name,
                                "attributes": attributes,
                            }
                        )

    def of_trace(self, trace_id: str) -> list[dict]:
        with self.lock:
            return [s for s in self.spans if s["trace_id"] == trace_id]

    def close(self):
        self.server.shutdown()


@pytest.fixture(scope="session")
def collector():
    collector = Collector()
    yield collector
    collector.close()


@pytest.fixture(scope="session")
def suite(tmp_path_factory, collector):
    """The suite as operators run it with tracing on: spans go to the stand-in collector."""
    tmp = tmp_path_factory.mktemp("suite")
    env = suite_env(tmp) | {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "200"}
    with Suite(env, log_dir=tmp / "log").running() as suite:
        yield suite
