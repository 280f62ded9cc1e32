"""An unexpected error is a 500 problem whose request id the caller can quote: in the body, in the header and in
the log line that holds the traceback (Starlette answers it outside every middleware, after the request's context
is gone, so this is not given)."""

import json
import logging

import httpx

from shared.logs import JsonFormatter
from tests.conftest import client_for, service_database


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.setFormatter(JsonFormatter("test"))
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


async def test_a_500_carries_the_request_id_in_its_body_header_and_log_line(db_dir):
    async for client in client_for("placenames", await service_database("placenames", "sqlite", db_dir)):

        async def boom():
            raise RuntimeError("a bug")

        client.app.add_api_route("/boom", boom)
        lines, root = Lines(), logging.getLogger()
        level = root.level
        root.addHandler(lines)
        root.setLevel(logging.INFO)
        try:
            # Starlette re-raises the error to the server after answering; a server keeps the answer.
            transport = httpx.ASGITransport(app=client.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://placenames") as raw:
                given = await raw.get("/boom", headers={"X-Request-ID": "req-boom-1"})
                made = await raw.get("/boom")
        finally:
            root.removeHandler(lines)
            root.setLevel(level)

        assert given.status_code == 500 and given.headers["content-type"].startswith("application/problem+json")
        assert given.json()["request_id"] == given.headers["x-request-id"] == "req-boom-1"
        assert made.json()["request_id"] == made.headers["x-request-id"] and len(made.headers["x-request-id"]) == 32
        errors = [line for line in lines.lines if line["message"] == "unhandled error"]
        assert [line["request_id"] for line in errors] == ["req-boom-1", made.headers["x-request-id"]]
        assert "RuntimeError: a bug" in errors[0]["error"]
        requests = [line for line in lines.lines if line["message"] == "request"]
        assert [(line["request_id"], line["status"]) for line in requests] == [
            ("req-boom-1", 500),
            (made.headers["x-request-id"], 500),
        ]
