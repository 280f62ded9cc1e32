"""Policy parameters as dated versions: what was in force when, district overrides, and no rewriting."""

import datetime as dt

from services.assistance import seed
from tests.conftest import resident, staff

URL = "/api/assistance/v1/policies"
READ, WRITE = "assistance.policies:read", "assistance.policies:write"
CITY = staff("330200", READ, WRITE, subject="staff:city")
YINZHOU = staff("330212", READ, WRITE, subject="staff:yinzhou")
READER = resident("resident:13800000001", READ)


def version(**overrides):
    body = {
        "code": "dibao_standard",
        "district_code": "330200",
        "value": 120000,
        "unit": "fen_per_month",
        "effective_on": "2023-01-01",
        "citation": "甬民发〔2022〕99号（测试）",
    }
    return body | overrides


async def add(client, **overrides):
    response = await client.post(URL, json=version(**overrides), headers=client.as_(CITY))
    assert response.status_code == 201, response.text
    return response.json()


async def in_force(client, **params):
    return await client.get(URL, params=params, headers=client.as_(READER))


async def test_as_of_picks_the_version_in_force_that_day(client):
    first = await add(client, value=110000, effective_on="2022-01-01")
    second = await add(client, value=120000, effective_on="2023-01-01")
    cases = {"2022-01-01": first, "2022-12-31": first, "2023-01-01": second, "2030-06-01": second}
    for day, expected in cases.items():
        response = await in_force(client, as_of=day, code="dibao_standard")
        assert response.status_code == 200, response.text
        [item] = response.json()["items"]
        assert (item["id"], item["value"], item["unit"]) == (expected["id"], expected["value"], "fen_per_month"), day
        assert item["label"].startswith("最低生活保障标准")


async def test_before_any_version_no_rule_was_in_force(client):
    await add(client, effective_on="2022-01-01")
    response = await in_force(client, as_of="2021-12-31", code="dibao_standard")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "no rule was in force on 2021-12-31" in response.json()["detail"]
    assert (await in_force(client, as_of="2021-12-31")).status_code == 404


async def test_a_district_version_overrides_the_city_one_only_for_that_district(client):
    city_2022 = await add(client, value=110000, effective_on="2022-01-01")
    yinzhou_july = await add(client, value=115000, effective_on="2022-07-01", district_code="330212")
    city_2023 = await add(client, value=120000, effective_on="2023-01-01")

    def pick(response):
        assert response.status_code == 200, response.text
        return {i["code"]: i["id"] for i in response.json()["items"]}["dibao_standard"]

    # Before the district's own version, the district gets the city-wide figure.
    assert pick(await in_force(client, as_of="2022-06-30", district="330212")) == city_2022["id"]
    assert pick(await in_force(client, as_of="2022-07-01", district="330212")) == yinzhou_july["id"]
    # The district's own version stays in force even after a newer city-wide one.
    assert pick(await in_force(client, as_of="2023-03-01", district="330212")) == yinzhou_july["id"]
    # Other districts and the city keep the city-wide versions.
    assert pick(await in_force(client, as_of="2022-07-01", district="330203")) == city_2022["id"]
    assert pick(await in_force(client, as_of="2023-03-01")) == city_2023["id"]


async def test_a_second_version_on_the_same_day_is_a_conflict_and_nothing_is_rewritten(client):
    original = await add(client, value=110000, effective_on="2022-01-01")
    again = await client.post(URL, json=version(value=999999, effective_on="2022-01-01"), headers=client.as_(CITY))
    assert again.status_code == 409
    assert again.json()["resource"] == f"policies/dibao_standard/versions/{original['id']}"
    assert str(original["id"]) in again.json()["detail"]
    # The same day for another district is a different version, not a conflict.
    await add(client, value=115000, effective_on="2022-01-01", district_code="330212")
    # There is no way to change or remove a version.
    for method in ("PUT", "PATCH", "DELETE"):
        response = await client.request(method, f"{URL}/dibao_standard/versions", headers=client.as_(CITY))
        assert response.status_code == 405, method
    history = await client.get(f"{URL}/dibao_standard/versions", headers=client.as_(READER))
    assert history.status_code == 200
    city = [v for v in history.json() if v["district_code"] == "330200"]
    assert city == [original]


