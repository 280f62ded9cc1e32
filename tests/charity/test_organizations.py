"""The register of social organisations: credit codes, the public view, and the fundraising qualification."""

import datetime as dt

from stdnum.cn import uscc

from services.charity import seed
from shared import clock
from tests.conftest import resident, staff

URL = "/api/charity/v1/organizations"
WRITE = "charity.organizations:write"
CITY = staff("330200", WRITE, subject="staff:city")
YINZHOU = staff("330212", WRITE, subject="staff:yinzhou")
HAISHU = staff("330203", WRITE, subject="staff:haishu")


def credit_code(body: str) -> str:
    return body + uscc.calc_check_digit(body)


def years_ago(years: int, days: int = 0) -> dt.date:
    today = clock.today()
    return today.replace(year=today.year - years) - dt.timedelta(days=days)


def org_body(**overrides):
    body = {
        "name": "鄞州区百丈街道慈善促进会",
        "unified_social_credit_code": credit_code("51330212MJ0000001"),
        "registered_on": "2018-05-01",
        "district_code": "330212",
        "address": "鄞州区百丈东路360号",  # placenames is not reached here: kept as pending, in the district
        "is_charity": True,
        "recognised_on": "2019-01-10",
        "evaluation_grade": "4A",
        "contact_name": "周海波",
        "contact_phone": "13805741234",
    }
    return body | overrides


async def register(client, principal=YINZHOU, **overrides):
    response = await client.post(URL, json=org_body(**overrides), headers=client.as_(principal))
    assert response.status_code == 201, response.text
    return response.json()


async def grant(client, org_id, principal=YINZHOU, **body):
    return await client.post(
        f"{URL}/{org_id}/fundraising-qualification", json=body or None, headers=client.as_(principal)
    )


async def test_registration_is_public_and_never_shows_the_phone(client):
    org = await register(client, unified_social_credit_code=" " + credit_code("51330212MJ0000001").lower())
    assert org["unified_social_credit_code"] == credit_code("51330212MJ0000001")  # compacted, upper case
    assert org["contact_phone_masked"] == "138****1234"
    assert org["has_public_fundraising_qualification"] is False
    fetched, listed = await client.get(f"{URL}/{org['id']}"), await client.get(URL)
    assert fetched.status_code == listed.status_code == 200
    assert fetched.json() == org and listed.json()["items"] == [org]
    for response in (fetched, listed):
        assert "13805741234" not in response.text and '"contact_phone"' not in response.text
    # Staff with the write scope get the same masked view.
    assert (await client.get(f"{URL}/{org['id']}", headers=client.as_(CITY))).json() == org


async def test_invalid_credit_codes_name_the_field(client):
    good = credit_code("51330212MJ0000001")
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    enterprise = credit_code("91330212MA2AAAAA1")  # valid code, but of a company (工商), not 民政
    for bad in (wrong_check, good[:17], good + "1", "5133021OMJ0000001" + "X", enterprise):
        response = await client.post(URL, json=org_body(unified_social_credit_code=bad), headers=client.as_(YINZHOU))
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "unified_social_credit_code", bad


async def test_a_code_registered_twice_is_a_conflict_naming_the_organisation(client):
    first = await register(client)
    again = await client.post(URL, json=org_body(name="别名"), headers=client.as_(YINZHOU))
    assert again.status_code == 409 and again.json()["resource"] == f"organizations/{first['id']}"


async def test_recognition_dates_are_checked(client):
    cases = [
        dict(is_charity=True, recognised_on=None),
        dict(is_charity=False),
        dict(recognised_on="2017-01-01"),
        dict(recognised_on=(clock.today() + dt.timedelta(days=1)).isoformat()),
    ]
    for overrides in cases:
        response = await client.post(URL, json=org_body(**overrides), headers=client.as_(YINZHOU))
        assert response.status_code == 422, overrides
        assert response.json()["errors"][0]["field"] == "recognised_on", overrides
    for field, value in (("evaluation_grade", "6A"), ("contact_phone", "0574-8888"), ("district_code", "3302")):
        response = await client.post(URL, json=org_body(**{field: value}), headers=client.as_(YINZHOU))
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field


async def test_registering_needs_the_scope_and_the_area(client):
    assert (await client.post(URL, json=org_body())).status_code == 401
    no_scope = await client.post(URL, json=org_body(), headers=client.as_(staff("330212")))
    assert no_scope.status_code == 403 and WRITE in no_scope.json()["detail"]
    outside = await client.post(URL, json=org_body(), headers=client.as_(HAISHU))
    assert outside.status_code == 403
    a_resident = await client.post(URL, json=org_body(), headers=client.as_(resident("resident:1", WRITE)))
    assert a_resident.status_code == 403
    assert (await client.get(URL)).json()["items"] == []


