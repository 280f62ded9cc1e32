"""The service catalogue: services matched to households by need, tracked to delivery."""

import asyncio

from tests.assistance.helpers import household, member
from tests.assistance.test_households import create
from tests.conftest import staff

API = "/api/assistance/v1"
SCOPES = (
    "assistance.catalogue:read",
    "assistance.catalogue:write",
    "assistance.households:read",
    "assistance.households:write",
)
CITY = staff("330200", *SCOPES, subject="staff:city")
YINZHOU = staff("330212", *SCOPES, subject="staff:yinzhou")
HAISHU = staff("330203", *SCOPES, subject="staff:haishu")


def offering(**overrides):
    body = {
        "name": "独居老人上门探访",
        "category": "care_visit",
        "provider": "鄞州区阳光社工服务中心",
        "area_code": "330212",
        "needs": ["lives_alone_or_elderly_couple"],
    }
    return body | overrides


async def add(client, principal=YINZHOU, **overrides):
    response = await client.post(f"{API}/service-catalogue", json=offering(**overrides), headers=client.as_(principal))
    assert response.status_code == 201, response.text
    return response.json()


async def test_services_are_matched_by_need_and_area_and_tracked(client):
    visits = await add(client)
    tutoring = await add(client, name="学业辅导", category="tutoring", needs=["student", "child"])
    repair = await add(client, CITY, name="危房修缮", category="housing_repair", area_code="330200", needs=["housing"])
    counselling = await add(
        client,
        CITY,
        name="心理疏导",
        category="psychological_support",
        area_code="330200",
        needs=["disability", "older_person"],
    )
    haishu_only = await add(client, HAISHU, name="海曙探访", area_code="330203")
    elder = await create(client, household(member(age=78)), YINZHOU)
    proposed = await client.post(
        f"{API}/service-matches", json={"household_id": elder["id"]}, headers=client.as_(YINZHOU)
    )
    assert proposed.status_code == 201, proposed.text
    by_service = {m["service_id"]: m for m in proposed.json()}
    # Living alone at 78: the visits and the counselling; not tutoring, not repairs, not Haishu's service.
    assert set(by_service) == {visits["id"], counselling["id"]}
    assert by_service[visits["id"]]["needs_met"] == ["lives_alone_or_elderly_couple"]
    assert all(m["state"] == "proposed" for m in proposed.json())
    # Asking again proposes nothing new while those are open; asking for one explicitly is a 409.
    again = await client.post(f"{API}/service-matches", json={"household_id": elder["id"]}, headers=client.as_(YINZHOU))
    assert again.json() == []
    explicit = await client.post(
        f"{API}/service-matches",
        json={"household_id": elder["id"], "service_id": visits["id"]},
        headers=client.as_(YINZHOU),
    )
    assert explicit.status_code == 409
    unsuitable = await client.post(
        f"{API}/service-matches",
        json={"household_id": elder["id"], "service_id": tutoring["id"]},
        headers=client.as_(YINZHOU),
    )
    assert unsuitable.status_code == 422 and unsuitable.json()["errors"][0]["field"] == "service_id"
    elsewhere = await client.post(
        f"{API}/service-matches",
        json={"household_id": elder["id"], "service_id": haishu_only["id"]},
        headers=client.as_(YINZHOU),
    )
    assert elsewhere.status_code == 422
    assert repair["id"] not in by_service
    # Tracking: proposed → accepted → delivered; nothing moves a delivered match.
    match_id = by_service[visits["id"]]["id"]
    for state, expected in (("delivered", 409), ("accepted", 200), ("delivered", 200), ("declined", 409)):
        response = await client.post(
            f"{API}/service-matches/{match_id}/state", json={"state": state}, headers=client.as_(YINZHOU)
        )
        assert response.status_code == expected, (state, response.text)
    delivered = await client.get(f"{API}/service-matches", params={"state": "delivered"}, headers=client.as_(YINZHOU))
    assert [m["id"] for m in delivered.json()["items"]] == [match_id]
    # Once delivered, the service can be proposed again (a new visit).
    renewed = await client.post(
        f"{API}/service-matches",
        json={"household_id": elder["id"], "service_id": visits["id"]},
        headers=client.as_(YINZHOU),
    )
    assert renewed.status_code == 201
    # Another district sees neither the household's matches nor Yinzhou's catalogue entries.
    assert (await client.get(f"{API}/service-matches", headers=client.as_(HAISHU))).json()["items"] == []
    assert (
        await client.post(
            f"{API}/service-matches/{match_id}/state", json={"state": "declined"}, headers=client.as_(HAISHU)
        )
    ).status_code == 404
    listed = await client.get(f"{API}/service-catalogue", headers=client.as_(HAISHU))
    assert {s["id"] for s in listed.json()["items"]} == {repair["id"], counselling["id"], haishu_only["id"]}
    street = staff("330212001", *SCOPES)
    listed = await client.get(f"{API}/service-catalogue", params={"category": "care_visit"}, headers=client.as_(street))
    assert [s["id"] for s in listed.json()["items"]] == [visits["id"]]


async def test_bad_catalogue_entries(client):
    for field, value in (("category", "massage"), ("needs", []), ("needs", ["rich"]), ("area_code", "33021")):
        response = await client.post(
            f"{API}/service-catalogue", json=offering(**{field: value}), headers=client.as_(YINZHOU)
        )
        assert response.status_code == 422, (field, response.text)
        assert response.json()["errors"][0]["field"].startswith(field)
    outside = await client.post(
        f"{API}/service-catalogue", json=offering(area_code="330203"), headers=client.as_(YINZHOU)
    )
    assert outside.status_code == 403


async def test_concurrent_acceptances_move_a_match_once(committed_client):
    client = committed_client
    await add(client)
    elder = await create(client, household(member(age=80)), YINZHOU)
    [proposed] = (
        await client.post(f"{API}/service-matches", json={"household_id": elder["id"]}, headers=client.as_(YINZHOU))
    ).json()
    responses = await asyncio.gather(
        *(
            client.post(
                f"{API}/service-matches/{proposed['id']}/state", json={"state": "accepted"}, headers=client.as_(YINZHOU)
            )
            for _ in range(8)
        )
    )
    assert sorted(r.status_code for r in responses).count(200) == 1


async def test_a_service_in_a_community_no_division_has_is_refused(client):
    """A service offered in 330212001999 (no such community of 下应街道) was kept, and served no household."""
    response = await client.post(
        f"{API}/service-catalogue", json=offering(area_code="330212001999"), headers=client.as_(YINZHOU)
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["area_code"], response.text
    assert (await add(client, area_code="330212001005"))["area_code"] == "330212001005"  # 东兴社区, one that exists
