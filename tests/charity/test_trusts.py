"""Charity trusts with their yearly reports, and community funds with their coverage per district."""

import datetime as dt

from stdnum.cn import uscc

from services.charity.trusts.models import Trust
from services.charity.trusts.service import missing_reports
from shared import clock, divisions
from tests.charity.factories import API, CITY, HAISHU, YINZHOU, organisation
from tests.indicators import checked, item, value

TRUST_COMPANY = "91330200MA2AAAAA1"
TRUST_COMPANY += uscc.calc_check_digit(TRUST_COMPANY)


def trust_body(**overrides) -> dict:
    body = {
        "name": "宁波市乡村振兴慈善信托",
        "record_number": "ZJ-NB-2023-001",
        "district_code": "330212",
        "trustee_kind": "trust_company",
        "trustee_name": "某信托有限责任公司",
        "trustee_credit_code": TRUST_COMPANY,
        "settlor_name": "宁波某某集团",
        "scale_fen": 100_000_000,
        "purpose": "资助鄞州区困难学生",
        "established_on": f"{clock.today().year - 3}-06-01",
    }
    return body | overrides


async def test_trusts_are_filed_once_and_public(client):
    created = await client.post(f"{API}/trusts", json=trust_body(), headers=client.as_(YINZHOU))
    assert created.status_code == 201, created.text
    trust = created.json()
    again = await client.post(f"{API}/trusts", json=trust_body(name="另一个信托"), headers=client.as_(YINZHOU))
    assert again.status_code == 409 and again.json()["resource"] == f"trusts/{trust['id']}"
    for field, overrides in {
        "trustee_credit_code": dict(trustee_credit_code=TRUST_COMPANY[:-1] + "Y"),
        "term_ends_on": dict(record_number="2", term_ends_on="2000-01-01"),
        "trustee_kind": dict(trustee_kind="bank"),
    }.items():
        response = await client.post(f"{API}/trusts", json=trust_body(**overrides), headers=client.as_(YINZHOU))
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field, field
    assert (
        await client.post(f"{API}/trusts", json=trust_body(record_number="3"), headers=client.as_(HAISHU))
    ).status_code == 403
    public = await client.get(f"{API}/trusts", params={"district": "330212"})
    assert public.status_code == 200 and [t["id"] for t in public.json()["items"]] == [trust["id"]]
    assert (await client.get(f"{API}/trusts/{trust['id']}")).json()["scale_fen"] == 100_000_000
    indicators = checked((await client.get(f"{API}/indicators")).json())
    assert (value(indicators, "trusts", area="330200"), value(indicators, "trust_scale")) == (1, 100_000_000)
    assert [(i["area"], i["value"]) for i in indicators["items"] if i["code"] == "trusts"] == [
        ("330200", 1),
        ("330212", 1),
    ]
    yinzhou = checked((await client.get(f"{API}/indicators", params={"district": "330212"})).json())
    assert [(i["area"], i["value"]) for i in yinzhou["items"] if i["code"] == "trusts"] == [("330212", 1)]


async def test_yearly_reports_are_due_by_the_end_of_march(client):
    trust = (await client.post(f"{API}/trusts", json=trust_body(), headers=client.as_(YINZHOU))).json()
    this_year = clock.today().year
    overdue = (await client.get(f"{API}/trusts/overdue-reports", headers=client.as_(YINZHOU))).json()
    expected = [y for y in range(this_year - 3, this_year) if clock.today() > dt.date(y + 1, 3, 31)]
    assert [o["year"] for o in overdue] == expected
    report = await client.post(
        f"{API}/trusts/{trust['id']}/reports",
        headers=client.as_(YINZHOU),
        json={
            "year": this_year - 3,
            "year_end_scale_fen": 99_000_000,
            "spent_fen": 1_000_000,
            "summary": "资助学生 50 名",
        },
    )
    assert report.status_code == 201, report.text
    twice = await client.post(
        f"{API}/trusts/{trust['id']}/reports",
        headers=client.as_(YINZHOU),
        json={"year": this_year - 3, "year_end_scale_fen": 0, "spent_fen": 0, "summary": "x"},
    )
    assert twice.status_code == 409
    future = await client.post(
        f"{API}/trusts/{trust['id']}/reports",
        headers=client.as_(YINZHOU),
        json={"year": this_year, "year_end_scale_fen": 0, "spent_fen": 0, "summary": "x"},
    )
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "year"
    after = (await client.get(f"{API}/trusts/overdue-reports", headers=client.as_(YINZHOU))).json()
    assert [o["year"] for o in after] == expected[1:]
    assert (await client.get(f"{API}/trusts/overdue-reports", headers=client.as_(HAISHU))).json() == []
    assert (await client.get(f"{API}/trusts/{trust['id']}")).json()["reported_years"] == [this_year - 3]


def test_missing_reports_stop_with_the_term():
    trust = Trust(established_on=dt.date(2020, 5, 1), term_ends_on=dt.date(2022, 5, 1))
    assert missing_reports(trust, {2021}, dt.date(2026, 11, 29)) == [
        (2020, dt.date(2021, 3, 31)),
        (2022, dt.date(2023, 3, 31)),
    ]
    assert missing_reports(trust, set(), dt.date(2021, 3, 31)) == []  # due today: not yet late


