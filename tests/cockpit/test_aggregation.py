"""`/api/cockpit/v1/indicators` through the whole gateway app, against services on real loopback HTTP."""

from __future__ import annotations

import asyncio

from gateway.seed import DEMO_PASSWORD
from shared.identity import ASSERTION_ISSUER, verify
from tests.gateway.conftest import bearer

URL = "/api/cockpit/v1/indicators"


def panels(body: dict) -> dict[str, dict]:
    return {p["service"]: p for p in body["panels"]}


def indicators(panel: dict) -> dict[str, dict]:
    return {i["code"]: i for i in panel["indicators"]}


async def test_staff_sign_in_then_every_panel_in_one_shape_with_targets_and_progress(cockpit_gateway):
    signed = await cockpit_gateway.post(
        "/api/auth/v1/staff-sign-ins", json={"username": "city-demo", "password": DEMO_PASSWORD}
    )
    token = signed.json()["access_token"]
    response = await cockpit_gateway.get(URL, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["area_code"] == "330200" and body["area_name"] == "宁波市（全市）"
    assert [p["service"] for p in body["panels"]] == ["eldercare", "assistance", "charity", "placenames"]
    assert len(body["districts"]) == 10 and {"code": "330212", "name": "鄞州区"} in body["districts"]
    got = panels(body)
    assert all(p["available"] for p in got.values())

    elder = indicators(got["eldercare"])
    canteens = elder["eldercare.canteens"]  # the canteen level alone: the plan's 150 count no kitchen or meal point
    assert (canteens["label"], canteens["value"], canteens["unit"], canteens["target"]) == (
        "标准化老年食堂",
        7,
        "个",
        150,
    )
    assert canteens["target_met"] is False and canteens["progress"] == round(7 / 150, 4)
    assert elder["eldercare.beds"]["value"] == 4100 and elder["eldercare.beds"]["target_met"] is True
    assert elder["eldercare.beds"]["progress"] == 1.0
    share = elder["eldercare.nursing_share"]  # a ratio from the service, a percentage on the page
    assert (share["value"], share["unit"], share["target"], share["target_met"]) == (51.2, "%", 60, False)
    assert elder["eldercare.caregivers_per_10k"]["target_met"] is True
    assert elder["eldercare.meals_today"]["value"] == 340 and elder["eldercare.visits_verified"]["value"] == 41
    assert "异常标记 2 次" in elder["eldercare.visits_verified"]["note"]
    trend = next(c for c in got["eldercare"]["charts"] if c["code"] == "eldercare.meals_trend")
    assert trend["kind"] == "line" and len(trend["categories"]) == 7 and trend["series"][0]["values"][-1] == 340
    earlier = [int(day[-2:]) * 10 for day in trend["categories"][:-1]]
    assert trend["series"][0]["values"][:-1] == earlier  # each day's own figure, oldest first
    beds_chart = next(c for c in got["eldercare"]["charts"] if c["code"] == "eldercare.beds_by_type")
    assert beds_chart["categories"] == ["普通床位", "护理型", "认知障碍照护"]
    assert beds_chart["series"][0]["values"] == [1900, 2100, 100]

    aid = indicators(got["assistance"])
    assert aid["assistance.dibao"]["value"] == 3 and aid["assistance.dibao"]["note"] == "5 人"
    assert aid["assistance.tekun"]["value"] == 1 and aid["assistance.orphan_scattered"]["value"] == 0
    assert aid["assistance.monthly_grants"]["value"] == 4370.0  # fen → yuan
    assert (aid["assistance.dibao_standard"]["value"], aid["assistance.dibao_standard"]["target_met"]) == (1100.0, True)
    assert aid["assistance.leads_open"]["value"] == 7 and aid["assistance.reviews_overdue"]["value"] == 2
    assert got["assistance"]["charts"][0]["categories"] == ["海曙区"]

    charity = indicators(got["charity"])
    organisations = charity["charity.organizations"]
    assert (
        organisations["value"],
        organisations["target"],
        organisations["target_rule"],
        organisations["target_met"],
    ) == (120, 100, "more_than", True)
    assert charity["charity.raised"]["value"] == 12340.0 and charity["charity.raised"]["unit"] == "元"
    assert charity["charity.trusts"]["value"] == 3 and charity["charity.community_funds"]["target_met"] is True
    # The nightly reconciliation found differences: the page raises it.
    differences = charity["charity.ledger_differences"]
    assert (differences["value"], differences["alert"], differences["label"]) == (2, True, "最近一次对账差异")
    assert charity["charity.trusts"]["alert"] is False
    one_day = charity["charity.one_day_participation"]  # the latest campaign's
    assert (one_day["value"], one_day["target"], one_day["target_met"], one_day["note"]) == (
        80.0,
        95,
        False,
        "2026年慈善一日捐",
    )
    trusts_chart = next(c for c in got["charity"]["charts"] if c["code"] == "charity.trusts_by_district")
    assert trusts_chart["categories"] == ["海曙区", "鄞州区"] and trusts_chart["series"][0]["values"] == [1, 2]

    places = indicators(got["placenames"])
    unified = places["placenames.unified_roads"]
    assert (unified["value"], unified["target"], unified["progress"], unified["target_met"]) == (4, 16, 0.25, False)
    assert places["placenames.standard_addresses"]["value"] == 5000


async def test_services_are_asked_concurrently_as_the_caller_with_their_area(cockpit_gateway):
    response = await cockpit_gateway.get(
        URL, params={"district": "330203"}, headers=bearer("staff-city", cockpit_gateway.settings)
    )
    assert response.status_code == 200 and response.json()["area_name"] == "海曙区"
    asked = {(r["service"], r["path"]): r for r in cockpit_gateway.fake.requests}
    assert asked[("assistance", "/indicators")]["params"] == {"area_code": "330203"}
    assert {path for _, path in asked} == {"/indicators"}  # everything is in the one answer of each service
    assert asked[("charity", "/indicators")]["params"] == {"district": "330203"}
    elder_days = [r["params"] for r in cockpit_gateway.fake.requests if r["service"] == "eldercare"]
    assert len(elder_days) == 7 and all(p["area_code"] == "330203" for p in elder_days)
    assert sum("day" not in p for p in elder_days) == 1  # today, then the six days before for the trend
    secret = cockpit_gateway.settings.identity_secret
    for (service, _), request in asked.items():
        claims = verify(request["assertion"], secret, audience=service, issuer=ASSERTION_ISSUER)
        assert claims["sub"] == "staff:city-demo" and claims["area"] == "330200"


async def test_a_city_wide_target_has_no_progress_in_a_district_but_a_ratio_target_does(cockpit_gateway):
    body = (await cockpit_gateway.get(URL, headers=bearer("staff-yinzhou", cockpit_gateway.settings))).json()
    assert body["area_code"] == "330212" and body["area_name"] == "鄞州区"
    assert body["districts"] == [{"code": "330212", "name": "鄞州区"}]
    elder = indicators(panels(body)["eldercare"])
    assert elder["eldercare.canteens"]["progress"] is None and elder["eldercare.canteens"]["target_met"] is None
    assert elder["eldercare.canteens"]["note"].startswith("区县未分解，不计进度")
    assert elder["eldercare.nursing_share"]["target_met"] is False  # 51.2% < 60% applies to every district
    # placenames does not report by district: the panel says its figures are city-wide.
    assert "全市口径" in panels(body)["placenames"]["area_note"]


async def test_district_staff_get_403_for_another_district_and_city_staff_for_one_outside_the_city(cockpit_gateway):
    yinzhou = bearer("staff-yinzhou", cockpit_gateway.settings)
    assert (await cockpit_gateway.get(URL, params={"district": "330212"}, headers=yinzhou)).status_code == 200
    refused = await cockpit_gateway.get(URL, params={"district": "330203"}, headers=yinzhou)
    assert refused.status_code == 403 and "330203" in refused.json()["detail"]
    city = bearer("staff-city", cockpit_gateway.settings)
    assert (await cockpit_gateway.get(URL, params={"district": "330102"}, headers=city)).status_code == 403
    bad = await cockpit_gateway.get(URL, params={"district": "33021"}, headers=city)
    assert bad.status_code == 422 and "district" in bad.text
    # Nothing was asked of any service for a refused or invalid request (only the one allowed above).
    assert {r["params"].get("district") or r["params"].get("area_code") for r in cockpit_gateway.fake.requests} == {
        "330212"
    }


async def test_sign_in_is_required_and_only_staff_may_look(cockpit_gateway):
    missing = await cockpit_gateway.get(URL)
    assert missing.status_code == 401 and missing.headers["content-type"].startswith("application/problem+json")
    forged = await cockpit_gateway.get(URL, headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401
    resident = await cockpit_gateway.get(URL, headers=bearer("resident", cockpit_gateway.settings))
    assert resident.status_code == 403
    partner = await cockpit_gateway.get(URL, headers=bearer("partner", cockpit_gateway.settings))
    assert partner.status_code == 403
    assert cockpit_gateway.fake.requests == []


async def test_a_service_down_makes_only_its_panel_unavailable_in_words(cockpit_gateway_placenames_down):
    gw = cockpit_gateway_placenames_down
    response = await gw.get(URL, headers=bearer("staff-city", gw.settings))
    assert response.status_code == 200
    got = panels(response.json())
    assert got["placenames"]["available"] is False and got["placenames"]["indicators"] == []
    assert "地名地址数据暂不可用" in got["placenames"]["message"] and "无法连接" in got["placenames"]["message"]
    assert all(got[s]["available"] for s in ("eldercare", "assistance", "charity"))


async def test_a_service_answering_an_error_or_lacking_an_endpoint_says_so(cockpit_gateway):
    del cockpit_gateway.fake.payloads["eldercare"]["/indicators"]  # not built yet: 404
    assistance = cockpit_gateway.fake.payloads["assistance"]["/indicators"]  # no 低保 standard on record
    assistance["items"] = [i for i in assistance["items"] if i["code"] != "dibao_standard"]
    got = panels((await cockpit_gateway.get(URL, headers=bearer("staff-city", cockpit_gateway.settings))).json())
    assert got["eldercare"]["available"] is False and "尚未提供指标接口" in got["eldercare"]["message"]
    standard = indicators(got["assistance"])["assistance.dibao_standard"]
    assert got["assistance"]["available"] is True
    assert standard["available"] is False and standard["value"] is None and standard["note"] == "服务未提供此指标"


async def test_a_missing_indicator_is_marked_missing_and_the_rest_of_the_panel_shows(cockpit_gateway):
    charity = cockpit_gateway.fake.payloads["charity"]["/indicators"]
    charity["items"] = [i for i in charity["items"] if i["code"] != "organizations_registered"]
    got = panels((await cockpit_gateway.get(URL, headers=bearer("staff-city", cockpit_gateway.settings))).json())
    figures = indicators(got["charity"])
    assert figures["charity.organizations"]["available"] is False
    assert figures["charity.organizations"]["note"] == "服务未提供此指标"
    assert figures["charity.organizations"]["target_met"] is None and figures["charity.organizations"]["target"] is None
    assert figures["charity.raised"]["available"] is True
    assert got["charity"]["available"] is True and "项指标暂无数据" in got["charity"]["message"]


async def test_a_reshaped_answer_costs_one_panel_not_the_page(cockpit_gateway):
    assistance = cockpit_gateway.fake.payloads["assistance"]["/indicators"]
    for item in assistance["items"]:
        if item["code"] in ("monthly_grants", "leads_open") and not item["dimensions"]:
            item["value"] = "not a number"
    assistance["items"].append({"code": "households", "value": 1})  # no unit, area or day: out of contract
    cockpit_gateway.fake.payloads["placenames"]["/indicators"] = {"something": "else"}
    cockpit_gateway.fake.payloads["charity"]["/indicators"] = {"items": "not a list"}
    response = await cockpit_gateway.get(URL, headers=bearer("staff-city", cockpit_gateway.settings))
    assert response.status_code == 200
    got = panels(response.json())
    for service in ("placenames", "charity"):
        assert got[service]["available"] is False and got[service]["message"] == "该服务未提供任何可识别的指标"
    # A malformed figure is not shown as a zero: it says it is missing, and the rest of its panel shows.
    aid = indicators(got["assistance"])
    assert not aid["assistance.monthly_grants"]["available"] and not aid["assistance.leads_open"]["available"]
    assert aid["assistance.dibao"]["value"] == 3
    assert got["assistance"]["message"] == "2 项指标暂无数据"
    assert got["eldercare"]["available"] is True


async def test_an_empty_district_says_so_in_words(cockpit_gateway):
    zeros = cockpit_gateway.fake.payloads["charity"]["/indicators"]
    zeros["items"] = [
        i | {"value": 0} for i in zeros["items"] if i["code"] != "campaign_participation" and i["area"] == "330200"
    ]
    got = panels(
        (
            await cockpit_gateway.get(
                URL, params={"district": "330225"}, headers=bearer("staff-city", cockpit_gateway.settings)
            )
        ).json()
    )
    assert got["charity"]["empty"] is True and got["charity"]["message"] == "象山县暂无慈善事业业务数据（各项均为 0）"
    one_day = indicators(got["charity"])["charity.one_day_participation"]
    assert one_day["available"] is False and one_day["note"] == "本年及上年无一日捐活动"


async def test_answers_are_cached_briefly_and_concurrent_callers_share_one_gathering(cockpit_gateway):
    headers = bearer("staff-city", cockpit_gateway.settings)
    first, second = await asyncio.gather(
        cockpit_gateway.get(URL, headers=headers), cockpit_gateway.get(URL, headers=headers)
    )
    third = await cockpit_gateway.get(URL, headers=headers)
    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    assert sorted([first.json()["cached"], second.json()["cached"]]) == [False, True] and third.json()["cached"]
    assert len([r for r in cockpit_gateway.fake.requests if r["service"] == "charity"]) == 1
    # Another area is gathered on its own.
    await cockpit_gateway.get(URL, params={"district": "330212"}, headers=headers)
    assert len([r for r in cockpit_gateway.fake.requests if r["service"] == "charity"]) == 2
    # Once the cache lapses, the services are asked again.
    cockpit_gateway.app.local_app.state.cockpit._cache.clear()
    await cockpit_gateway.get(URL, headers=headers)
    assert len([r for r in cockpit_gateway.fake.requests if r["service"] == "charity"]) == 3


async def test_the_page_and_its_charting_library_are_served_by_the_gateway(cockpit_gateway):
    page = await cockpit_gateway.get("/cockpit")
    assert page.status_code == 200 and "宁波市民政数字驾驶舱" in page.text
    assert '<script src="/cockpit/static/vendor/echarts.min.js">' in page.text and "cdn" not in page.text.lower()
    library = await cockpit_gateway.get("/cockpit/static/vendor/echarts.min.js")
    assert library.status_code == 200 and len(library.content) > 500_000
    assert (await cockpit_gateway.get("/cockpit/static/cockpit.js")).status_code == 200


async def test_the_layout_reads_what_the_real_services_answer(real_gateway):
    """A contract check: each real service's `/indicators` (empty databases) fills its panel, no figure missing."""
    response = await real_gateway.get(
        URL, params={"district": "330212"}, headers=bearer("staff-city", real_gateway.settings)
    )
    assert response.status_code == 200
    got = panels(response.json())
    # Without demo data the policy table is empty (no 低保 standard), no campaign ran and no reconciliation
    # either: those figures alone may be missing.
    allowed_missing = {"assistance.dibao_standard", "charity.one_day_participation", "charity.ledger_differences"}
    for service in ("eldercare", "assistance", "charity", "placenames"):
        assert got[service]["available"], got[service]
        missing = {i["code"] for i in got[service]["indicators"] if not i["available"]} - allowed_missing
        assert missing == set(), (service, missing)
    assert got["eldercare"]["available"], got["eldercare"]
    missing = {i["code"] for i in got["eldercare"]["indicators"] if not i["available"]}
    assert missing == set(), missing


async def test_street_staff_see_their_street_and_not_their_whole_district(cockpit_gateway):
    from gateway.principals import STAFF_SCOPES, issue_token
    from shared.identity import Principal

    street = Principal(subject="staff:baizhang-demo", kind="staff", scopes=STAFF_SCOPES, area="330212001")
    headers = {"Authorization": "Bearer " + issue_token(street, cockpit_gateway.settings.token_secret, 600)}
    own = await cockpit_gateway.get(URL, headers=headers)
    assert own.status_code == 200 and own.json()["area_code"] == "330212001" and own.json()["districts"] == []
    assert {r["params"].get("area_code") for r in cockpit_gateway.fake.requests if "area_code" in r["params"]} == {
        "330212001"
    }
    assert (await cockpit_gateway.get(URL, params={"district": "330212"}, headers=headers)).status_code == 403


async def test_a_breakdown_cell_the_layout_does_not_know_is_charted_by_its_code(cockpit_gateway):
    from tests.cockpit.conftest import fig

    cockpit_gateway.fake.payloads["eldercare"]["/indicators"]["items"].append(fig("canteens", 4, kind="mobile"))
    got = panels((await cockpit_gateway.get(URL, headers=bearer("staff-city", cockpit_gateway.settings))).json())
    chart = next(c for c in got["eldercare"]["charts"] if c["code"] == "eldercare.canteens_by_kind")
    assert chart["categories"] == ["中央厨房", "老年食堂", "助餐点", "mobile"]
    assert chart["series"][0]["values"] == [2, 7, 3, 4]
