"""Traces across processes: the suite runs with an OTLP endpoint (tests/e2e/conftest.py), and one meal order
is followed from the gateway through eldercare and, for its price, through the gateway again to assistance."""

import secrets
import time

import pytest

from tests.e2e.test_suite import order_for_chen_genfa

pytestmark = pytest.mark.e2e

CHEN_GENFA_ID_NUMBER = "330212195207080032"  # demo data: must never appear in a span


def test_one_trace_follows_a_meal_order_through_every_service_it_touches(suite, collector):
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    request_id = f"trace-{secrets.token_hex(6)}"
    order = order_for_chen_genfa(
        suite, "dinner", {"traceparent": f"00-{trace_id}-{caller_span}-01", "X-Request-Id": request_id}
    )
    assert order.status_code == 201, order.text
    assert order.json()["pricing_basis"] == "live"  # assistance was asked, so its spans must be there

    deadline = time.monotonic() + 20
    while {"gateway", "eldercare", "assistance"} - {s["service"] for s in collector.of_trace(trace_id)}:
        assert time.monotonic() < deadline, {s["service"] for s in collector.of_trace(trace_id)}
        time.sleep(0.2)
    time.sleep(0.5)  # the last batches of the same request
    spans = collector.of_trace(trace_id)
    by_id = {s["span_id"]: s for s in spans}

    # The caller's traceparent is honoured: the gateway's server span is its child.
    roots = [s for s in spans if s["parent"] == caller_span]
    assert [s["service"] for s in roots] == ["gateway"]
    # eldercare's server span hangs under the gateway's outgoing call, and assistance's under eldercare's call.
    for service, caller in (("eldercare", "gateway"), ("assistance", "gateway")):
        served = [
            s
            for s in spans
            if s["service"] == service and s["parent"] in by_id and by_id[s["parent"]]["service"] == caller
        ]
        assert served, f"no {service} span under a {caller} span"
    assert any(s["service"] == "gateway" and by_id.get(s["parent"], {}).get("service") == "eldercare" for s in spans), (
        "eldercare's peer call did not carry the trace to the gateway"
    )
    # SQL statements are spans too.
    assert any(s["service"] == "eldercare" and s["name"].startswith("SELECT") and s["parent"] in by_id for s in spans)

    # The request id is on every span, and no span holds the person's ID number.
    assert {s["attributes"].get("request.id") for s in spans} == {request_id}
    assert not [s for s in spans if CHEN_GENFA_ID_NUMBER in str(s["attributes"])]

    # And the log lines of that request name the trace.
    log = suite.log_path("eldercare").read_text()
    assert any(request_id in line and trace_id in line for line in log.splitlines())


def test_query_strings_stay_out_of_spans(suite, collector):
    """A query may hold a phone or an ID number: URL attributes are cut at the '?'."""
    import httpx

    from tests.e2e.test_suite import token

    trace_id = secrets.token_hex(16)
    listing = httpx.get(
        suite.url() + "/api/eldercare/v1/elders",
        params={"area_code": "330212001"},
        headers=token(suite, "staff-yinzhou") | {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
    )
    assert listing.status_code == 200
    deadline = time.monotonic() + 20
    while {"gateway", "eldercare"} - {s["service"] for s in collector.of_trace(trace_id)}:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(0.5)
    spans = collector.of_trace(trace_id)
    assert not [
        (s["service"], s["name"], k, v) for s in spans for k, v in s["attributes"].items() if "330212001" in str(v)
    ]
