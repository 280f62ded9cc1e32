"""Eligibility rules as one pure function over plain data: no database, no clock, no HTTP.

`evaluate(facts, params, as_of)` returns, for every programme, each criterion with its code, pass or fail, the
value used, the threshold, the parameter versions and citations, and the sources of the inputs. The single
check (POST /eligibility-checks) and the whole-city screening feed it the same facts, so they cannot drift
apart. All comparisons are exact integer arithmetic in fen: a per-capita income is compared as
`total < standard × members`, never through a rounded average.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from services.assistance.households.membership import MemberFacts, age_on, membership

# The parameters the rules read; an `as_of` on which any of them has no version in force cannot be decided.
REQUIRED_PARAMETERS = (
    "dibao_standard",
    "dibao_marginal_multiplier",
    "tekun_support_standard",
    "orphan_institution_standard",
    "orphan_scattered_standard",
    "children_in_difficulty_standard",
    "disability_living_subsidy",
    "disability_care_subsidy",
    "employment_cost_deduction",
    "dibao_grant_rounding",
)
# Asset limits are the city's to set and no source gives them: applied only where a version is on record (a cited
# one), never an invented figure that would decide who is eligible. The criterion says when none was applied.
ASSET_LIMITS = ("dibao_financial_assets_limit", "dibao_vehicle_value_limit")
NO_LIMIT_ON_RECORD = "no limit on record (no source gives one): not applied"

ADULT_AGE, CHILD_AGE_LIMIT, ELDER_AGE, WORKING_AGE_FROM = 18, 16, 60, 18
SEVERE_GRADES = frozenset({1, 2})  # 一级、二级残疾 (重度): the care subsidy
# 无劳动能力 for 特困 (特困人员认定办法, 民发〔2021〕43号, 第七条): aged 60 or over; under 16; disabled of a listed kind
# up to the listed grade (一、二、三级智力、精神残疾, 一、二级肢体残疾, 一级视力残疾); and "other situations the
# province sets" (such as a serious illness), which staff record as the member's labour capacity `none`.
NO_LABOUR_CAPACITY_GRADES = {"intellectual": 3, "mental": 3, "physical": 2, "visual": 1}  # kind: least severe grade
FINANCIAL_ASSETS = frozenset({"deposit", "securities"})
# 支出型 (expenditure-type) hardship: optional, decided only on a day both parameters are in force.
EXPENDITURE_PARAMETERS = ("expenditure_medical_share", "expenditure_income_multiplier")
# The assessment period (家庭收入计算期): the monthly income is the income of the whole months before `as_of`'s
# month (the months that have ended, 申请前N个月), averaged over them. No source gives its length: without a
# version, one month (the last month before the day asked about), the neutral reading that averages in no other
# month and rounds nothing (docs/rules.md).
INCOME_PERIOD = "income_assessment_months"
DEFAULT_INCOME_MONTHS = 1


def income_months(params: dict[str, Param]) -> int:
    """The length of the assessment period in force (`INCOME_PERIOD`), one month when none is on record."""
    period = params.get(INCOME_PERIOD)
    return period.value if period is not None else DEFAULT_INCOME_MONTHS


def month_index(day: dt.date) -> int:
    """Months since year 0: consecutive months are consecutive integers (the screening computes it in SQL)."""
    return day.year * 12 + day.month - 1


def assessment_months(as_of: dt.date, period_months: int) -> tuple[int, int]:
    """The assessment period as (first, last) `month_index`: the `period_months` whole months before `as_of`'s
    month (its own month has not ended: its income is not known in full)."""
    last = month_index(as_of) - 1
    return last - period_months + 1, last


def overlap(start: int, months: int, first: int, last: int) -> int:
    """How many of the `months` months from month `start` fall in the months `first` to `last`."""
    return max(0, min(start + months - 1, last) - max(start, first) + 1)


def months_in_period(period_from: dt.date, months: int, as_of: dt.date, period_months: int) -> int:
    """How many of the `months` whole months from `period_from` fall in the assessment period: the
    `period_months` whole months before `as_of`'s month. An income that ended before it, or that begins in
    `as_of`'s month or later, has none."""
    return overlap(month_index(period_from), months, *assessment_months(as_of, period_months))


def period_income(amounts: list[tuple[int, int]], period_months: int) -> int:
    """The monthly income over the assessment period: (monthly figure, months of it in the period) summed, divided
    by the period's months and rounded down to the fen (as an income's monthly figure is). With a one-month period
    it is the sum of the figures of the incomes that cover the month before `as_of`'s, exactly."""
    return sum(monthly * months for monthly, months in amounts) // period_months


