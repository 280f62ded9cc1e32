"""Registering and reading older people: ID-derived facts, masking, area and carer scoping, errors."""

import datetime as dt

from stdnum.cn import ric

from shared import clock
from tests.conftest import resident, staff

READ, WRITE = "eldercare.elders:read", "eldercare.elders:write"
YINZHOU_STAFF = staff("330212", READ, WRITE, subject="staff:yinzhou")
HAISHU_STAFF = staff("330203", READ, WRITE, subject="staff:haishu")


def id_number(division: str, birth: dt.date, serial: str = "123") -> str:
    base = f"{division}{birth:%Y%m%d}{serial}"
    return base + ric.calc_check_digit(base + "0")


def years_ago(years: int, days: int = 0) -> dt.date:
    today = clock.today()
    return today.replace(year=today.year - years) - dt.timedelta(days=days)


def elder_body(**overrides):
    body = {
        "id_number": id_number("330212", dt.date(1944, 3, 5), "012"),
        "name": "张桂英",
        "phone": "13805749999",
        "address": "鄞州区百丈街道百丈东路1号",
        "area_code": "330212001",
        "latitude": 29.87,
        "longitude": 121.56,
        "lives_alone": True,
        "carers": [{"subject": "resident:13900000009", "relation": "child"}],
    }
    return body | overrides


async def test_registration_derives_facts_and_masks_personal_data(client):
    response = await client.post("/api/eldercare/v1/elders", json=elder_body(), headers=client.as_(YINZHOU_STAFF))
    assert response.status_code == 201, response.text
    elder = response.json()
    assert elder["birth_on"] == "1944-03-05"
    assert elder["sex"] == "female"  # serial 012: the 17th digit, 2, is even
    today = clock.today()
    assert elder["age"] == today.year - 1944 - ((today.month, today.day) < (3, 5))
    assert elder["is_advanced_age"] is True
    assert elder["id_number_masked"] == "330212********" + elder_body()["id_number"][-4:]
    assert elder["phone_masked"] == "138****9999"
    assert "id_number" not in elder and "phone" not in elder

    fetched = await client.get(f"/api/eldercare/v1/elders/{elder['id']}", headers=client.as_(YINZHOU_STAFF))
    assert fetched.status_code == 200 and fetched.json() == elder


async def test_under_sixty_is_refused_and_sixty_today_is_accepted(client):
    young = id_number("330212", years_ago(60, days=-1), "031")  # turns 60 tomorrow
    response = await client.post(
        "/api/eldercare/v1/elders", json=elder_body(id_number=young), headers=client.as_(YINZHOU_STAFF)
    )
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["errors"][0]["field"] == "id_number" and "59" in problem["detail"]

    exactly_sixty = id_number("330212", years_ago(60), "041")
    response = await client.post(
        "/api/eldercare/v1/elders", json=elder_body(id_number=exactly_sixty), headers=client.as_(YINZHOU_STAFF)
    )
    assert response.status_code == 201, response.text


async def test_invalid_id_numbers_name_the_field(client):
    good = elder_body()["id_number"]
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    for bad in (wrong_check, "330212194802300212", "999999194803050212"):
        response = await client.post(
            "/api/eldercare/v1/elders", json=elder_body(id_number=bad), headers=client.as_(YINZHOU_STAFF)
        )
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["field"] == "id_number"


async def test_a_name_or_address_of_spaces_alone_is_refused_naming_it_and_nothing_is_stored(client):
    # Full-width spaces are what a phone's Chinese keyboard types: "　　" met min_length and was stored as a name.
    for field, blank in (("name", "\u3000\u3000"), ("name", "   "), ("address", " \u3000 ")):
        response = await client.post(
            "/api/eldercare/v1/elders", json=elder_body(**{field: blank}), headers=client.as_(YINZHOU_STAFF)
        )
        assert response.status_code == 422, response.text
        assert [(e["field"], e["message"]) for e in response.json()["errors"]] == [
            (field, "must not be white space alone")
        ]
    listed = await client.get("/api/eldercare/v1/elders", headers=client.as_(YINZHOU_STAFF))
    assert listed.json()["items"] == []
    assert (
        await client.post("/api/eldercare/v1/elders", json=elder_body(), headers=client.as_(YINZHOU_STAFF))
    ).status_code == 201


