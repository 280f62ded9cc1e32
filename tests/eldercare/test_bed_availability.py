"""Bed availability by date: which beds can take a person on a day or a range, from holds and admissions."""

from __future__ import annotations

import datetime as dt

from shared import clock
from tests.conftest import TEST_DAY
from tests.eldercare.test_beds import CARER_P, HAISHU, YINZHOU, add_beds, add_institution, hold, lapse
from tests.eldercare.test_meals import API, add_elder

TODAY = TEST_DAY  # the clock is at noon on TEST_DAY (tests/eldercare/conftest.py)


async def available(client, who=YINZHOU, **params) -> list[dict]:
    response = await client.get(
        f"{API}/bed-availability",
        headers=client.as_(who),
        params={k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in params.items()},
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


def ids(items: list[dict]) -> list[int]:
    return [b["bed_id"] for b in items]


async def test_availability_follows_holds_admissions_and_discharges(client):
    institution = await add_institution(client)
    beds = await add_beds(client, institution["id"], "nursing", 3)
    [general] = await add_beds(client, institution["id"], "general", prefix="2-10")
    closed = await client.post(
        f"{API}/beds",
        headers=client.as_(YINZHOU),
        json={"institution_id": institution["id"], "label": "9-999", "bed_type": "nursing", "in_service": False},
    )
    assert closed.status_code == 201, closed.text
    haishu = await add_institution(client, who=HAISHU, name="海曙区颐养院", area_code="330203001")
    [haishu_bed] = await add_beds(client, haishu["id"], "nursing", who=HAISHU, prefix="3-10")
    mine = dict(bed_type="nursing", institution_id=institution["id"])

    # Nothing held or occupied: every bed in service, today and later, by the resident's token too.
    assert ids(await available(client, CARER_P, **mine)) == beds
    first = (await available(client, **mine))[0]
    assert first["basis"] == "free" and first["held_until"] is None and first["whole_range"] is True
    assert first["available_from"] == TODAY.isoformat() and first["institution_name"] == institution["name"]

    # A hold for three days blocks its bed through the day of its deadline; an admission blocks its bed on any day.
    holder, _ = await add_elder(client)
    held = await hold(client, beds[0], holder, minutes=3 * 24 * 60)
    assert held.status_code == 201, held.text
    deadline = dt.datetime.fromisoformat(held.json()["expires_at"])
    last_held_day = deadline.astimezone(clock.SHANGHAI).date()
    after = last_held_day + dt.timedelta(days=1)
    admitted_elder, _ = await add_elder(client, serial="071")
    admission = await client.post(
        f"{API}/admissions", headers=client.as_(YINZHOU), json={"bed_id": beds[1], "elder_id": admitted_elder}
    )
    assert admission.status_code == 201, admission.text

    assert ids(await available(client, **mine)) == [beds[2]]
    assert ids(await available(client, date_from=last_held_day, **mine)) == [beds[2]]
    later = await available(client, date_from=after, date_to=after + dt.timedelta(days=30), **mine)
    assert ids(later) == [beds[0], beds[2]]
    assert later[0]["basis"] == "if_hold_lapses" and later[0]["available_from"] == after.isoformat()
    assert dt.datetime.fromisoformat(later[0]["held_until"]) == deadline
    assert later[1]["basis"] == "free"
    # The bed search's `available_on` follows the same rule.
    search = await client.get(
        f"{API}/beds", headers=client.as_(YINZHOU), params={"available_on": after.isoformat(), **mine}
    )
    assert [b["id"] for b in search.json()["items"]] == [beds[0], beds[2]]
    assert search.json()["items"][0]["occupancy"] == "held"
    search = await client.get(
        f"{API}/beds", headers=client.as_(YINZHOU), params={"available_on": last_held_day.isoformat(), **mine}
    )
    assert [b["id"] for b in search.json()["items"]] == [beds[2]]

    # A range across the deadline: the held bed only when beds that free up within it are asked for.
    span = dict(date_from=TODAY, date_to=after + dt.timedelta(days=1), **mine)
    assert ids(await available(client, **span)) == [beds[2]]
    partial = await available(client, whole_range="false", **span)
    assert ids(partial) == [beds[0], beds[2]]
    assert partial[0]["whole_range"] is False and partial[0]["available_from"] == after.isoformat()
    assert partial[1]["whole_range"] is True and partial[1]["available_from"] == TODAY.isoformat()
    # A range that ends on the deadline's day: the held bed is never available within it.
    assert ids(await available(client, whole_range="false", date_to=last_held_day, **mine)) == [beds[2]]

    # By area, by type, by institution.
    assert ids(await available(client, area_code="330203")) == [haishu_bed]
    assert ids(await available(client, area_code="330212001")) == [beds[2], general]
    assert ids(await available(client, bed_type="general")) == [general]
    assert ids(await available(client, area_code="330200")) == [beds[2], general, haishu_bed]

    # The hold lapses and the person is discharged: both beds are available today again.
    await lapse(client, held.json()["id"])
    out = await client.post(
        f"{API}/admissions/{admission.json()['id']}/discharge", headers=client.as_(YINZHOU), json={"reason": "回家养老"}
    )
    assert out.status_code == 200, out.text
    now = await available(client, **mine)
    assert ids(now) == beds and {b["basis"] for b in now} == {"free"}


async def test_pages_of_available_beds(client):
    institution = await add_institution(client)
    beds = await add_beds(client, institution["id"], "dementia", 3)
    first = await client.get(
        f"{API}/bed-availability", headers=client.as_(YINZHOU), params={"institution_id": institution["id"], "limit": 2}
    )
    assert first.status_code == 200 and ids(first.json()["items"]) == beds[:2]
    rest = await client.get(
        f"{API}/bed-availability",
        headers=client.as_(YINZHOU),
        params={"institution_id": institution["id"], "limit": 2, "cursor": first.json()["next_cursor"]},
    )
    assert ids(rest.json()["items"]) == beds[2:] and rest.json()["next_cursor"] is None


async def test_bad_dates_and_filters_are_422_problems(client):
    horizon = TODAY + dt.timedelta(days=366)
    for params, field in (
        ({"date_from": (TODAY - dt.timedelta(days=1)).isoformat()}, "date_from"),
        ({"date_from": TODAY.isoformat(), "date_to": (TODAY - dt.timedelta(days=1)).isoformat()}, "date_to"),
        (
            {
                "date_from": (TODAY + dt.timedelta(days=5)).isoformat(),
                "date_to": (TODAY + dt.timedelta(days=4)).isoformat(),
            },
            "date_to",
        ),
        ({"date_to": (horizon + dt.timedelta(days=1)).isoformat()}, "date_to"),
        ({"date_from": "9999-12-31"}, "date_from"),
        ({"date_from": "2026-02-30"}, "date_from"),
        ({"date_to": "tomorrow"}, "date_to"),
        ({"area_code": "33021"}, "area_code"),
        ({"bed_type": "luxury"}, "bed_type"),
        ({"institution_id": "0"}, "institution_id"),
        ({"whole_range": "maybe"}, "whole_range"),
    ):
        response = await client.get(f"{API}/bed-availability", headers=client.as_(YINZHOU), params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == field, (params, response.json())
    assert (
        await client.get(
            f"{API}/bed-availability", params={"date_to": horizon.isoformat()}, headers=client.as_(YINZHOU)
        )
    ).status_code == 200
    assert (await client.get(f"{API}/bed-availability")).status_code == 401


async def test_availability_is_described_in_the_openapi(client):
    document = client.app.openapi()
    operation = document["paths"][f"{API}/bed-availability"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert {"date_from", "date_to", "bed_type", "institution_id", "area_code", "whole_range", "limit", "cursor"} <= set(
        parameters
    )
    assert parameters["date_from"]["schema"]["anyOf"][0]["format"] == "date"
    assert "planned discharge" in operation["description"] and "422" in operation["responses"]
    assert "eldercare.beds:read" in str(operation)
