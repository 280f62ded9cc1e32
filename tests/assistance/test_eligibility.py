"""Eligibility that explains itself: every criterion with its value, threshold, policy version and sources."""

import dataclasses
import datetime as dt

import pytest

from services.assistance import seed
from services.assistance.discovery import batch
from services.assistance.eligibility import rules
from services.assistance.eligibility import service as eligibility
from shared.programmes import PROGRAMMES
from tests.assistance.helpers import household, member
from tests.assistance.test_assessment import SOURCE, income, post
from tests.assistance.test_households import HAISHU, YINZHOU, create
from tests.conftest import staff

URL = "/api/assistance/v1/eligibility-checks"
CHECK = "assistance.eligibility:check"
CHECKER = staff("330212", CHECK, "assistance.households:read", "assistance.households:write", subject="staff:y")
AS_OF = dt.date(2024, 6, 1)
STANDARD = 110_000


def params(**values) -> dict[str, rules.Param]:
    base = {
        "dibao_standard": STANDARD,
        "dibao_marginal_multiplier": 2000,
        "tekun_support_standard": 187_000,
        "orphan_institution_standard": 3_500_000,
        "orphan_scattered_standard": 2_900_000,
        "children_in_difficulty_standard": 2_900_000,
        "disability_living_subsidy": 33_000,
        "disability_care_subsidy": 33_000,
        "dibao_financial_assets_limit": 2_640_000,
        "dibao_vehicle_value_limit": 5_000_000,
        "employment_cost_deduction": 30_000,
        "dibao_grant_rounding": 100,
    }
    base |= values
    return {code: rules.Param(code, value, "fen", i, f"cite {code}") for i, (code, value) in enumerate(base.items())}


def person(relationship="applicant", years=45, **kw) -> rules.Person:
    return rules.Person(
        birth_on=AS_OF.replace(year=AS_OF.year - years) - dt.timedelta(days=3), relationship=relationship, **kw
    )


def facts(*people, **kw) -> rules.HouseholdFacts:
    return rules.HouseholdFacts(district_code="330212", people=tuple(people), **kw)


def programme(evaluation, code):
    return next(p for p in evaluation.programmes if p.code == code)


@pytest.mark.parametrize(
    ("other_income", "dibao", "marginal", "grant"),
    [
        (0, True, False, 2 * STANDARD),
        (2 * STANDARD - 1, True, False, 100),  # 1 fen below the standard: the grant rounds up to one yuan
        (2 * STANDARD - 150, True, False, 200),
        (2 * STANDARD, False, True, 0),  # exactly the standard: not 低保, but 低保边缘
        (4 * STANDARD, False, True, 0),  # exactly 2× the standard: still 低保边缘
        (4 * STANDARD + 1, False, False, 0),
    ],
)
def test_income_thresholds_are_exact(other_income, dibao, marginal, grant):
    result = rules.evaluate(facts(person(other_income_fen=other_income), person("spouse")), params(), AS_OF)
    assert programme(result, "dibao").eligible is dibao
    assert programme(result, "dibao").amount_fen == grant
    assert programme(result, "dibao_marginal").eligible is marginal


def test_the_marginal_multiplier_in_force_decides():
    household = facts(person(other_income_fen=int(STANDARD * 1.8)))
    assert programme(rules.evaluate(household, params(), AS_OF), "dibao_marginal").eligible
    assert not programme(
        rules.evaluate(household, params(dibao_marginal_multiplier=1500), AS_OF), "dibao_marginal"
    ).eligible


def test_employment_cost_deduction_and_rounding_rule():
    # Wages 1,200 yuan less the 300 yuan deduction = 900 < 1,100: 低保 with a 200 yuan grant.
    worker = person(wages_fen=120_000)
    result = rules.evaluate(facts(worker), params(), AS_OF)
    assert result.household_income_fen == 90_000
    assert programme(result, "dibao").amount_fen == 20_000
    # The deduction never exceeds the wages.
    assert rules.evaluate(facts(person(wages_fen=10_000)), params(), AS_OF).household_income_fen == 0
    # Rounding to the fen instead of the yuan.
    odd = facts(person(other_income_fen=STANDARD - 1), person("spouse", other_income_fen=STANDARD - 50))
    assert programme(rules.evaluate(odd, params(dibao_grant_rounding=1), AS_OF), "dibao").amount_fen == 51
    assert programme(rules.evaluate(odd, params(), AS_OF), "dibao").amount_fen == 100