async def test_born_before_their_district_code_existed_is_valid(client):
    # 海曙区 got code 330203 in 1983; people born in the 1940s hold 330203 numbers all the same.
    body = elder_body(id_number=id_number("330203", dt.date(1941, 7, 1), "012"), area_code="330203001")
    response = await client.post("/api/eldercare/v1/elders", json=body, headers=client.as_(HAISHU_STAFF))
    assert response.status_code == 201, response.text


async def test_duplicate_registration_is_a_conflict_naming_the_person(client):
    first = await client.post("/api/eldercare/v1/elders", json=elder_body(), headers=client.as_(YINZHOU_STAFF))
    second = await client.post("/api/eldercare/v1/elders", json=elder_body(), headers=client.as_(YINZHOU_STAFF))
    assert second.status_code == 409
    assert second.json()["resource"] == f"elders/{first.json()['id']}"


async def test_staff_see_and_register_only_in_their_area(client):
    created = await client.post("/api/eldercare/v1/elders", json=elder_body(), headers=client.as_(YINZHOU_STAFF))
    elder_id = created.json()["id"]
    # Another district's staff get the same 404 as for a person who does not exist.
    other = await client.get(f"/api/eldercare/v1/elders/{elder_id}", headers=client.as_(HAISHU_STAFF))
    assert other.status_code == 404
    listed = await client.get("/api/eldercare/v1/elders", headers=client.as_(HAISHU_STAFF))
    assert elder_id not in [e["id"] for e in listed.json()["items"]]
    outside = await client.post(
        "/api/eldercare/v1/elders", json=elder_body(area_code="330212001"), headers=client.as_(HAISHU_STAFF)
    )
    assert outside.status_code == 403
    # A city-level member of staff sees every district.
    city = staff("330200", READ)
    assert (await client.get(f"/api/eldercare/v1/elders/{elder_id}", headers=client.as_(city))).status_code == 200


async def test_a_resident_sees_only_the_people_they_care_for(client):
    created = await client.post("/api/eldercare/v1/elders", json=elder_body(), headers=client.as_(YINZHOU_STAFF))
    elder_id = created.json()["id"]
    carer = resident("resident:13900000009", READ)
    stranger = resident("resident:13900000010", READ)
    assert (await client.get(f"/api/eldercare/v1/elders/{elder_id}", headers=client.as_(carer))).status_code == 200
    assert (await client.get(f"/api/eldercare/v1/elders/{elder_id}", headers=client.as_(stranger))).status_code == 404
    mine = await client.get("/api/eldercare/v1/elders", headers=client.as_(carer))
    assert [e["id"] for e in mine.json()["items"]] == [elder_id]
    assert (await client.get("/api/eldercare/v1/elders", headers=client.as_(stranger))).json()["items"] == []


async def test_credentials_are_required_and_scopes_checked(client):
    assert (await client.get("/api/eldercare/v1/elders")).status_code == 401
    read_only = staff("330212", READ)
    response = await client.post("/api/eldercare/v1/elders", json=elder_body(), headers=client.as_(read_only))
    assert response.status_code == 403 and WRITE in response.json()["detail"]
    # A bare header naming a user is not an identity; neither is an assertion signed with another key.
    forged = {"X-Identity-Assertion": client.as_(YINZHOU_STAFF)["X-Identity-Assertion"][:-4] + "AAAA"}
    assert (await client.get("/api/eldercare/v1/elders", headers=forged)).status_code == 401


async def test_pages_follow_the_cursor_without_repeats(client):
    ids = []
    for serial in range(5):
        body = elder_body(id_number=id_number("330212", dt.date(1950, 1, 1 + serial), f"{serial:02d}1"), carers=[])
        ids.append(
            (await client.post("/api/eldercare/v1/elders", json=body, headers=client.as_(YINZHOU_STAFF))).json()["id"]
        )
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "area_code": "330212"} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/eldercare/v1/elders", params=params, headers=client.as_(YINZHOU_STAFF))).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [i for i in seen if i in ids] == ids
    too_big = await client.get("/api/eldercare/v1/elders", params={"limit": 1000}, headers=client.as_(YINZHOU_STAFF))
    assert too_big.status_code == 422 and too_big.json()["errors"][0]["field"] == "limit"


