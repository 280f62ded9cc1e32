"""One journey per service, as a person makes it: real processes, through the gateway, demo accounts signed in.

Each test makes what it needs with names, keys and ID numbers of its own, and leaves shared demo data as it found
it (a bed it admits someone to is freed again), so the tests run in any order beside the others of the suite.
"""

import datetime as dt
import itertools
import re
import time
from zoneinfo import ZoneInfo

import httpx
import pytest
from stdnum.cn import ric

from shared import divisions
from tests.e2e.test_suite import standard_address, token

pytestmark = pytest.mark.e2e

SHANGHAI = ZoneInfo("Asia/Shanghai")
PROBLEM = "application/problem+json"
_serial = itertools.count(1)


def shanghai_today() -> dt.date:
    return dt.datetime.now(SHANGHAI).date()


def unique() -> int:
    return time.time_ns() + next(_serial)


def id_number(born_in: int, *, female: bool, division: str = "330212") -> str:
    """A valid resident ID number of someone born in `born_in`, different on every call of a run."""
    n = unique() // 1000
    birth = dt.date(born_in, 1, 1) + dt.timedelta(days=n % 365)
    serial = (n // 365) % 500 * 2 + (0 if female else 1)  # the last digit of the serial is odd for men
    base = f"{division}{birth:%Y%m%d}{serial:03d}"
    return base + ric.calc_check_digit(base + "0")


def staff(suite, username: str) -> dict[str, str]:
    """A demo member of staff signed in with their password, as they would at the counter."""
    from gateway.seed import DEMO_PASSWORD

    signed_in = httpx.post(
        suite.url() + "/api/auth/v1/staff-sign-ins", json={"username": username, "password": DEMO_PASSWORD}
    )
    assert signed_in.status_code == 200, signed_in.text
    return {"Authorization": "Bearer " + signed_in.json()["access_token"]}


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers["content-type"]
    problem = response.json()
    assert problem["status"] == status and problem["type"].startswith("/problems/") and problem["request_id"]
    return problem


def all_pages(suite, path: str, headers: dict[str, str], **params) -> list[dict]:
    items, cursor = [], None
    while True:
        page = httpx.get(
            suite.url() + path, headers=headers, params=params | {"limit": 100} | ({"cursor": cursor} if cursor else {})
        )
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if not cursor:
            return items


# charity ---------------------------------------------------------------------------------------------------

CHARITY = "/api/charity/v1"


def test_a_donation_counted_once_refunded_in_part_and_reconciled(suite):
    """A payment channel reports a gift twice to the demo project in fundraising; the city clerk refunds part of
    it; the project's raised, refunded and balance figures are those of the ledger and of the records, the
    public page shows no donor, and a reconciliation finds no difference."""
    from services.charity.seed import PROJECT_TITLE

    clerk = staff(suite, "city-demo")
    url = suite.url() + CHARITY
    projects = all_pages(suite, f"{CHARITY}/projects", clerk)
    project = next(p for p in projects if p["title"] == PROJECT_TITLE)
    assert project["status"] == "fundraising"
    before = httpx.get(f"{url}/projects/{project['id']}", headers=clerk).json()

    run = unique()
    donor_name, donor_phone = f"捐赠人{run % 100000:05d}", f"139{run % 10**8:08d}"
    body = {
        "project_id": project["id"],
        "channel": "wechat",
        "channel_txn_id": f"ej-wx-{run}",
        "amount_fen": 8_800,
        "donor": {"kind": "person", "name": donor_name, "phone": donor_phone},
        "honour_opt_in": False,
    }
    key = {"Idempotency-Key": f"ej-donation-{run}"}
    first = httpx.post(f"{url}/donations", headers=clerk | key, json=body)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    donation = first.json()
    assert (donation["amount_fen"], donation["refundable_fen"], donation["refunded_fen"]) == (8_800, 8_800, 0)
    assert donor_phone not in first.text
    assert donation["donor_phone_masked"] == donor_phone[:3] + "****" + donor_phone[-4:]
    # A retry with the same key: the same donation, said to be a replay.
    replay = httpx.post(f"{url}/donations", headers=clerk | key, json=body)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == donation
    # The same key with another body is refused rather than taken for the first.
    assert_problem(httpx.post(f"{url}/donations", headers=clerk | key, json=body | {"amount_fen": 9_900}), 422)
    # The channel reporting the same transaction again under a new key: still the one donation; with another
    # amount, a conflict naming it.
    reported_again = httpx.post(
        f"{url}/donations", headers=clerk | {"Idempotency-Key": f"ej-donation-{run}-2"}, json=body
    )
    assert reported_again.status_code in (200, 201) and reported_again.json()["id"] == donation["id"]
    changed = httpx.post(f"{url}/donations", headers=clerk, json=body | {"amount_fen": 9_900})
    assert assert_problem(changed, 409)["resource"] == f"donations/{donation['id']}"

    refund_key = {"Idempotency-Key": f"ej-refund-{run}"}
    refund_body = {"amount_fen": 3_000, "reason": "捐赠人申请部分退款"}
    refund = httpx.post(f"{url}/donations/{donation['id']}/refunds", headers=clerk | refund_key, json=refund_body)
    assert refund.status_code == 201, refund.text
    assert refund.json()["reverses_group_id"] == donation["ledger_group_id"]
    again = httpx.post(f"{url}/donations/{donation['id']}/refunds", headers=clerk | refund_key, json=refund_body)
    assert again.headers.get("idempotent-replayed") == "true" and again.json()["id"] == refund.json()["id"]
    too_much = httpx.post(
        f"{url}/donations/{donation['id']}/refunds", headers=clerk, json={"amount_fen": 5_801, "reason": "超过剩余金额"}
    )
    assert assert_problem(too_much, 409)["resource"] == f"donations/{donation['id']}"
    refunded = httpx.get(f"{url}/donations/{donation['id']}", headers=clerk).json()
    assert (refunded["refunded_fen"], refunded["refundable_fen"]) == (3_000, 5_800)

    after = httpx.get(f"{url}/projects/{project['id']}", headers=clerk).json()
    assert after["raised_fen"] - before["raised_fen"] == 8_800 - 3_000
    assert after["refunded_fen"] - before["refunded_fen"] == 3_000
    assert after["balance_fen"] - before["balance_fen"] == 8_800 - 3_000
    assert after["spent_fen"] == before["spent_fen"]

    # The same figures summed from the journal, and from the donation records.
    entries = all_pages(suite, f"{CHARITY}/ledger/entries", clerk, project_id=project["id"])
    groups: dict[int, int] = {}
    for e in entries:
        groups[e["group_id"]] = groups.get(e["group_id"], 0) + (
            e["amount_fen"] if e["side"] == "debit" else -e["amount_fen"]
        )
    assert set(groups.values()) == {0}, "every ledger group balances"
    on_fund = [e for e in entries if e["account_kind"] == "project"]

    def fund(kind: str, side: str) -> int:
        return sum(e["amount_fen"] for e in on_fund if e["group_kind"] == kind and e["side"] == side)

    assert fund("refund", "credit") == after["refunded_fen"]
    assert fund("donation", "debit") - fund("refund", "credit") == after["raised_fen"]
    assert fund("disbursement", "credit") == after["spent_fen"]
    [account] = httpx.get(
        f"{url}/ledger/accounts", headers=clerk, params={"project_id": project["id"], "kind": "project"}
    ).json()["items"]
    assert account["balance_fen"] == account["debits_fen"] - account["credits_fen"] == after["balance_fen"]
    assert [
        e["group_id"]
        for e in entries
        if e["group_kind"] == "refund" and e["reverses_group_id"] == donation["ledger_group_id"]
    ] == [refund.json()["ledger_group_id"]] * 2
    records = all_pages(suite, f"{CHARITY}/donations", clerk, project_id=project["id"])
    assert sum(d["amount_fen"] - d["refunded_fen"] for d in records) == after["raised_fen"]
    assert [d["id"] for d in records].count(donation["id"]) == 1

    # The public sees the totals, never the donor who did not ask to be listed.
    public = httpx.get(f"{url}/public/projects/{project['id']}")
    assert public.status_code == 200
    assert (public.json()["raised_fen"], public.json()["refunded_fen"], public.json()["balance_fen"]) == (
        after["raised_fen"],
        after["refunded_fen"],
        after["balance_fen"],
    )
    honour = httpx.get(f"{url}/honour-list")
    assert honour.status_code == 200
    for text in (public.text, honour.text):
        assert donor_name not in text and donor_phone not in text

    reconciled = httpx.post(f"{url}/reconciliations", headers=clerk)
    assert reconciled.status_code == 201, reconciled.text
    run_out = reconciled.json()
    assert (run_out["balanced"], run_out["differences"]) == (True, [])
    assert run_out["projects_checked"] >= 1 and run_out["entries_checked"] >= len(entries)
    kept = httpx.get(f"{url}/reconciliations/{run_out['id']}", headers=clerk)
    assert kept.status_code == 200 and kept.json() == run_out


# placenames ------------------------------------------------------------------------------------------------

PLACENAMES = "/api/placenames/v1"
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def test_an_address_is_parsed_searched_as_typed_and_found_near_its_point(suite):
    """Staff of 鄞州区 issue a standard address on a seeded road (the seed has names and divisions, no
    addresses); a partner's free text with the old district name and full-width digits is matched to its room;
    a resident typing sees it; the point beside the house is answered with it."""
    url = suite.url() + PLACENAMES
    yinzhou = token(suite, "staff-yinzhou")
    [road] = httpx.get(f"{url}/names/resolve", params={"name": "天童南路", "district_code": "330212"}).json()
    run = unique()
    number = str(1000 + run % 9000)
    # A point in Ningbo of this run's own, about 110 m from those of other runs.
    lat, lon = 29.80 + (run // 1000 % 100) * 0.001, 121.5450
    house = httpx.post(
        f"{url}/addresses",
        headers=yinzhou,
        json={
            "district_code": "330212",
            "road_id": road["id"],
            "house_number": number,
            "latitude": lat,
            "longitude": lon,
        },
    )
    assert house.status_code == 201, house.text
    room = httpx.post(
        f"{url}/addresses",
        headers=yinzhou,
        json={
            "district_code": "330212",
            "road_id": road["id"],
            "house_number": number,
            "building": "3",
            "unit": "2",
            "room": "501",
        },
    )
    assert room.status_code == 201, room.text
    house, room = house.json(), room.json()
    assert room["full_name"] == f"宁波市鄞州区天童南路{number}号3幢2单元501室" and room["level"] == "room"
    twice = httpx.post(
        f"{url}/addresses",
        headers=yinzhou,
        json={"district_code": "330212", "road_id": road["id"], "house_number": number},
    )
    assert house["code"] in assert_problem(twice, 409)["resource"]

    # Parsing: 江东区 was merged into 鄞州区 in 2016; the digits are full-width; 3-2-501 means 3幢2单元501室.
    text = f"浙江省宁波市江东区天童南路{number.translate(FULL_WIDTH)}号3-2-501"
    parsed = httpx.post(f"{url}/parse", headers=token(suite, "partner"), json={"text": text})
    assert parsed.status_code == 200, parsed.text
    parsed = parsed.json()
    parts = {p["kind"]: p for p in parsed["parts"]}
    assert (parts["district"]["value"], parts["district"]["ref"], parts["district"]["written_status"]) == (
        "鄞州区",
        "330212",
        "historical",
    )
    assert (parts["road"]["value"], parts["road"]["ref"]) == ("天童南路", str(road["id"]))
    assert [parts[k]["value"] for k in ("house_number", "building", "unit", "room")] == [number, "3", "2", "501"]
    assert text[parts["road"]["start"] : parts["road"]["end"]] == "天童南路"
    assert parsed["unparsed"] == [] and parsed["match"]["code"] == room["code"]
    assert any("江东区" in reason for reason in parsed["match"]["reasons"])
    assert httpx.post(f"{url}/parse", json={"text": text}).status_code == 401  # parsing needs a caller

    # Search as you type, public: the road by its pinyin initials, then the addresses as the number grows.
    initials = httpx.get(f"{url}/addresses/search", params={"q": "ttnl"}).json()["items"]
    assert initials[0]["text"] == "天童南路" and initials[0]["match"] == "pinyin"
    for typed in (f"天童南路{number[:-1]}", f"天童南路{number}"):
        found = httpx.get(f"{url}/addresses/search", params={"q": typed, "limit": 50})
        assert found.status_code == 200, found.text
        assert {house["code"], room["code"]} <= {i["ref"] for i in found.json()["items"]}, typed
    exact = httpx.get(f"{url}/addresses/search", params={"q": f"鄞州区天童南路{number}号3幢"}).json()["items"]
    assert [i["ref"] for i in exact] == [room["code"]]

    # Geocoding the room gives its house's point; reverse geocoding beside the house gives the house first.
    point = httpx.get(f"{url}/geocode", params={"q": f"鄞州区天童南路{number}号3幢2单元501室"}).json()
    assert point["match"]["code"] == room["code"] and point["coordinate_level"] == "house"
    assert (point["latitude"], point["longitude"]) == (pytest.approx(lat), pytest.approx(lon))
    near = httpx.get(f"{url}/reverse-geocode", params={"lat": lat + 0.0001, "lon": lon, "radius_m": 50})
    assert near.status_code == 200, near.text
    nearest = near.json()["items"][0]
    assert nearest["code"] == house["code"] and 5 < nearest["distance_m"] < 20  # 0.0001° of latitude ≈ 11 m
    assert_problem(httpx.get(f"{url}/reverse-geocode", params={"lat": lat, "lon": lon, "radius_m": 5000}), 422)


# assistance ------------------------------------------------------------------------------------------------

ASSISTANCE = "/api/assistance/v1"
# The demo street (百丈街道) and one of its communities, as the division tree has them.
BAIZHANG = divisions.division_code("百丈街道")
BAIZHANG_COMMUNITY = min(
    d.code for d in divisions.tree().by_code.values() if d.current and d.level == "village" and d.parent == BAIZHANG
)


def test_a_poor_household_is_found_eligible_and_its_application_goes_through_the_first_steps(suite):
    """A district officer checks a family of two living on 1,000 yuan of wages a month: 低保 eligible, each
    criterion with its figure, policy version and citation. The street (百丈街道) records the family, accepts its
    application, visits, reviews and publicises it; the district may decide only once the notice has run."""
    url = suite.url() + ASSISTANCE
    district, street = staff(suite, "yinzhou-demo"), staff(suite, "baizhang-demo")
    # A parent of 47–48 and a child of 9–10 in any year: working age and a minor, whom the figures below assume.
    this_year = shanghai_today().year
    parent, child = id_number(this_year - 48, female=True), id_number(this_year - 10, female=False)
    run = unique()
    wages = 100_000  # fen a month
    source = {
        "kind": "department",
        "name": "市人力社保局",
        "obtained_on": (shanghai_today() - dt.timedelta(days=3)).isoformat(),
    }
    inline = {
        "area_code": BAIZHANG_COMMUNITY,
        "members": [
            {
                "id_number": parent,
                "name": f"申请人{run % 10000:04d}",
                "relationship": "applicant",
                "incomes": [{"kind": "wages", "item": "wages", "monthly_fen": wages, "source": source}],
            },
            {"id_number": child, "name": "子女", "relationship": "child"},
        ],
    }
    days = {shanghai_today().isoformat()}
    checked = httpx.post(f"{url}/eligibility-checks", headers=district, json={"household": inline})
    days.add(shanghai_today().isoformat())  # the check may straddle midnight in Shanghai
    assert checked.status_code == 200, checked.text
    result = checked.json()
    assert parent not in checked.text and child not in checked.text
    assert result["as_of"] in days and result["district_code"] == "330212"
    dibao = next(p for p in result["programmes"] if p["code"] == "dibao")
    assert dibao["eligible"] is True and dibao["receiving"] is False
    assert dibao["criteria"] and all(c["passed"] for c in dibao["criteria"])
    rule = next(c for c in dibao["criteria"] if c["code"] == "per_capita_income_below_standard")
    used = {p["code"]: p for p in rule["parameters"]}
    standard, deduction = used["dibao_standard"]["value"], used["employment_cost_deduction"]["value"]
    household_income = wages - min(deduction, wages)
    assert result["counted_members"] == 2 and result["household_monthly_income_fen"] == household_income
    assert (rule["value"], rule["threshold"]) == (household_income // 2, standard) and rule["value"] < standard
    assert rule["sources"] == [f"department: 市人力社保局, {source['obtained_on']}"]
    assert "低保标准" in used["dibao_standard"]["citation"] and used["employment_cost_deduction"]["citation"]
    # The versions cited are those the policy register has in force for the district on that day.
    register = httpx.get(f"{url}/policies", headers=district, params={"as_of": result["as_of"], "district": "330212"})
    assert register.status_code == 200, register.text
    in_force = {v["code"]: v for v in register.json()["items"]}
    for code, cited in used.items():
        assert (cited["version_id"], cited["value"], cited["citation"]) == (
            in_force[code]["id"],
            in_force[code]["value"],
            in_force[code]["citation"],
        ), code
    rounding = next(p["value"] for p in dibao["amount_parameters"] if p["code"] == "dibao_grant_rounding")
    gap = 2 * standard - household_income
    assert dibao["amount_fen"] == -(-gap // rounding) * rounding
    tekun = next(p for p in result["programmes"] if p["code"] == "tekun")
    assert tekun["eligible"] is False  # working age, able to work

    # The street records the family and its wages for the last six months, from the department's data.
    recorded = httpx.post(
        f"{url}/households",
        headers=street,
        json={
            "address_code": standard_address(suite)["code"],  # under BAIZHANG_COMMUNITY
            "members": [{k: v for k, v in m.items() if k != "incomes"} for m in inline["members"]],
        },
    )
    assert recorded.status_code == 201, recorded.text
    household = recorded.json()
    assert [m["counted"] for m in household["members"]] == [True, True]
    last_month = shanghai_today().replace(day=1) - dt.timedelta(days=1)
    first_month = dt.date(last_month.year - (last_month.month <= 5), (last_month.month - 6) % 12 + 1, 1)
    income = httpx.post(
        f"{url}/households/{household['id']}/incomes",
        headers=street,
        json={
            "member_id": household["members"][0]["id"],
            "kind": "wages",
            "item": "wages",
            "amount_fen": 6 * wages,
            "period_from": f"{first_month:%Y-%m}",
            "period_to": f"{last_month:%Y-%m}",
            "source": source,
        },
    )
    assert income.status_code == 201, income.text
    stored = httpx.post(
        f"{url}/eligibility-checks", headers=district, json={"household_id": household["id"], "programmes": ["dibao"]}
    )
    assert stored.status_code == 200, stored.text
    assert stored.json()["programmes"][0]["eligible"] is True
    assert stored.json()["programmes"][0]["amount_fen"] == dibao["amount_fen"]

    # 受理 is the street's (or community's) step, not the district's.
    application_body = {"household_id": household["id"], "programme": "dibao"}
    assert_problem(httpx.post(f"{url}/applications", headers=district, json=application_body), 403)
    key = {"Idempotency-Key": f"ej-application-{run}"}
    accepted = httpx.post(f"{url}/applications", headers=street | key, json=application_body)
    assert accepted.status_code == 201, accepted.text
    application = accepted.json()
    assert application["state"] == "accepted" and application["area_code"] == BAIZHANG_COMMUNITY
    retried = httpx.post(f"{url}/applications", headers=street | key, json=application_body)
    assert retried.headers.get("idempotent-replayed") == "true" and retried.json()["id"] == application["id"]
    second = httpx.post(f"{url}/applications", headers=street, json=application_body)
    assert assert_problem(second, 409)["resource"] == f"applications/{application['id']}"

    path = f"{url}/applications/{application['id']}"
    visited = httpx.post(
        f"{path}/investigation",
        headers=street,
        json={
            "visited_on": (shanghai_today() - dt.timedelta(days=1)).isoformat(),
            "findings": "母子二人同住，申请人打零工",
        },
    )
    assert visited.status_code == 200 and visited.json()["state"] == "investigated", visited.text
    # 初审 belongs to the street: the district may not take it.
    assert_problem(
        httpx.post(
            f"{path}/preliminary-review", headers=district, json={"passed": True, "reasons": "收入低于低保标准"}
        ),
        403,
    )
    reviewed = httpx.post(
        f"{path}/preliminary-review", headers=street, json={"passed": True, "reasons": "收入低于低保标准"}
    )
    assert reviewed.status_code == 200 and reviewed.json()["state"] == "reviewed", reviewed.text
    noticed = httpx.post(f"{path}/public-notice", headers=street, json={})
    assert noticed.status_code == 200 and noticed.json()["state"] == "publicised", noticed.text
    notice = noticed.json()
    starts, ends = dt.date.fromisoformat(notice["notice_starts_on"]), dt.date.fromisoformat(notice["notice_ends_on"])
    assert ends - starts == dt.timedelta(days=7)
    objection = httpx.post(f"{path}/objections", headers=district, json={"text": "邻居反映其另有经营收入"})
    assert objection.status_code == 200, objection.text
    # 审核确认 is the district's, and only after the seven days of the notice.
    too_soon = httpx.post(f"{path}/decision", headers=district, json={"approve": True, "reasons": "符合条件"})
    assert notice["notice_ends_on"] in assert_problem(too_soon, 409)["detail"]

    trail = httpx.get(path, headers=district).json()
    assert trail["state"] == "publicised" and trail["monthly_grant_fen"] is None
    assert [(e["step"], e["actor"], e["actor_area"]) for e in trail["events"]] == [
        ("accept", "staff:baizhang-demo", BAIZHANG),
        ("investigate", "staff:baizhang-demo", BAIZHANG),
        ("preliminary_review", "staff:baizhang-demo", BAIZHANG),
        ("public_notice", "staff:baizhang-demo", BAIZHANG),
        ("objection", "staff:yinzhou-demo", "330212"),
    ]
    listed = all_pages(suite, f"{ASSISTANCE}/applications", street, state="publicised")
    assert application["id"] in {a["id"] for a in listed}
    # Nobody in the family receives 低保 yet.
    lookup = httpx.post(f"{url}/status-lookups", headers=district, json={"id_number": parent, "purpose": "e2e 核对"})
    assert lookup.status_code == 200 and lookup.json()["programmes"] == [], lookup.text


# eldercare -------------------------------------------------------------------------------------------------

ELDERCARE = "/api/eldercare/v1"


def resident_signs_in(suite) -> dict[str, str]:
    """A resident of this run signs in with a phone of their own and the SMS code (written to the gateway's log
    in dev, found there by the request id)."""
    phone = f"136{unique() % 10**8:08d}"
    request_id = f"ej-code-{unique()}"
    asked = httpx.post(
        suite.url() + "/api/auth/v1/code-requests", json={"phone": phone}, headers={"X-Request-ID": request_id}
    )
    assert asked.status_code == 202, asked.text
    sent = re.compile(r"one-time code for \S+: (\d{6})\b.*" + re.escape(request_id) + '"')
    deadline = time.monotonic() + 10
    while not (codes := sent.findall(suite.log_path("gateway").read_text())):
        assert time.monotonic() < deadline, "no code in the gateway's log"
        time.sleep(0.1)
    [code] = codes
    signed_in = httpx.post(suite.url() + "/api/auth/v1/code-sign-ins", json={"phone": phone, "code": code})
    assert signed_in.status_code == 200, signed_in.text
    return {"Authorization": "Bearer " + signed_in.json()["access_token"]}


def test_a_family_member_holds_a_bed_that_staff_see_confirm_and_free(suite):
    """A daughter signs in by SMS and asks to act for her mother, whom 鄞州区 staff registered; staff approve.
    She holds a free bed for her; staff of the district see the hold and admit her; others' holds on that bed,
    held or occupied, are refused with a problem naming it. Discharge frees the bed again."""
    url = suite.url() + ELDERCARE
    officer = staff(suite, "yinzhou-demo")
    run = unique()
    mother_id, mother_name = id_number(1941, female=True), f"孙阿婆{run % 1000:03d}"
    registered = httpx.post(
        f"{url}/elders",
        headers=officer,
        json={
            "id_number": mother_id,
            "name": mother_name,
            "address_code": standard_address(suite)["code"],
        },
    )
    assert registered.status_code == 201, registered.text
    mother = registered.json()
    assert mother_id not in registered.text and mother["sex"] == "female"

    daughter = resident_signs_in(suite)
    assert httpx.get(f"{url}/elders/{mother['id']}", headers=daughter).status_code == 404  # not linked yet
    asked = httpx.post(
        f"{url}/care-link-requests",
        headers=daughter,
        json={"id_number": mother_id, "name": mother_name, "relation": "child"},
    )
    assert asked.status_code == 201 and asked.json()["status"] == "pending", asked.text
    assert asked.json()["elder_id"] is None  # a resident learns nothing about who is registered
    pending = all_pages(suite, f"{ELDERCARE}/care-link-requests", officer)
    seen = next(r for r in pending if r["id"] == asked.json()["id"])
    assert (seen["elder_id"], seen["name_matches"]) == (mother["id"], True)
    approved = httpx.post(
        f"{url}/care-link-requests/{seen['id']}/approval", headers=officer, json={"note": "户口本核验亲属关系"}
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text
    assert [e["id"] for e in httpx.get(f"{url}/elders", headers=daughter).json()["items"]] == [mother["id"]]

    free = httpx.get(f"{url}/beds", headers=daughter, params={"free": "true", "district_code": "330212"})
    assert free.status_code == 200 and free.json()["items"], free.text
    bed = free.json()["items"][0]
    assert bed["occupancy"] == "free"
    body = {"bed_id": bed["id"], "elder_id": mother["id"], "minutes": 20}
    key = {"Idempotency-Key": f"ej-hold-{run}"}
    held = httpx.post(f"{url}/bed-holds", headers=daughter | key, json=body)
    assert held.status_code == 201, held.text
    hold = held.json()
    admission = None
    try:
        assert (hold["status"], hold["bed_id"], hold["elder_id"], hold["purpose"]) == (
            "active",
            bed["id"],
            mother["id"],
            "booking",
        )
        assert dt.datetime.fromisoformat(hold["expires_at"]) > dt.datetime.fromisoformat(hold["created_at"])
        again = httpx.post(f"{url}/bed-holds", headers=daughter | key, json=body)
        assert again.headers.get("idempotent-replayed") == "true" and again.json()["id"] == hold["id"]
        # Staff of the institution's district see the hold, and the bed as held until its deadline.
        seen_holds = httpx.get(f"{url}/bed-holds", headers=officer, params={"bed_id": bed["id"], "active": "true"})
        assert [h["id"] for h in seen_holds.json()["items"]] == [hold["id"]]
        now = httpx.get(f"{url}/beds/{bed['id']}", headers=officer).json()
        assert now["occupancy"] == "held" and now["held_until"] == hold["expires_at"]

        # Someone else, for another person: the bed is taken (409 naming it); a bad duration is a 422 by field.
        neighbour = httpx.post(
            f"{url}/elders",
            headers=officer,
            json={
                "id_number": id_number(1943, female=False),
                "name": f"周阿公{run % 1000:03d}",
                "address_code": standard_address(suite)["code"],
            },
        ).json()
        taken = httpx.post(f"{url}/bed-holds", headers=officer, json={"bed_id": bed["id"], "elder_id": neighbour["id"]})
        assert assert_problem(taken, 409)["resource"] == f"beds/{bed['id']}"
        # The daughter may not book for a person she does not care for: the same 404 as for nobody.
        assert_problem(
            httpx.post(f"{url}/bed-holds", headers=daughter, json={"bed_id": bed["id"], "elder_id": neighbour["id"]}),
            404,
        )
        bad = httpx.post(f"{url}/bed-holds", headers=daughter, json=body | {"minutes": 0})
        assert [e["field"] for e in assert_problem(bad, 422)["errors"]] == ["minutes"]

        confirmed = httpx.post(f"{url}/bed-holds/{hold['id']}/confirm", headers=officer)
        assert confirmed.status_code == 201, confirmed.text
        admission = confirmed.json()
        assert (admission["status"], admission["bed_id"], admission["hold_id"]) == ("active", bed["id"], hold["id"])
        mine = httpx.get(f"{url}/admissions", headers=daughter, params={"elder_id": mother["id"], "active": "true"})
        assert [a["id"] for a in mine.json()["items"]] == [admission["id"]]
        occupied = httpx.post(
            f"{url}/bed-holds",
            headers=officer | {"Accept-Language": "en"},
            json={"bed_id": bed["id"], "elder_id": neighbour["id"]},
        )
        assert "occupied" in assert_problem(occupied, 409)["detail"]
    finally:
        # Leave the demo bed as found, whatever failed above.
        if admission is not None:
            httpx.post(f"{url}/admissions/{admission['id']}/discharge", headers=officer, json={"reason": "回家养老"})
        else:
            httpx.post(f"{url}/bed-holds/{hold['id']}/release", headers=daughter)
    assert httpx.get(f"{url}/beds/{bed['id']}", headers=officer).json()["occupancy"] == "free"


# personal-data requests ------------------------------------------------------------------------------------------


def test_a_resident_gets_a_copy_of_their_data_and_has_a_request_of_theirs_erased(suite):
    """Signed in by SMS, a resident asks to act for a person (staff have not decided yet). Their copy shows their
    account, its phone masked, and that request, and nothing of another resident's. Deleting the account is refused
    at once with the reason; deleting the request is granted by city staff, and it is gone from the next copy."""
    privacy, eldercare = suite.url() + "/api/privacy/v1", suite.url() + ELDERCARE
    me, other = resident_signs_in(suite), resident_signs_in(suite)
    asked = httpx.post(
        f"{eldercare}/care-link-requests",
        headers=me,
        json={"id_number": id_number(1940, female=True), "name": "钱阿婆", "relation": "child"},
    )
    assert asked.status_code == 201, asked.text

    copy = httpx.post(f"{privacy}/copies", headers=me)
    assert copy.status_code == 201, copy.text
    parts = {s["service"]: s for s in copy.json()["services"]}
    [account] = parts["gateway"]["categories"][0]["records"]
    assert "*" in account["fields"]["phone"] and account["erasable"] is False
    held = {c["category"]: c for c in parts["eldercare"]["categories"]}
    assert [r["id"] for r in held["care_link_requests"]["records"]] == [str(asked.json()["id"])]
    their_copy = httpx.post(f"{privacy}/copies", headers=other).json()
    [their_part] = [s for s in their_copy["services"] if s["service"] == "eldercare"]
    theirs = {c["category"]: c for c in their_part["categories"]}
    assert theirs["care_link_requests"]["count"] == 0

    account_deletion = {"kind": "deletion", "service": "gateway", "category": "account", "record_id": account["id"]}
    refused = httpx.post(f"{privacy}/data-requests", headers=me, json=account_deletion)
    assert refused.status_code == 201 and refused.json()["status"] == "refused", refused.text
    assert refused.json()["answer"].startswith("kept by law")
    deletion = httpx.post(
        f"{privacy}/data-requests",
        headers=me,
        json={
            "kind": "deletion",
            "service": "eldercare",
            "category": "care_link_requests",
            "record_id": str(asked.json()["id"]),
        },
    )
    assert deletion.status_code == 201 and deletion.json()["status"] == "open", deletion.text
    assert_problem(httpx.get(f"{privacy}/data-requests/{deletion.json()['id']}", headers=other), 404)
    answered = httpx.post(
        f"{privacy}/data-requests/{deletion.json()['id']}/answer",
        headers=staff(suite, "city-demo"),
        json={"outcome": "done", "answer": "未审核的关联申请已删除"},
    )
    assert answered.status_code == 200 and answered.json()["status"] == "done", answered.text
    after = {s["service"]: s for s in httpx.post(f"{privacy}/copies", headers=me).json()["services"]}
    assert {c["category"]: c["count"] for c in after["eldercare"]["categories"]}["care_link_requests"] == 0