# 110,000 fen × 1.15 is 126,499.999… in floating point: a rule computed as `standard × multiplier / 1000` in floats
# would refuse 低保边缘 to a household exactly at its limit. The rules compare integers: total × 1000 ≤ limit × n.
@pytest.mark.parametrize(
    ("per_capita", "dibao", "marginal", "grant"),
    [
        (STANDARD - 1, True, False, 100),  # one fen under the standard: 低保, the 2 fen missing round up to a yuan
        (STANDARD, False, True, 0),  # exactly the standard
        (126_500, False, True, 0),  # exactly 1.15 × the standard
        (126_501, False, False, 0),  # one fen over
    ],
)
def test_the_marginal_limit_is_exact_at_a_multiplier_floats_cannot_hold(per_capita, dibao, marginal, grant):
    household = facts(person(other_income_fen=per_capita), person("spouse", other_income_fen=per_capita))
    result = rules.evaluate(household, params(dibao_marginal_multiplier=1150), AS_OF)
    assert (programme(result, "dibao").eligible, programme(result, "dibao").amount_fen) == (dibao, grant)
    assert programme(result, "dibao_marginal").eligible is marginal
    limit = next(
        c for c in programme(result, "dibao_marginal").criteria if c.code == "per_capita_income_within_marginal_limit"
    )
    assert limit.threshold == 126_500 and limit.value == per_capita


TOP_MONTHLY_FEN = 1_000_000_000  # 10 million yuan a month: the largest monthly income the schemas take