async def test_qualification_needs_a_charity_registered_a_year_before_the_grant(client):
    young = await register(
        client,
        unified_social_credit_code=credit_code("53330212MJ0000002"),
        registered_on=years_ago(1, days=-1).isoformat(),
        recognised_on=years_ago(1, days=-1).isoformat(),
    )
    response = await grant(client, young["id"])
    assert response.status_code == 409 and "at least 1 year" in response.json()["detail"]
    assert response.json()["resource"] == f"organizations/{young['id']}"
    # Registered one day short of a year before the grant date: refused; exactly one year: granted.
    dated = await register(
        client,
        unified_social_credit_code=credit_code("53330212MJ0000003"),
        registered_on="2020-03-10",
        recognised_on="2020-03-10",
    )
    assert (await grant(client, dated["id"], granted_on="2021-03-09")).status_code == 409
    granted = await grant(client, dated["id"], granted_on="2021-03-10")
    assert granted.status_code == 200, granted.text
    assert granted.json()["has_public_fundraising_qualification"] is True
    assert granted.json()["fundraising_qualified_on"] == "2021-03-10"
    twice = await grant(client, dated["id"])
    assert twice.status_code == 409 and "already" in twice.json()["detail"]


async def test_only_recognised_charities_are_qualified(client):
    plain = await register(client, is_charity=False, recognised_on=None)
    response = await grant(client, plain["id"])
    assert response.status_code == 409 and "慈善组织" in response.json()["detail"]
    # Recognised only after the asked grant date: not a charity on that day.
    late = await register(
        client,
        unified_social_credit_code=credit_code("53330212MJ0000004"),
        registered_on="2015-01-01",
        recognised_on="2020-06-01",
    )
    assert (await grant(client, late["id"], granted_on="2020-05-31")).status_code == 409
    assert (await grant(client, late["id"], granted_on="2020-06-01")).status_code == 200


async def test_granting_is_for_staff_of_the_area(client):
    org = await register(client)
    assert (await client.post(f"{URL}/{org['id']}/fundraising-qualification")).status_code == 401
    assert (await grant(client, org["id"], HAISHU)).status_code == 403
    assert (await grant(client, 999999, CITY)).status_code == 404
    future = await grant(client, org["id"], granted_on=(clock.today() + dt.timedelta(days=3)).isoformat())
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "granted_on"
    assert (await grant(client, org["id"], CITY)).status_code == 200
    assert (await client.get(f"{URL}/999999")).status_code == 404


async def test_filters_and_pages(client):
    ids = []
    for n in range(5):
        org = await register(
            client,
            unified_social_credit_code=credit_code(f"52330212MJ000010{n}"),
            is_charity=n % 2 == 0,
            recognised_on="2019-01-10" if n % 2 == 0 else None,
        )
        ids.append(org["id"])
    await grant(client, ids[0])
    haishu = await register(
        client, HAISHU, unified_social_credit_code=credit_code("52330203MJ0000201"), district_code="330203"
    )

    async def all_pages(**params):
        seen, cursor = [], None
        while True:
            page = (await client.get(URL, params=params | {"limit": 2} | ({"cursor": cursor} if cursor else {}))).json()
            assert len(page["items"]) <= 2
            seen += [o["id"] for o in page["items"]]
            if not (cursor := page["next_cursor"]):
                return seen

    assert await all_pages(district="330212") == ids
    assert await all_pages(district="330203") == [haishu["id"]]
    assert await all_pages(district="330212", is_charity=True) == [ids[0], ids[2], ids[4]]
    assert await all_pages(is_charity=False, district="330212") == [ids[1], ids[3]]
    assert await all_pages(qualified=True) == [ids[0]]
    assert ids[0] not in await all_pages(qualified=False)
    bad = await client.get(URL, params={"cursor": "not-a-cursor!"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


async def test_a_retried_registration_returns_the_first_result(client):
    headers = client.as_(YINZHOU) | {"Idempotency-Key": "org-0001"}
    first = await client.post(URL, json=org_body(), headers=headers)
    again = await client.post(URL, json=org_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"


async def test_seed_loads_valid_organisations_once(client):
    database = client.app.state.database
    async with database.sessionmaker() as session:
        assert await seed.load(session) == len(seed.ORGANIZATIONS) + 1 + len(seed.DONATIONS)  # orgs, project, gifts
        assert await seed.load(session) == 0
        await session.commit()
    listed = (await client.get(URL, params={"qualified": True})).json()["items"]
    assert [o["name"] for o in listed] == ["宁波市慈善总会"]
    assert all(uscc.is_valid(o["unified_social_credit_code"]) for o in (await client.get(URL)).json()["items"])
    # The demo project is public and fundraising, its money from the ledger.
    projects = (await client.get("/api/charity/v1/public/projects", params={"status": "fundraising"})).json()["items"]
    assert [(p["title"], p["raised_fen"], p["spent_fen"], p["donation_count"]) for p in projects] == [
        (seed.PROJECT_TITLE, 5_055_000, 1_200_000, 4)
    ]