@dataclass(frozen=True)
class Param:
    code: str
    value: int
    unit: str
    version_id: int
    citation: str
    is_assumption: bool = False


@dataclass(frozen=True)
class Person(MemberFacts):
    key: str = ""  # member id (stored) or position (inline)
    id_number_masked: str = ""
    disability_grade: int | None = None
    disability_kind: str | None = None
    parents: str = "present"
    in_institution: bool = False
    wages_fen: int = 0  # counted (non-exempt) monthly wages over the assessment period (`period_income`)
    other_income_fen: int = 0  # other counted (non-exempt) monthly income, likewise


@dataclass(frozen=True)
class HouseholdFacts:
    district_code: str
    people: tuple[Person, ...]
    financial_assets_fen: int = 0
    vehicle_value_fen: int = 0
    income_sources: tuple[str, ...] = ()
    asset_sources: tuple[str, ...] = ()
    member_source: str = "household register (members as recorded)"
    medical_expense_fen: int = 0  # counted members' rigid medical expenses, per month (past 12 months / 12)
    medical_sources: tuple[str, ...] = ()


@dataclass
class Criterion:
    code: str
    passed: bool
    value: int | None
    threshold: int | None
    unit: str
    parameters: list[Param] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    note: str = ""


@dataclass
class PersonResult:
    key: str
    id_number_masked: str
    eligible: bool
    criteria: list[Criterion]


@dataclass
class ProgrammeResult:
    code: str
    eligible: bool
    criteria: list[Criterion]
    persons: list[PersonResult] | None = None  # programmes granted to individuals
    amount_fen: int | None = None  # 低保: the household's monthly grant; others: the standard per person
    amount_unit: str | None = None
    amount_parameters: list[Param] = field(default_factory=list)


@dataclass
class Evaluation:
    as_of: dt.date
    counted_members: int
    household_income_fen: int  # monthly, counted members, after the employment cost deduction
    per_capita_income_fen: int | None  # rounded down; decisions compare totals exactly
    programmes: list[ProgrammeResult]