def test_incomes_at_their_bound_are_summed_and_decided_exactly():
    household = facts(
        person(wages_fen=TOP_MONTHLY_FEN, other_income_fen=TOP_MONTHLY_FEN),
        person("spouse", wages_fen=TOP_MONTHLY_FEN),
        person("child", years=10, other_income_fen=1),
    )
    total = 3 * TOP_MONTHLY_FEN + 1 - 2 * 30_000  # two wages, each less the employment cost deduction
    for standard in (total // 3, total // 3 + 1):  # the total 1 fen over 3 × the standard, then 2 fen under it
        result = rules.evaluate(household, params(dibao_standard=standard), AS_OF)
        assert (result.household_income_fen, result.per_capita_income_fen) == (total, total // 3)
        assert type(result.household_income_fen) is int and type(result.per_capita_income_fen) is int
        gap = 3 * standard - total
        assert programme(result, "dibao").eligible is (gap > 0)
        assert programme(result, "dibao").amount_fen == (100 if gap > 0 else 0)


def test_assets_over_the_limit_fail_dibao_with_the_criterion_named():
    result = rules.evaluate(facts(person(), financial_assets_fen=2_640_001), params(), AS_OF)
    dibao = programme(result, "dibao")
    failed = [c.code for c in dibao.criteria if not c.passed]
    assert failed == ["financial_assets_per_capita_within_limit"] and not dibao.eligible
    ok = rules.evaluate(facts(person(), person("spouse"), financial_assets_fen=5_280_000), params(), AS_OF)
    assert programme(ok, "dibao").eligible


def test_tekun_needs_no_labour_capacity_no_income_and_no_able_supporter():
    elder = person(years=74)
    assert programme(rules.evaluate(facts(elder), params(), AS_OF), "tekun").eligible
    with_son = rules.evaluate(facts(elder, person("child", years=40)), params(), AS_OF)
    [elder_result, son_result] = programme(with_son, "tekun").persons
    assert not elder_result.eligible
    assert [c.code for c in elder_result.criteria if not c.passed] == ["no_supporter_able_to_support"]
    assert not son_result.eligible
    assert not programme(
        rules.evaluate(facts(person(years=74, other_income_fen=STANDARD)), params(), AS_OF), "tekun"
    ).eligible
    assert not programme(rules.evaluate(facts(person(years=59)), params(), AS_OF), "tekun").eligible
    assert programme(
        rules.evaluate(facts(person(years=59)), params(), dt.date(2024, 6, 4) + dt.timedelta(days=365)), "tekun"
    ).eligible  # turns 60
    severe = person(years=45, disability_grade=2, disability_kind="physical")
    assert programme(rules.evaluate(facts(severe), params(), AS_OF), "tekun").eligible
    grade3 = person(years=45, disability_grade=3, disability_kind="mental")
    assert programme(rules.evaluate(facts(grade3), params(), AS_OF), "tekun").eligible
    grade3_physical = dataclasses.replace(grade3, disability_kind="physical")
    assert not programme(rules.evaluate(facts(grade3_physical), params(), AS_OF), "tekun").eligible


def test_tekun_counts_an_income_below_the_dibao_standard_as_no_means_of_living():
    """无生活来源 (特困人员认定办法 第八条) is an income below the 低保 standard, not no income at all: an elder alone on
    a 500-yuan pension is 特困; on the standard itself, not."""

    def tekun(income):
        return programme(rules.evaluate(facts(person(years=74, other_income_fen=income)), params(), AS_OF), "tekun")

    assert tekun(50_000).eligible and tekun(STANDARD - 1).eligible and not tekun(STANDARD).eligible
    rule = next(c for c in tekun(50_000).persons[0].criteria if c.code == "no_income_source")
    assert (rule.value, rule.threshold, rule.parameters[0].code) == (50_000, STANDARD, "dibao_standard")


def test_tekun_takes_a_stated_lack_of_labour_capacity_between_16_and_59_and_only_the_listed_disabilities():
    """特困人员认定办法 第七条: the listed disabilities count whatever the stated capacity; anyone else of 16–59 counts
    when staff recorded no labour capacity (the province's other situations, e.g. a serious illness)."""

    def tekun(p):
        return programme(rules.evaluate(facts(p), params(), AS_OF), "tekun").persons[0]

    ill = tekun(person(years=45, labour_capacity="none"))
    assert ill.eligible and "recorded as having no labour capacity" in ill.criteria[0].note
    for capacity in ("full", "partial"):
        assert not tekun(person(years=45, labour_capacity=capacity)).eligible
    for kind, grade in (("visual", 1), ("physical", 2), ("intellectual", 3), ("mental", 3)):
        assert tekun(person(years=45, disability_grade=grade, disability_kind=kind)).eligible, (kind, grade)
    for kind, grade in (("visual", 2), ("hearing", 1), ("speech", 1), ("physical", 3)):  # not listed
        assert not tekun(person(years=45, disability_grade=grade, disability_kind=kind)).eligible, (kind, grade)
        assert tekun(person(years=45, disability_grade=grade, disability_kind=kind, labour_capacity="none")).eligible


async def test_a_recorded_member_of_working_age_with_no_labour_capacity_is_tekun(client):
    await load_policies(client)
    h = await create(
        client,
        household(member(age=45, labour_capacity="none"), member("spouse", age=44, labour_capacity="partial")),
        CHECKER,
    )
    body = (await check(client, {"household_id": h["id"], "as_of": "2024-07-15", "programmes": ["tekun"]})).json()
    [ill, partial] = body["programmes"][0]["persons"]
    assert ill["eligible"] is True and partial["eligible"] is False
    assert [c["code"] for c in partial["criteria"] if not c["passed"]] == ["no_labour_capacity"]


def test_children_and_disability_programmes():
    orphan = person("grandchild", years=10, parents="orphan", legal_duty_of_support=True)
    result = rules.evaluate(facts(person(years=65), orphan), params(), AS_OF)
    assert programme(result, "orphan_scattered").eligible and not programme(result, "orphan_institution").eligible
    assert programme(result, "orphan_scattered").amount_fen == 2_900_000
    grown = dataclasses.replace(orphan, birth_on=dt.date(2000, 1, 1))
    assert not programme(rules.evaluate(facts(person(years=65), grown), params(), AS_OF), "orphan_scattered").eligible
    unsupported = person("child", years=8, parents="unsupported")
    assert programme(rules.evaluate(facts(person(), unsupported), params(), AS_OF), "child_in_difficulty").eligible
    disabled = person(disability_grade=1, disability_kind="visual", other_income_fen=500_000)
    rich = rules.evaluate(facts(disabled), params(), AS_OF)
    assert programme(rich, "disability_care_subsidy").eligible  # 护理补贴 does not depend on income
    assert not programme(rich, "disability_living_subsidy").eligible  # 生活补贴 needs a 低保/边缘 household
    poor = rules.evaluate(facts(dataclasses.replace(disabled, other_income_fen=0)), params(), AS_OF)
    assert programme(poor, "disability_living_subsidy").eligible


def test_the_living_subsidy_goes_to_counted_members_of_a_poor_household_only():
    """An adult son recorded with his parents but living on his own is not counted: the 低保 income test never saw
    his income and 低保 does not enrol him, so the household's 低保 is no ground for his 困难残疾人生活补贴."""
    son = person("child", years=30, disability_grade=4, disability_kind="physical", labour_capacity="partial")
    result = rules.evaluate(facts(person(years=62), son), params(), AS_OF)
    assert programme(result, "dibao").eligible and result.counted_members == 1
    [assessed] = programme(result, "disability_living_subsidy").persons
    assert assessed.eligible is False
    assert [c.code for c in assessed.criteria if not c.passed] == ["counted_member"]
    at_home = dataclasses.replace(son, labour_capacity="none")  # 不能独立生活的成年子女: counted
    [counted] = programme(
        rules.evaluate(facts(person(years=62), at_home), params(), AS_OF), "disability_living_subsidy"
    ).persons
    assert counted.eligible is True


async def load_policies(client):
    async with client.app.state.database.sessionmaker() as session:
        await seed.load_policies(session)
        await session.commit()


async def check(client, body, principal=CHECKER):
    return await client.post(URL, json=body, headers=client.as_(principal))


async def test_a_recorded_household_is_explained_with_versions_citations_and_sources(client):
    await load_policies(client)
    h = await create(client, household(member(age=45), member("child", age=10)), CHECKER)
    applicant = h["members"][0]["id"]
    await post(client, h["id"], "incomes", income(applicant, amount_fen=6 * 150_000), CHECKER)  # 1,500 wages
    await post(
        client, h["id"], "incomes", income(applicant, kind="transfer", item="scholarship", amount_fen=600_000), CHECKER
    )
    await post(client, h["id"], "assets", {"kind": "deposit", "value_fen": 1_000_000, "source": SOURCE}, CHECKER)
    response = await check(client, {"household_id": h["id"], "as_of": "2024-07-15"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["counted_members"] == 2 and body["household_monthly_income_fen"] == 150_000  # no deduction
    assert body["per_capita_monthly_income_fen"] == 75_000
    dibao = next(p for p in body["programmes"] if p["code"] == "dibao")
    assert dibao["eligible"] is True and dibao["amount_fen"] == 2 * 110_000 - 150_000
    income_rule = next(c for c in dibao["criteria"] if c["code"] == "per_capita_income_below_standard")
    assert (income_rule["passed"], income_rule["value"], income_rule["threshold"]) == (True, 75_000, 110_000)
    [standard, deduction, period] = income_rule["parameters"]
    assert standard["code"] == "dibao_standard" and "1100元/月以上" in standard["citation"]
    assert deduction["code"] == "employment_cost_deduction" and deduction["is_assumption"] is True
    # The income is June's (the period's last month, before July's): the assessment period the seed ships.
    assert (period["code"], period["value"], period["unit"], period["is_assumption"]) == (
        "income_assessment_months",
        1,
        "months",
        True,
    )
    assert "1 whole month(s) before the month of as_of" in income_rule["note"]
    assert income_rule["sources"] == ["department: 市人力社保局, 2024-07-02"]
    assert [p["code"] for p in body["programmes"]] == list(PROGRAMMES)
    assert all(p["receiving"] is False for p in body["programmes"])
    tekun = next(p for p in body["programmes"] if p["code"] == "tekun")
    assert [p["member"] for p in tekun["persons"]] == [str(m["id"]) for m in h["members"]]
    assert h["members"][1]["id_number_masked"] == tekun["persons"][1]["id_number_masked"]
    only = await check(client, {"household_id": h["id"], "as_of": "2024-07-15", "programmes": ["dibao"]})
    assert [p["code"] for p in only.json()["programmes"]] == ["dibao"]


async def test_an_earlier_as_of_uses_the_rules_in_force_then(client):
    await load_policies(client)
    city = staff("330200", "assistance.policies:write", "assistance.policies:read")
    new = await client.post(
        "/api/assistance/v1/policies",
        headers=client.as_(city),
        json={
            "code": "dibao_standard",
            "value": 120_000,
            "unit": "fen_per_month",
            "effective_on": "2024-01-01",
            "citation": "测试：2024年标准",
        },
    )
    assert new.status_code == 201
    inline = {
        "area_code": "330212001005",
        "members": [member(age=50, incomes=[{"kind": "pension", "item": "pension", "monthly_fen": 115_000}])],
    }
    before = (await check(client, {"household": inline, "as_of": "2023-12-31"})).json()
    after = (await check(client, {"household": inline, "as_of": "2024-01-01"})).json()

    def dibao(body):
        result = next(p for p in body["programmes"] if p["code"] == "dibao")
        rule = next(c for c in result["criteria"] if c["code"] == "per_capita_income_below_standard")
        return result["eligible"], rule["threshold"], rule["parameters"][0]["version_id"]

    assert dibao(before)[:2] == (False, 110_000)
    assert dibao(after) == (True, 120_000, new.json()["id"])
    assert dibao(before)[2] != new.json()["id"]
    too_early = await check(client, {"household": inline, "as_of": "2019-06-01"})
    assert too_early.status_code == 422 and too_early.json()["errors"][0]["field"] == "as_of"
    assert "no rule was in force on 2019-06-01" in too_early.json()["detail"]


async def test_an_inline_household_with_a_person_already_receiving(client):
    await load_policies(client)
    async with client.app.state.database.sessionmaker() as session:
        await seed.load_demo_households(session)
        await session.commit()
    chen = {"id_number": "330212195207080032", "name": "陈根发", "relationship": "applicant", "labour_capacity": "none"}
    response = await check(client, {"household": {"area_code": "330212001005", "members": [chen]}})
    assert response.status_code == 200, response.text
    tekun = next(p for p in response.json()["programmes"] if p["code"] == "tekun")
    assert tekun["eligible"] and tekun["receiving"] and tekun["amount_fen"] == 187_000
    assert "330212195207080032" not in response.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "household_id"),
        ({"household_id": 1, "household": {"area_code": "330212001", "members": [member()]}}, "household_id"),
        ({"household": {"area_code": "330212001", "members": [member(relationship="spouse")]}}, "household.members"),
        (
            {"household": {"area_code": "330212001", "members": [member(id_number="330212198001010011")]}},
            "household.members.0.id_number",
        ),
        (
            {
                "household": {
                    "area_code": "330212001",
                    "members": [member(incomes=[{"kind": "wages", "item": "wages", "monthly_fen": -1}])],
                }
            },
            "household.members.0.incomes.0.monthly_fen",
        ),
        (
            {
                "household": {
                    "area_code": "330212001",
                    "members": [member(incomes=[{"kind": "wages", "item": "rent", "monthly_fen": 1}])],
                }
            },
            "household.members.0.incomes.0.item",
        ),
        ({"household": {"area_code": "330212001", "members": [member()]}, "programmes": ["lottery"]}, "programmes.0"),
        ({"household": {"area_code": "330212001", "members": [member()]}, "as_of": "2024-02-30"}, "as_of"),
    ],
)
async def test_bad_checks_name_the_field(client, body, field):
    await load_policies(client)
    response = await check(client, body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


async def test_other_areas_and_missing_scope(client):
    await load_policies(client)
    h = await create(client, household(member(), area_code="330203001001"), HAISHU)
    assert (await check(client, {"household_id": h["id"]})).status_code == 404
    inline = {"area_code": "330203001001", "members": [member()]}
    assert (await check(client, {"household": inline})).status_code == 403
    assert (await check(client, {"household": inline}, YINZHOU)).status_code == 403  # no check scope


async def test_a_recorded_household_shows_what_its_members_receive(client):
    """The recorded path reads enrolments with the household's figures in one statement: a member's programme
    (陈根发, 特困 since 2021) shows as received, and only that one."""
    from sqlalchemy import select

    from services.assistance.database import id_number_index
    from services.assistance.households.models import Member

    await load_policies(client)
    async with client.app.state.database.sessionmaker() as session:
        await seed.load_demo_households(session)
        await session.commit()
        household_id = await session.scalar(
            select(Member.household_id).where(Member.id_number_index == id_number_index("330212195207080032"))
        )
    headers = client.as_(staff("330212", CHECK, "assistance.households:read"))
    now = await client.post(URL, json={"household_id": household_id, "as_of": "2024-07-15"}, headers=headers)
    assert now.status_code == 200, now.text
    assert {p["code"] for p in now.json()["programmes"] if p["receiving"]} == {"tekun"}


async def test_a_recorded_household_is_checked_against_a_version_added_since_the_last_check(client):
    """Parameters are cached per process for recorded households; a version added in between is used at once."""
    await load_policies(client)
    h = await create(client, household(member(age=45)), CHECKER)

    def dibao(body):
        result = next(p for p in body["programmes"] if p["code"] == "dibao")
        rule = next(c for c in result["criteria"] if c["code"] == "per_capita_income_below_standard")
        return rule["threshold"], rule["parameters"][0]["version_id"]

    first = await check(client, {"household_id": h["id"], "as_of": "2024-07-15"})
    again = await check(client, {"household_id": h["id"], "as_of": "2024-07-15"})
    assert first.status_code == again.status_code == 200, first.text
    assert dibao(first.json()) == dibao(again.json()) and dibao(first.json())[0] == STANDARD
    city = staff("330200", "assistance.policies:write", "assistance.policies:read")
    new = await client.post(
        "/api/assistance/v1/policies",
        headers=client.as_(city),
        json={
            "code": "dibao_standard",
            "value": 120_000,
            "unit": "fen_per_month",
            "effective_on": "2024-07-01",
            "citation": "测试：2024年7月起标准",
        },
    )
    assert new.status_code == 201, new.text
    after = await check(client, {"household_id": h["id"], "as_of": "2024-07-15"})
    assert dibao(after.json()) == (120_000, new.json()["id"])
    earlier = await check(client, {"household_id": h["id"], "as_of": "2024-06-30"})
    assert dibao(earlier.json()) == dibao(first.json())


async def test_a_check_answers_exact_integers_at_the_bounds_and_the_limits(client):
    """Through the API: figures at their bound come back to the fen, and a household exactly at a limit set by a
    multiplier no float holds (1.15) is inside it, one fen more is not."""
    await load_policies(client)
    city = staff("330200", "assistance.policies:write", "assistance.policies:read")
    added = await client.post(
        "/api/assistance/v1/policies",
        headers=client.as_(city),
        json={
            "code": "dibao_marginal_multiplier",
            "value": 1150,
            "unit": "permille",
            "effective_on": "2024-07-01",
            "citation": "测试：1.15倍",
        },
    )
    assert added.status_code == 201, added.text

    async def marginal(*monthly: int) -> tuple[dict, dict]:
        members = [
            member(
                "applicant" if i == 0 else "spouse",
                age=50,
                incomes=[{"kind": "pension", "item": "pension", "monthly_fen": amount}],
            )
            for i, amount in enumerate(monthly)
        ]
        response = await check(
            client,
            {
                "household": {"area_code": "330212001005", "members": members},
                "as_of": "2024-07-15",
                "programmes": ["dibao_marginal"],
            },
        )
        assert response.status_code == 200, response.text
        return response.json(), response.json()["programmes"][0]

    body, at_limit = await marginal(126_500, 126_500)
    assert at_limit["eligible"] is True
    assert [c["threshold"] for c in at_limit["criteria"] if c["code"].endswith("marginal_limit")] == [126_500]
    assert (await marginal(126_500, 126_501))[1]["eligible"] is False
    body, _ = await marginal(TOP_MONTHLY_FEN, TOP_MONTHLY_FEN - 1)
    assert body["household_monthly_income_fen"] == 2 * TOP_MONTHLY_FEN - 1
    assert body["per_capita_monthly_income_fen"] == TOP_MONTHLY_FEN - 1


def wages(monthly_fen):
    return [{"kind": "wages", "item": "wages", "monthly_fen": monthly_fen}]


async def test_wages_count_in_full_unless_a_district_enters_a_cited_employment_cost_deduction(client):
    """No source gives an employment cost deduction (就业成本), so by default there is none: a family of three on
    2,400 yuan of wages (800 a head) gets (1,100 − 800) × 3 = 900 yuan, and 2,201 yuan for one person is above
    the 低保边缘 limit of 2 × 1,100. A district that enters a cited figure gets it, and only that district."""
    await load_policies(client)
    three = {
        "area_code": "330212001005",
        "members": [member(age=40, incomes=wages(240_000)), member("spouse"), member("child", age=10)],
    }
    body = (await check(client, {"household": three, "as_of": "2022-06-01"})).json()
    assert body["household_monthly_income_fen"] == 240_000 and body["per_capita_monthly_income_fen"] == 80_000
    dibao = next(p for p in body["programmes"] if p["code"] == "dibao")
    assert (dibao["eligible"], dibao["amount_fen"]) == (True, 90_000)

    def marginal(monthly_fen, area_code="330212001005"):
        inline = {"area_code": area_code, "members": [member(age=40, incomes=wages(monthly_fen))]}
        return check(client, {"household": inline, "as_of": "2022-06-01", "programmes": ["dibao_marginal"]})

    at_limit, above = (await marginal(220_000)).json(), (await marginal(220_100)).json()
    assert at_limit["programmes"][0]["eligible"] is True
    assert above["programmes"][0]["eligible"] is False and above["household_monthly_income_fen"] == 220_100
    deduction = next(
        p
        for c in above["programmes"][0]["criteria"]
        for p in c["parameters"]
        if p["code"] == "employment_cost_deduction"
    )
    assert (deduction["value"], deduction["is_assumption"]) == (0, True)

    city = staff("330200", "assistance.policies:write", "assistance.policies:read")
    added = await client.post(
        "/api/assistance/v1/policies",
        headers=client.as_(city),
        json={
            "code": "employment_cost_deduction",
            "district_code": "330212",
            "value": 20_000,
            "unit": "fen_per_month",
            "effective_on": "2022-03-01",
            "citation": "鄞州区就业成本扣减办法（测试）",
        },
    )
    assert added.status_code == 201, added.text
    yinzhou = (await marginal(220_100)).json()
    assert yinzhou["household_monthly_income_fen"] == 200_100 and yinzhou["programmes"][0]["eligible"] is True
    haishu = staff("330203", CHECK)
    other = await check(
        client,
        {
            "household": {"area_code": "330203001001", "members": [member(age=40, incomes=wages(220_100))]},
            "as_of": "2022-06-01",
            "programmes": ["dibao_marginal"],
        },
        haishu,
    )
    assert other.json()["household_monthly_income_fen"] == 220_100
    assert other.json()["programmes"][0]["eligible"] is False


async def test_a_full_time_student_sent_without_a_school_level_is_refused_not_left_out(client):
    """A 19-year-old child in full-time education counts up to undergraduate: without the level the check cannot
    tell, so it says so (a 422 naming the field) instead of deciding as if the child lived on their own."""
    await load_policies(client)
    parent = member(age=45)
    student = member("child", age=19, full_time_student=True)
    inline = {"area_code": "330212001005", "members": [parent, student]}
    response = await check(client, {"household": inline})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "household.members.1.schooling"
    recorded = await client.post(
        "/api/assistance/v1/households", json=household(parent, student), headers=client.as_(CHECKER)
    )
    assert recorded.status_code == 422 and recorded.json()["errors"][0]["field"] == "members.1.schooling"
    student["schooling"] = "undergraduate"
    counted = await check(client, {"household": inline, "programmes": ["dibao"]})
    assert counted.status_code == 200 and counted.json()["counted_members"] == 2
    assert counted.json()["programmes"][0]["eligible"] is True
    half = {"area_code": "330212001005", "members": [member(age=45, disability_grade=2)]}
    no_kind = await check(client, {"household": half})
    assert no_kind.status_code == 422 and no_kind.json()["errors"][0]["field"] == "household.members.0.disability_kind"


async def test_a_day_of_2021_uses_the_one_and_a_half_times_rule_and_is_refused_for_want_of_a_2021_standard(client):
    """The plan gives the 2022 standard and the 1.5× 低保边缘 rule it replaced with 2×, but no 2021 standard: an
    appeal about 2021 is a 422 naming as_of and saying which figure is missing and why, never a made-up figure."""
    await load_policies(client)
    reader = staff("330200", "assistance.policies:read")

    async def multiplier(day):
        response = await client.get(
            "/api/assistance/v1/policies",
            headers=client.as_(reader),
            params={"as_of": day, "code": "dibao_marginal_multiplier"},
        )
        return response.json()["items"][0]["value"]

    assert (await multiplier("2021-06-01"), await multiplier("2021-12-31"), await multiplier("2022-01-01")) == (
        1500,
        1500,
        2000,
    )
    inline = {"area_code": "330212001005", "members": [member(age=50)]}
    response = await check(client, {"household": inline, "as_of": "2021-06-01"})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "as_of"
    detail = response.json()["detail"]
    assert "no rule was in force on 2021-06-01" in detail
    assert "dibao_standard (first version on record effective 2022-01-01" in detail and "1100元/月以上" in detail
    assert "dibao_marginal_multiplier" not in detail  # the 2021 rule is on record
    assert "110000" not in detail


async def test_no_invented_asset_limit_decides_until_a_cited_one_is_entered(client):
    """No source gives the asset limits: by default a household is decided on its income, and the asset criteria
    say no limit was applied. A cited limit entered for a district applies there."""
    await load_policies(client)
    inline = {
        "area_code": "330212001005",
        "members": [member(age=50)],
        "assets": [{"kind": "deposit", "value_fen": 5_000_000}, {"kind": "vehicle", "value_fen": 6_000_000}],
    }
    body = (await check(client, {"household": inline, "as_of": "2022-06-01", "programmes": ["dibao"]})).json()
    dibao = body["programmes"][0]
    assert dibao["eligible"] is True
    limits = {c["code"]: c for c in dibao["criteria"] if c["code"].endswith("within_limit")}
    assert (
        all(
            c["passed"] and c["threshold"] is None and c["parameters"] == [] and "no limit on record" in c["note"]
            for c in limits.values()
        )
        and len(limits) == 2
    )
    city = staff("330200", "assistance.policies:write", "assistance.policies:read")
    for code, value in (("dibao_financial_assets_limit", 2_640_000), ("dibao_vehicle_value_limit", 5_000_000)):
        added = await client.post(
            "/api/assistance/v1/policies",
            headers=client.as_(city),
            json={
                "code": code,
                "district_code": "330212",
                "value": value,
                "unit": "fen",
                "effective_on": "2022-01-01",
                "citation": "鄞州区低保家庭财产认定办法（测试）",
            },
        )
        assert added.status_code == 201, added.text
    limited = (await check(client, {"household": inline, "as_of": "2022-06-01", "programmes": ["dibao"]})).json()
    failed = [c["code"] for c in limited["programmes"][0]["criteria"] if not c["passed"]]
    assert failed == ["financial_assets_per_capita_within_limit", "vehicle_value_within_limit"]


async def test_the_grant_is_the_exact_gap_unless_a_rounding_rule_is_on_record(client):
    """No source says how the 低保金 is rounded, so by default it is the exact gap, to the fen."""
    await load_policies(client)
    inline = {
        "area_code": "330212001005",
        "members": [member(age=50, incomes=[{"kind": "pension", "item": "pension", "monthly_fen": 100_050}])],
    }
    body = (await check(client, {"household": inline, "as_of": "2022-06-01", "programmes": ["dibao"]})).json()
    assert body["programmes"][0]["amount_fen"] == 110_000 - 100_050


async def test_a_relative_sent_without_a_duty_of_support_is_refused_not_left_out(client):
    """A parent living with the applicant counts only with a legal duty of support (法定赡养、扶养、抚养义务): not
    presumed either way, so a check without it is a 422 naming the field, and with it the parent counts."""
    await load_policies(client)
    parent = member("parent", age=70)
    inline = {"area_code": "330212001005", "members": [member(age=45), parent]}
    response = await check(client, {"household": inline})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "household.members.1.legal_duty_of_support"
    parent["legal_duty_of_support"] = True
    assert (await check(client, {"household": inline})).json()["counted_members"] == 2
    parent["legal_duty_of_support"] = False
    assert (await check(client, {"household": inline})).json()["counted_members"] == 1


def test_a_child_not_yet_born_on_the_day_asked_about_is_no_member_and_receives_nothing():
    """Asked about an earlier day (an appeal), a baby recorded since counted as a member then, lowering the
    per-capita income, and was found eligible for 困境儿童 and 特困 (aged -1: "under 16") before being born."""
    baby = rules.Person(birth_on=AS_OF + dt.timedelta(days=200), relationship="child", parents="unsupported")
    result = rules.evaluate(facts(person(other_income_fen=150_000), baby), params(), AS_OF)
    assert result.counted_members == 1 and result.per_capita_income_fen == 150_000
    assert not programme(result, "dibao").eligible and programme(result, "dibao_marginal").eligible
    assert programme(result, "child_in_difficulty").persons == []
    assert [p.key for p in programme(result, "tekun").persons] == [""]  # the applicant only
    born = rules.evaluate(facts(person(other_income_fen=150_000), baby), params(), baby.birth_on)
    assert born.counted_members == 2 and programme(born, "child_in_difficulty").eligible


async def test_a_member_born_after_the_day_asked_about_counts_neither_in_the_check_nor_in_screening(client):
    await load_policies(client)
    h = await create(
        client, household(member(age=45), member("child", age=1, parents="unsupported")), CHECKER
    )  # the child was born about a year ago; the day asked about is in 2024
    applicant, child = (m["id"] for m in h["members"])
    await post(client, h["id"], "incomes", income(applicant, amount_fen=6 * 150_000), CHECKER)
    as_of = dt.date(2024, 7, 15)
    body = (await check(client, {"household_id": h["id"], "as_of": as_of.isoformat()})).json()
    assert body["counted_members"] == 1 and body["per_capita_monthly_income_fen"] == 150_000
    eligible = {p["code"] for p in body["programmes"] if p["eligible"]}
    assert "dibao_marginal" in eligible and "dibao" not in eligible and "child_in_difficulty" not in eligible
    async with client.app.state.database.sessionmaker() as session:
        params_then = await eligibility.parameters(session, "330212", as_of)
        hits = await batch.eligible(session, params_then, as_of)
    mine = {(hit.programme, hit.member_id) for hit in hits if hit.household_id == h["id"]}
    assert ("dibao_marginal", None) in mine and ("dibao", None) not in mine
    assert not any(member_id == child for _, member_id in mine)