async def test_history_lists_every_version_in_order(client):
    await add(client, value=120000, effective_on="2023-01-01")
    await add(client, value=110000, effective_on="2022-01-01")
    await add(client, value=115000, effective_on="2022-07-01", district_code="330212")
    response = await client.get(f"{URL}/dibao_standard/versions", headers=client.as_(READER))
    assert [(v["district_code"], v["effective_on"]) for v in response.json()] == [
        ("330200", "2022-01-01"),
        ("330200", "2023-01-01"),
        ("330212", "2022-07-01"),
    ]
    only = await client.get(f"{URL}/dibao_standard/versions", params={"district": "330212"}, headers=client.as_(READER))
    assert [v["value"] for v in only.json()] == [115000]
    assert (await client.get(f"{URL}/no_such_rule/versions", headers=client.as_(READER))).status_code == 404


async def test_only_city_staff_with_the_scope_add_versions(client):
    assert (await client.get(URL)).status_code == 401
    assert (await client.post(URL, json=version())).status_code == 401
    no_read = await client.get(URL, headers=client.as_(staff("330200", WRITE)))
    assert no_read.status_code == 403 and READ in no_read.json()["detail"]
    read_only = await client.post(URL, json=version(), headers=client.as_(staff("330200", READ)))
    assert read_only.status_code == 403 and WRITE in read_only.json()["detail"]
    district = await client.post(URL, json=version(district_code="330212"), headers=client.as_(YINZHOU))
    assert district.status_code == 403 and "330200" in district.json()["detail"]
    partner = await client.post(URL, json=version(), headers=client.as_(resident("resident:1", READ, WRITE)))
    assert partner.status_code == 403
    assert (await client.get(f"{URL}/dibao_standard/versions", headers=client.as_(READER))).json() == []


async def test_bad_versions_name_the_field(client):
    headers = client.as_(CITY)
    cases = [
        ("unit", "fen_per_year"),
        ("value", 1100.5),
        ("value", -1),
        ("value", "110000"),
        ("district_code", "310101"),
        ("code", "made_up"),
        ("effective_on", "2022-13-01"),
    ]
    for field, value in cases:
        response = await client.post(URL, json=version(**{field: value}), headers=headers)
        assert response.status_code == 422, (field, value, response.text)
        assert response.json()["errors"][0]["field"] == field, (field, value)
    bad_query = await client.get(URL, params={"as_of": "yesterday"}, headers=client.as_(READER))
    assert bad_query.status_code == 422 and bad_query.json()["errors"][0]["field"] == "as_of"


async def test_seed_holds_the_plans_figures_with_citations_and_loads_once(client):
    database = client.app.state.database
    async with database.sessionmaker() as session:
        assert await seed.load(session) == len(seed.VERSIONS) + len(seed.DEMO_HOUSEHOLDS)
        assert await seed.load(session) == 0
        await session.commit()
    items = {i["code"]: i for i in (await in_force(client, as_of="2022-06-01")).json()["items"]}
    assert items["dibao_standard"]["value"] == 110000 and items["dibao_standard"]["unit"] == "fen_per_month"
    assert "1100元/月以上" in items["dibao_standard"]["citation"]
    assert items["dibao_standard_annual_target"]["value"] == 1400000
    assert items["tekun_support_standard"]["value"] == 187000
    assert items["orphan_institution_standard"]["value"] == 3500000
    assert items["orphan_scattered_standard"]["value"] == 2900000
    assert items["dibao_marginal_multiplier"]["value"] == 2000
    assert items["disability_living_subsidy"]["is_assumption"] is True
    assert "no source" in items["disability_living_subsidy"]["note"]
    before = (await in_force(client, as_of="2021-06-01", code="dibao_marginal_multiplier")).json()["items"]
    assert before[0]["value"] == 1500
    assert all(dt.date.fromisoformat(i["effective_on"]) <= dt.date(2022, 6, 1) for i in items.values())


async def test_a_district_written_in_other_digits_is_refused_naming_it(client):
    """3302１２ met the pattern (`\\d` takes any digits) and was kept as a district of its own that no rule reads."""
    city = staff("330200", "assistance.policies:write", "assistance.policies:read")
    body = {
        "code": "dibao_standard",
        "district_code": "3302１２",
        "value": 120_000,
        "unit": "fen_per_month",
        "effective_on": "2024-01-01",
        "citation": "测试",
    }
    response = await client.post(URL, json=body, headers=client.as_(city))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "district_code", response.text
