"""Needs found on visits, recorded and matched with the derived ones; services withdrawn from the catalogue."""

import asyncio

from tests.assistance.helpers import household, member
from tests.assistance.test_catalogue import CITY, HAISHU, YINZHOU, add
from tests.assistance.test_households import create

API = "/api/assistance/v1"


async def test_a_recorded_need_is_matched_with_the_derived_ones(client):
    counselling = await add(
        client, CITY, name="心理疏导", category="psychological_support", area_code="330200", needs=["psychological"]
    )
    visits = await add(client)  # for people living alone at 60+
    family = await create(client, household(member(age=40), member("child", age=9)), YINZHOU)
    needs_url = f"{API}/households/{family['id']}/needs"

    before = await client.get(needs_url, headers=client.as_(YINZHOU))
    assert before.json()["needs"] == [
        {"need": "child", "basis": "derived", "note": None, "recorded_by": None, "recorded_at": None}
    ]
    assert (
        await client.post(f"{API}/service-matches", json={"household_id": family["id"]}, headers=client.as_(YINZHOU))
    ).json() == []

    recorded = await client.post(
        needs_url, json={"need": "psychological", "note": "入户走访：丧偶后情绪低落"}, headers=client.as_(YINZHOU)
    )
    assert recorded.status_code == 201, recorded.text
    by_need = {n["need"]: n for n in recorded.json()["needs"]}
    assert by_need["psychological"]["basis"] == "recorded"
    assert by_need["psychological"]["recorded_by"] == "staff:yinzhou"
    again = await client.post(
        needs_url, json={"need": "psychological", "note": "再次记录"}, headers=client.as_(YINZHOU)
    )
    assert again.status_code == 409
    for body, field in (({"need": "lonely", "note": "x x"}, "need"), ({"need": "employment", "note": ""}, "note")):
        refused = await client.post(needs_url, json=body, headers=client.as_(YINZHOU))
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == field
    assert (
        await client.post(needs_url, json={"need": "employment", "note": "失业"}, headers=client.as_(HAISHU))
    ).status_code == 404
    assert (await client.get(needs_url, headers=client.as_(HAISHU))).status_code == 404

    matched = await client.post(
        f"{API}/service-matches", json={"household_id": family["id"]}, headers=client.as_(YINZHOU)
    )
    assert [(m["service_id"], m["needs_met"]) for m in matched.json()] == [(counselling["id"], ["psychological"])]
    assert visits["id"] not in [m["service_id"] for m in matched.json()]


async def test_a_withdrawn_service_is_proposed_no_more(client):
    visits = await add(client)
    elder = await create(client, household(member(age=80)), YINZHOU)
    withdrawn = await client.post(f"{API}/service-catalogue/{visits['id']}/withdrawal", headers=client.as_(YINZHOU))
    assert withdrawn.status_code == 200 and withdrawn.json()["active"] is False
    assert (
        await client.post(f"{API}/service-catalogue/{visits['id']}/withdrawal", headers=client.as_(YINZHOU))
    ).status_code == 409
    assert (
        await client.post(f"{API}/service-catalogue/{visits['id']}/withdrawal", headers=client.as_(HAISHU))
    ).status_code == 404
    assert (
        await client.post(f"{API}/service-matches", json={"household_id": elder["id"]}, headers=client.as_(YINZHOU))
    ).json() == []


async def test_one_need_recorded_once_under_concurrency(committed_client):
    client = committed_client
    family = await create(client, household(member(age=40)), YINZHOU)
    responses = await asyncio.gather(
        *(
            client.post(
                f"{API}/households/{family['id']}/needs",
                json={"need": "employment", "note": f"走访 {i}"},
                headers=client.as_(YINZHOU),
            )
            for i in range(8)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1 and set(statuses) == {201, 409}, statuses