async def test_bad_input_is_a_problem_naming_the_field_and_writes_nothing(client):
    headers = client.as_(YINZHOU_STAFF) | {"content-type": "application/json"}
    malformed = await client.post("/api/eldercare/v1/elders", content=b'{"name": ', headers=headers)
    assert malformed.status_code == 422 and malformed.headers["content-type"] == "application/problem+json"
    for field, value in (("latitude", 91), ("longitude", -181), ("area_code", "33021"), ("phone", "12345")):
        response = await client.post("/api/eldercare/v1/elders", json=elder_body(**{field: value}), headers=headers)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field
    # The same carer twice trips a unique constraint after the elder row was flushed: all of it is undone.
    twice = [{"subject": "resident:1", "relation": "child"}] * 2
    response = await client.post("/api/eldercare/v1/elders", json=elder_body(carers=twice), headers=headers)
    assert response.status_code == 409
    listed = await client.get("/api/eldercare/v1/elders", headers=client.as_(YINZHOU_STAFF))
    assert listed.json()["items"] == []


async def test_a_retried_registration_returns_the_first_result(client):
    headers = client.as_(YINZHOU_STAFF) | {"Idempotency-Key": "reg-0001"}
    first = await client.post("/api/eldercare/v1/elders", json=elder_body(), headers=headers)
    again = await client.post("/api/eldercare/v1/elders", json=elder_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    other_body = await client.post("/api/eldercare/v1/elders", json=elder_body(name="别人"), headers=headers)
    assert other_body.status_code == 422 and other_body.json()["errors"][0]["field"] == "Idempotency-Key"
    # A request refused by a rule frees its key: the corrected retry goes through.
    young = id_number("330212", years_ago(50), "051")
    key = client.as_(YINZHOU_STAFF) | {"Idempotency-Key": "reg-0002"}
    assert (
        await client.post("/api/eldercare/v1/elders", json=elder_body(id_number=young), headers=key)
    ).status_code == 422
    fixed = elder_body(id_number=id_number("330212", dt.date(1951, 2, 2), "061"))
    assert (await client.post("/api/eldercare/v1/elders", json=fixed, headers=key)).status_code == 201


async def test_forged_or_borrowed_cursors_are_refused_not_a_500(client):
    import base64
    import json

    headers = client.as_(YINZHOU_STAFF)
    for serial in range(3):
        body = elder_body(id_number=id_number("330212", dt.date(1951, 1, 1 + serial), f"{serial:02d}2"), carers=[])
        await client.post("/api/eldercare/v1/elders", json=body, headers=headers)
    page = (await client.get("/api/eldercare/v1/elders", params={"limit": 1}, headers=headers)).json()
    payload, mac = page["next_cursor"].split(".")
    forged = [
        base64.urlsafe_b64encode(json.dumps(k).encode()).decode().rstrip("=") + "." + mac
        for k in ("abc", {"a": 1}, 1.5, [1, 2])
    ]
    for cursor in [*forged, "abc", "a.b.c", payload]:
        response = await client.get("/api/eldercare/v1/elders", params={"cursor": cursor}, headers=headers)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "cursor", cursor
    # A cursor is bound to the endpoint that issued it: the elders list's cursor is no good for canteens.
    from services.eldercare.scopes import CANTEENS_READ

    borrowed = await client.get(
        "/api/eldercare/v1/canteens",
        params={"cursor": page["next_cursor"]},
        headers=client.as_(staff("330212", CANTEENS_READ)),
    )
    assert borrowed.status_code == 422 and borrowed.json()["errors"][0]["field"] == "cursor"
    # And the genuine one still works where it came from.
    following = await client.get(
        "/api/eldercare/v1/elders", params={"limit": 1, "cursor": page["next_cursor"]}, headers=headers
    )
    assert following.status_code == 200 and following.json()["items"][0]["id"] != page["items"][0]["id"]