def ceil_to(amount: int, step: int) -> int:
    return -(-amount // step) * step if step > 1 else amount


def employment_deduction(person: Person, deduction: int) -> int:
    """就业成本: a fixed amount per month off a working member's wages, never more than the wages."""
    return min(person.wages_fen, deduction)


def counted_people(facts: HouseholdFacts, as_of: dt.date) -> list[Person]:
    return [p for p in facts.people if membership(p, as_of)[0]]


def household_income(people: list[Person], deduction: int) -> int:
    return sum(p.wages_fen - employment_deduction(p, deduction) + p.other_income_fen for p in people)


def no_labour_capacity(person: Person, as_of: dt.date) -> tuple[bool, str]:
    age = age_on(person.birth_on, as_of)
    if age >= ELDER_AGE:
        return True, f"aged {age} (60 or over)"
    if age < CHILD_AGE_LIMIT:
        return True, f"aged {age} (under 16)"
    if listed_disability(person):
        return True, f"grade {person.disability_grade} {person.disability_kind} disability (listed, 第七条(三))"
    if person.labour_capacity == "none":
        return True, f"aged {age}, recorded as having no labour capacity (第七条(四), evidence on file)"
    return False, f"aged {age}, labour capacity {person.labour_capacity}, no listed disability"


def listed_disability(person: Person) -> bool:
    listed = NO_LABOUR_CAPACITY_GRADES.get(person.disability_kind or "")
    return listed is not None and person.disability_grade is not None and person.disability_grade <= listed


def able_supporters(person: Person, people: tuple[Person, ...], as_of: dt.date) -> int:
    """Other recorded people of working age with full labour capacity, counted or not (an adult son living on his
    own still owes support, 赡养义务): presumed able to support. Excluded people (in prison, missing) cannot."""
    return sum(
        1
        for p in people
        if p is not person
        and p.exclusion is None
        and p.labour_capacity == "full"
        and WORKING_AGE_FROM <= age_on(p.birth_on, as_of) < ELDER_AGE
    )


def _income_and_asset_criteria(facts: HouseholdFacts, n: int, params: dict[str, Param]) -> list[Criterion]:
    assets_limit, vehicle_limit = params.get("dibao_financial_assets_limit"), params.get("dibao_vehicle_value_limit")
    financial_note = "deposits and securities of the household, per counted member"
    return [
        Criterion(
            "financial_assets_per_capita_within_limit",
            n > 0 and (assets_limit is None or facts.financial_assets_fen <= assets_limit.value * n),
            facts.financial_assets_fen // n if n else None,
            assets_limit and assets_limit.value,
            "fen",
            [assets_limit] if assets_limit else [],
            list(facts.asset_sources),
            financial_note if assets_limit else f"{financial_note}; {NO_LIMIT_ON_RECORD}",
        ),
        Criterion(
            "vehicle_value_within_limit",
            vehicle_limit is None or facts.vehicle_value_fen <= vehicle_limit.value,
            facts.vehicle_value_fen,
            vehicle_limit and vehicle_limit.value,
            "fen",
            [vehicle_limit] if vehicle_limit else [],
            list(facts.asset_sources),
            "" if vehicle_limit else NO_LIMIT_ON_RECORD,
        ),
    ]


def _members_criterion(facts: HouseholdFacts, n: int) -> Criterion:
    return Criterion(
        "has_counted_members",
        n >= 1,
        n,
        1,
        "persons",
        [],
        [facts.member_source],
        "members who count (共同生活的家庭成员)",
    )


def _person_programme(code: str, facts: HouseholdFacts, as_of: dt.date, amount: Param, checks) -> ProgrammeResult:
    """A programme granted to individuals: `checks(person)` gives that person's criteria."""
    persons = []
    for person in facts.people:
        if person.exclusion is not None or person.birth_on > as_of:  # excluded, or not yet born that day
            continue
        criteria = checks(person)
        if criteria is None:
            continue
        persons.append(PersonResult(person.key, person.id_number_masked, all(c.passed for c in criteria), criteria))
    return ProgrammeResult(code, any(p.eligible for p in persons), [], persons, amount.value, amount.unit, [amount])


def _per_capita(total: int, n: int) -> int | None:
    return total // n if n else None


def _period(params: dict[str, Param]) -> tuple[list[Param], str]:
    """The assessment period's version (none when no version is on record) and what the income figure covers."""
    period = params.get(INCOME_PERIOD)
    months = income_months(params)
    text = f"monthly average over the {months} whole month(s) before the month of as_of"
    return ([period] if period else []), (text if period else f"{text} (no period on record: one month)")


def _dibao(facts: HouseholdFacts, params: dict[str, Param], n: int, total: int) -> ProgrammeResult:
    """低保: per-capita income below the standard; grant = (standard − per-capita income) × members."""
    standard, rounding = params["dibao_standard"], params["dibao_grant_rounding"]
    deduction = params["employment_cost_deduction"]
    period, covers = _period(params)
    below = Criterion(
        "per_capita_income_below_standard",
        n > 0 and total < standard.value * n,
        _per_capita(total, n),
        standard.value,
        "fen_per_month",
        [standard, deduction, *period],
        list(facts.income_sources),
        f"counted monthly income after the employment cost deduction, per counted member; {covers}",
    )
    criteria = [_members_criterion(facts, n), below, *_income_and_asset_criteria(facts, n, params)]
    eligible = all(c.passed for c in criteria)
    grant = ceil_to(standard.value * n - total, rounding.value) if eligible else 0
    return ProgrammeResult("dibao", eligible, criteria, None, grant, "fen_per_month", [standard, rounding])


def _dibao_marginal(facts: HouseholdFacts, params: dict[str, Param], n: int, total: int) -> ProgrammeResult:
    """低保边缘: income from the standard up to the multiplier (‰) times the standard."""
    standard, multiplier = params["dibao_standard"], params["dibao_marginal_multiplier"]
    deduction, income_sources = params["employment_cost_deduction"], list(facts.income_sources)
    period, covers = _period(params)
    limit_total = standard.value * multiplier.value * n  # in fen × 1000
    criteria = [
        _members_criterion(facts, n),
        Criterion(
            "per_capita_income_not_below_standard",
            n > 0 and total >= standard.value * n,
            _per_capita(total, n),
            standard.value,
            "fen_per_month",
            [standard, deduction, *period],
            income_sources,
            covers,
        ),
        Criterion(
            "per_capita_income_within_marginal_limit",
            n > 0 and total * 1000 <= limit_total,
            _per_capita(total, n),
            standard.value * multiplier.value // 1000,
            "fen_per_month",
            [standard, multiplier, deduction, *period],
            income_sources,
            f"limit = standard × multiplier (‰ / 1000); {covers}",
        ),
        *_income_and_asset_criteria(facts, n, params),
    ]
    return ProgrammeResult("dibao_marginal", all(c.passed for c in criteria), criteria)


def _tekun(facts: HouseholdFacts, params: dict[str, Param], as_of: dt.date) -> ProgrammeResult:
    """特困供养: a person with no labour capacity, no income source and no one able to support them."""
    standard, member_source = params["dibao_standard"], [facts.member_source]
    period, covers = _period(params)

    def checks(person: Person) -> list[Criterion]:
        unable, why = no_labour_capacity(person, as_of)
        own = person.wages_fen + person.other_income_fen
        supporters = able_supporters(person, facts.people, as_of)
        return [
            Criterion(
                "no_labour_capacity", unable, age_on(person.birth_on, as_of), None, "years", [], member_source, why
            ),
            # 无生活来源 (特困人员认定办法 第八条): income below the local 低保 standard. Its property condition is
            # the city's to set (特困人员财产状况规定) and none is on record, so none is applied.
            Criterion(
                "no_income_source",
                own < standard.value,
                own,
                standard.value,
                "fen_per_month",
                [standard, *period],
                list(facts.income_sources),
                f"own monthly income below the 低保 standard (无生活来源); {covers}",
            ),
            Criterion(
                "no_supporter_able_to_support",
                supporters == 0,
                supporters,
                0,
                "persons",
                [],
                member_source,
                "other people of the household aged 18–59 with full labour capacity",
            ),
        ]

    return _person_programme("tekun", facts, as_of, params["tekun_support_standard"], checks)


def _under_18(facts: HouseholdFacts, person: Person, as_of: dt.date) -> Criterion:
    age = age_on(person.birth_on, as_of)
    return Criterion("under_18", age < ADULT_AGE, age, ADULT_AGE, "years", [], [facts.member_source])


def _orphan(
    facts: HouseholdFacts, params: dict[str, Param], as_of: dt.date, *, in_institution: bool
) -> ProgrammeResult:
    """集中供养孤儿 (`in_institution`) or 散居孤儿: a minor whose parents are both dead or missing."""
    code = "orphan_institution" if in_institution else "orphan_scattered"
    member_source = [facts.member_source]

    def checks(person: Person) -> list[Criterion] | None:
        if person.parents != "orphan":
            return None
        return [
            _under_18(facts, person, as_of),
            Criterion("orphan", True, None, None, "", [], member_source, "孤儿: both parents dead or missing"),
            Criterion(
                "lives_in_institution" if in_institution else "lives_outside_institution",
                person.in_institution == in_institution,
                None,
                None,
                "",
                [],
                member_source,
            ),
        ]

    return _person_programme(code, facts, as_of, params[f"{code}_standard"], checks)


def _child_in_difficulty(facts: HouseholdFacts, params: dict[str, Param], as_of: dt.date) -> ProgrammeResult:
    """困境儿童: a minor de facto unsupported (事实无人抚养)."""

    def checks(person: Person) -> list[Criterion] | None:
        if person.parents != "unsupported":
            return None
        return [
            _under_18(facts, person, as_of),
            Criterion("de_facto_unsupported", True, None, None, "", [], [facts.member_source], "事实无人抚养儿童"),
        ]

    return _person_programme("child_in_difficulty", facts, as_of, params["children_in_difficulty_standard"], checks)


def _disability_living_subsidy(
    facts: HouseholdFacts, params: dict[str, Param], as_of: dt.date, *, dibao_or_marginal: bool
) -> ProgrammeResult:
    """困难残疾人生活补贴: a disabled person in a 低保 or 低保边缘 household, that is one of its counted members: a
    person recorded with the household but not counted (an adult child living on their own) is no part of the
    household the income test found poor, their own income was never tested, and 低保 enrols counted members only."""

    def checks(person: Person) -> list[Criterion] | None:
        if person.disability_grade is None:
            return None
        counted, basis = membership(person, as_of)
        return [
            Criterion(
                "has_disability_certificate", True, person.disability_grade, None, "grade", [], [facts.member_source]
            ),
            Criterion(
                "household_dibao_or_marginal",
                dibao_or_marginal,
                None,
                None,
                "",
                [],
                list(facts.income_sources),
                "困难残疾人: in a 低保 or 低保边缘 household",
            ),
            Criterion("counted_member", counted, None, None, "", [], [facts.member_source], basis),
        ]

    return _person_programme("disability_living_subsidy", facts, as_of, params["disability_living_subsidy"], checks)


def _disability_care_subsidy(facts: HouseholdFacts, params: dict[str, Param], as_of: dt.date) -> ProgrammeResult:
    """重度残疾人护理补贴: a severely disabled person (grade 1 or 2)."""

    def checks(person: Person) -> list[Criterion] | None:
        if person.disability_grade is None:
            return None
        return [
            Criterion(
                "severe_disability",
                person.disability_grade in SEVERE_GRADES,
                person.disability_grade,
                2,
                "grade",
                [],
                [facts.member_source],
                "重度残疾: grade 1 or 2",
            )
        ]

    return _person_programme("disability_care_subsidy", facts, as_of, params["disability_care_subsidy"], checks)


def evaluate(facts: HouseholdFacts, params: dict[str, Param], as_of: dt.date) -> Evaluation:
    people = counted_people(facts, as_of)
    n = len(people)
    total = household_income(people, params["employment_cost_deduction"].value)
    dibao, marginal = _dibao(facts, params, n, total), _dibao_marginal(facts, params, n, total)
    programmes = [
        dibao,
        marginal,
        _tekun(facts, params, as_of),
        _orphan(facts, params, as_of, in_institution=True),
        _orphan(facts, params, as_of, in_institution=False),
        _child_in_difficulty(facts, params, as_of),
        _disability_living_subsidy(facts, params, as_of, dibao_or_marginal=dibao.eligible or marginal.eligible),
        _disability_care_subsidy(facts, params, as_of),
    ]
    return Evaluation(as_of, n, total, _per_capita(total, n), programmes)


@dataclass
class ExpenditureResult:
    """支出型: a household whose income is above the line, but not once its rigid medical expenses are paid."""

    eligible: bool
    criteria: list[Criterion]
    medical_expense_fen: int
    income_after_medical_fen: int
    per_capita_after_medical_fen: int | None
    income_type: bool  # already eligible for 低保 on income alone (收入型): 支出型 adds nothing


def expenditure_type(
    facts: HouseholdFacts, params: dict[str, Param], evaluation: Evaluation
) -> ExpenditureResult | None:
    """The 支出型 (expenditure-type) decision, or None on a day its parameters were not in force.

    Criteria: counted members; rigid medical expenses (out of pocket, the past 12 months spread per month) of at
    least `expenditure_medical_share` (‰) of the household's counted monthly income (any expense when there is no
    income); the household income less those expenses, per counted member, below `expenditure_income_multiplier`
    (‰) × the 低保 standard; and the 低保 asset limits. Exact integer comparisons, as everywhere."""
    if any(code not in params for code in EXPENDITURE_PARAMETERS):
        return None
    n, total, medical = evaluation.counted_members, evaluation.household_income_fen, facts.medical_expense_fen
    share, multiplier = params["expenditure_medical_share"], params["expenditure_income_multiplier"]
    standard, deduction = params["dibao_standard"], params["employment_cost_deduction"]
    after = total - medical
    sources = list(facts.medical_sources)
    period, covers = _period(params)
    criteria = [
        _members_criterion(facts, n),
        Criterion(
            "medical_expenses_at_least_share_of_income",
            medical > 0 and medical * 1000 >= total * share.value,
            medical,
            total * share.value // 1000,
            "fen_per_month",
            [share, deduction, *period],
            sources + list(facts.income_sources),
            "rigid medical expenses of the counted members (past 12 months / 12) against the share of the "
            f"household's counted monthly income; threshold = income × share (‰ / 1000); income: {covers}",
        ),
        Criterion(
            "per_capita_income_after_medical_below_line",
            n > 0 and after * 1000 < standard.value * multiplier.value * n,
            after // n if n else None,
            standard.value * multiplier.value // 1000,
            "fen_per_month",
            [standard, multiplier, deduction, *period],
            sources + list(facts.income_sources),
            "(counted income − rigid medical expenses) per counted member; line = 低保 standard × multiplier; "
            f"income: {covers}",
        ),
        *_income_and_asset_criteria(facts, n, params),
    ]
    income_type = n > 0 and total < standard.value * n
    return ExpenditureResult(
        all(c.passed for c in criteria), criteria, medical, after, after // n if n else None, income_type
    )