def communities(within: str) -> list[str]:
    """Today's communities and villages below `within`, from the one division tree, in code order."""
    return sorted(
        d.code
        for d in divisions.tree().by_code.values()
        if d.level == "village" and d.current and d.code.startswith(within)
    )


async def test_community_fund_coverage_per_district(client):
    host = await organisation(client)
    yinzhou = communities("330212")[:9]
    for n, code in enumerate(yinzhou, start=1):
        response = await client.post(
            f"{API}/community-funds",
            headers=client.as_(YINZHOU),
            json={
                "name": f"社区慈善基金{n}",
                "community_code": code,
                "host_organization_id": host["id"],
                "initial_scale_fen": 5_000_000,
                "established_on": "2025-01-01",
            },
        )
        assert response.status_code == 201, response.text
    twice = await client.post(
        f"{API}/community-funds",
        headers=client.as_(YINZHOU),
        json={"name": "重复", "community_code": yinzhou[0], "initial_scale_fen": 0, "established_on": "2025-01-01"},
    )
    assert twice.status_code == 409
    outside = await client.post(
        f"{API}/community-funds",
        headers=client.as_(YINZHOU),
        json={
            "name": "海曙",
            "community_code": communities("330203")[0],
            "initial_scale_fen": 0,
            "established_on": "2025-01-01",
        },
    )
    assert outside.status_code == 403
    before = (await client.get(f"{API}/community-funds/coverage")).json()
    assert before["districts"] == [
        {"district_code": "330212", "communities": None, "with_fund": 9, "coverage_pct": None, "met": False}
    ]
    base = {"communities": 10, "as_of": "2026-01-01", "source": "鄞州区民政局 2026 年区划统计"}
    assert (
        await client.put(f"{API}/community-funds/coverage-base/330212", json=base, headers=client.as_(YINZHOU))
    ).status_code == 204
    assert (
        await client.put(
            f"{API}/community-funds/coverage-base/330212", json=base | {"communities": 9}, headers=client.as_(CITY)
        )
    ).status_code == 204  # restated: replaces
    assert (
        await client.put(
            f"{API}/community-funds/coverage-base/330203", json=base | {"communities": 5}, headers=client.as_(CITY)
        )
    ).status_code == 204
    after = (await client.get(f"{API}/community-funds/coverage")).json()
    assert [
        (d["district_code"], d["communities"], d["with_fund"], d["coverage_pct"], d["met"]) for d in after["districts"]
    ] == [("330203", 5, 0, 0.0, False), ("330212", 9, 9, 100.0, True)]
    assert (after["communities"], after["with_fund"], after["coverage_pct"], after["met"]) == (14, 9, 64.29, False)
    indicator = item((await client.get(f"{API}/indicators")).json(), "community_fund_coverage")
    assert (indicator["value"], indicator["unit"], indicator["target"]["value"], indicator["target"]["met"]) == (
        64.29,
        "percent",
        90,
        False,
    )
    street = yinzhou[0][:9]
    assert [
        f["community_code"]
        for f in (await client.get(f"{API}/community-funds", params={"area": street})).json()["items"]
    ] == [c for c in yinzhou if c.startswith(street)]


async def test_a_community_fund_names_a_community_of_todays_division_tree(client):
    """A code that is no community (a made-up one, a street's, one of another level) is refused, naming the field."""
    for code in ("330212001999", "330212001000"):
        refused = await client.post(
            f"{API}/community-funds",
            headers=client.as_(YINZHOU),
            json={"name": "不存在", "community_code": code, "initial_scale_fen": 0, "established_on": "2025-01-01"},
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "community_code"
    real = communities("330212")[0]
    assert (
        await client.post(
            f"{API}/community-funds",
            headers=client.as_(YINZHOU),
            json={"name": "真实社区", "community_code": real, "initial_scale_fen": 0, "established_on": "2025-01-01"},
        )
    ).status_code == 201


async def test_a_coverage_base_is_stated_for_a_district_of_the_city_only(client):
    # The path took any six digits of the city: a count stated for the city itself or a district that does not exist
    # was stored as a district's and summed with the real districts' counts, and the city's coverage fell.
    base = {"communities": 9, "as_of": "2026-01-01", "source": "区划统计"}
    for code in ("330200", "330299"):
        refused = await client.put(f"{API}/community-funds/coverage-base/{code}", json=base, headers=client.as_(CITY))
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "district_code"
    assert (await client.get(f"{API}/community-funds/coverage")).json()["districts"] == []
    stated = await client.put(f"{API}/community-funds/coverage-base/330212", json=base, headers=client.as_(CITY))
    assert stated.status_code == 204, stated.text


async def test_a_trust_is_filed_with_a_district_of_the_city(client):
    # Filed under a code no district has (a slip for 330212), a trust was seen by no district's staff and its late
    # yearly reports were chased by none. The city bureau (330200) files trusts too.
    for code in ("330299", "330290"):
        refused = await client.post(f"{API}/trusts", json=trust_body(district_code=code), headers=client.as_(CITY))
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "district_code"
    assert (await client.get(f"{API}/trusts")).json()["items"] == []
    for n, code in enumerate(("330212", "330200")):
        body = trust_body(district_code=code, record_number=f"ZJ-NB-2023-00{n}")
        filed = await client.post(f"{API}/trusts", json=body, headers=client.as_(CITY))
        assert filed.status_code == 201, filed.text
