"""What reaches the service: the caller's headers and body as sent, the gateway's own headers, and none of its HTTP
client's defaults. A real service on loopback that answers with what it received."""

import json

import pytest

from tests.conftest import service_database
from tests.gateway.conftest import gateway_client
from tests.shared.loopback import free_port, serve_in_background

PATH = "/api/placenames/v1/echo"


async def echo(scope, receive, send):
    """Answers with the headers and the body it received."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    answer = json.dumps(
        {"headers": [[k.decode(), v.decode()] for k, v in scope["headers"]], "body": body.decode()}
    ).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture
async def echo_gateway(db_dir):
    port = free_port()
    server, task = await serve_in_background(echo, port)
    database = await service_database("gateway", "sqlite", db_dir)
    async for gateway in gateway_client(database, upstream_placenames=f"http://127.0.0.1:{port}"):
        yield gateway
    server.should_exit = True
    await task


async def received(gateway, method: str, *, drop: tuple[str, ...] = (), **options) -> tuple[dict, str]:
    request = gateway.build_request(method, PATH, **options)
    for name in drop:
        del request.headers[name]
    response = await gateway.send(request)
    assert response.status_code == 200, response.text
    seen = response.json()
    names = [name for name, _ in seen["headers"]]
    assert len(names) == len(set(names)), names  # no header twice
    return dict(seen["headers"]), seen["body"]


async def test_the_service_gets_no_user_agent_encoding_or_content_type_the_caller_did_not_send(echo_gateway):
    headers, _ = await received(echo_gateway, "GET", drop=("user-agent", "accept-encoding", "accept"))
    assert "user-agent" not in headers and "accept-encoding" not in headers and "content-type" not in headers
    assert headers["accept"] == "*/*"
    assert len(headers["x-request-id"]) == 32
    assert headers["x-forwarded-for"] == "127.0.0.1" and headers["x-forwarded-proto"] == "http"
    assert headers["host"].startswith("127.0.0.1:")  # the service's own address, not the caller's Host

    headers, body = await received(echo_gateway, "POST", drop=("user-agent", "accept-encoding"), content=b"raw")
    assert body == "raw" and headers["content-length"] == "3"
    assert "content-type" not in headers and "user-agent" not in headers and "accept-encoding" not in headers


async def test_the_callers_own_headers_and_bodies_go_through_as_sent(echo_gateway):
    sent = {
        "user-agent": "app/7.1",
        "accept": "application/json",
        "accept-encoding": "br",
        "idempotency-key": "k-1",
        "x-request-id": "app-1.2",
    }
    headers, body = await received(echo_gateway, "POST", json={"a": 1}, headers=sent)
    assert {name: headers[name] for name in sent} == sent
    assert headers["content-type"] == "application/json" and json.loads(body) == {"a": 1}

    async def chunks():
        yield b"one,"
        yield b"two"

    # No Content-Length: the body comes chunked, and is read and forwarded all the same.
    headers, body = await received(echo_gateway, "PUT", content=chunks())
    assert body == "one,two"
