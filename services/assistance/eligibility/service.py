"""Eligibility checks: gather the facts (stored or inline) and the parameters in force, then apply the rules."""

from __future__ import annotations

import dataclasses
import datetime as dt
from types import SimpleNamespace

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Integer,
    String,
    bindparam,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.assessment import service as assessment
from services.assistance.assessment.models import Asset, Income, MedicalExpense
from services.assistance.assessment.schemas import EXEMPT_ITEMS, ITEMS_BY_KIND
from services.assistance.eligibility import rules
from services.assistance.eligibility.schemas import (
    CriterionOut,
    EligibilityCheckIn,
    EligibilityOut,
    ExpenditureTypeOut,
    InlineHousehold,
    ParameterUsed,
    PersonResultOut,
    ProgrammeResultOut,
)
from services.assistance.households import service as households
from services.assistance.households.membership import membership
from services.assistance.households.models import Member
from services.assistance.policies import service as policies
from services.assistance.policies.models import PolicyVersion
from services.assistance.programmes import service as programmes
from services.assistance.programmes.models import Enrolment
from shared import clock
from shared.errors import InvalidInput, NotFound
from shared.identity import Principal
from shared.idnumbers import mask_id_number, parse_id_number
from shared.programmes import PROGRAMMES
from shared.stamped import StampedCache


async def parameters(session: AsyncSession, district_code: str, as_of: dt.date) -> dict[str, rules.Param]:
    """The versions in force on `as_of` for the district; a day before any rule is a 422 on `as_of`."""
    try:
        versions = await policies.in_force(session, as_of=as_of, district_code=district_code)
    except NotFound:
        versions = []
    found = {v.code: rules.Param(v.code, v.value, v.unit, v.id, v.citation, v.is_assumption) for v in versions}
    missing = [c for c in rules.REQUIRED_PARAMETERS if c not in found]
    if missing:
        # Say why for each: a figure no source gives for that day is never made up (seed.py ships the years the
        # plan gives), so name the first version on record and where it comes from.
        first = await policies.first_versions(session, missing, district_code)
        why = [
            f"{code} (first version on record effective {first[code].effective_on.isoformat()}, from "
            f"{first[code].citation}; no source on record gives a figure before that day)"
            if code in first
            else f"{code} (no version on record)"
            for code in missing
        ]
        raise InvalidInput(
            "as_of",
            "no rule was in force on {as_of} for: {why}. Add a version with its citation (POST /policies) to decide that day",
            as_of=as_of.isoformat(),
            why="; ".join(why),
        )
    return found


# Parameters in force per (district, day), kept under the policy table's stamp (its row count, highest id and sum
# of values, read in the same statement as the household's figures; versions are only ever added, no route updates
# or deletes one): see shared.stamped.
_PARAMETERS: StampedCache[dict[str, rules.Param]] = StampedCache(256)


async def parameters_for_stamp(
    session: AsyncSession, stamp: tuple, district_code: str, as_of: dt.date
) -> dict[str, rules.Param]:
    """`parameters`, from this process's cache when the policy table's stamp is the one they were read under."""
    found = await _PARAMETERS.get((district_code, as_of), stamp, lambda: parameters(session, district_code, as_of))
    return dict(found)


def _source_text(kind: str, name: str, on: dt.date) -> str:
    return f"{'department' if kind == 'department' else 'applicant'}: {name}, {on.isoformat()}"


def in_period(incomes: list[Income], as_of: dt.date, period_months: int) -> list[tuple[Income, int]]:
    """The incomes with months in the assessment period (`rules.months_in_period`), each with how many: an income
    whose period ended before it is not counted, however recently it was recorded."""
    counted = ((i, rules.months_in_period(i.period_from, i.months, as_of, period_months)) for i in incomes)
    return [(i, months) for i, months in counted if months]


def person_of(member: Member, incomes: list[tuple[Income, int]], period_months: int) -> rules.Person:
    """The member with their counted (non-exempt) wages and other income over the assessment period: `incomes` as
    `in_period` gives them."""
    own = [(i, months) for i, months in incomes if i.member_id == member.id and not i.exempt]
    wages = rules.period_income([(i.monthly_fen, m) for i, m in own if i.kind == "wages"], period_months)
    other = rules.period_income([(i.monthly_fen, m) for i, m in own if i.kind != "wages"], period_months)
    return rules.Person(
        **dataclasses.asdict(households.facts_of(member)),
        key=str(member.id),
        id_number_masked=mask_id_number(member.id_number),
        disability_grade=member.disability_grade,
        disability_kind=member.disability_kind,
        parents=member.parents,
        in_institution=member.in_institution,
        wages_fen=wages,
        other_income_fen=other,
    )


def facts_from_rows(
    district_code: str,
    members: list[Member],
    incomes: list[Income],
    assets: list[Asset],
    medical: tuple[int, list[MedicalExpense]] = (0, []),
    *,
    as_of: dt.date,
    period_months: int,
) -> rules.HouseholdFacts:
    """The facts the rules read on `as_of`: the incomes over the assessment period of `period_months` months
    (`rules.income_months` of the parameters in force), with the sources of those alone."""
    medical_fen, expenses = medical
    counted = in_period(incomes, as_of, period_months)
    return rules.HouseholdFacts(
        medical_expense_fen=medical_fen,
        medical_sources=tuple(sorted({_source_text(e.source_kind, e.source_name, e.source_on) for e in expenses})),
        district_code=district_code,
        people=tuple(person_of(m, counted, period_months) for m in members),
        financial_assets_fen=sum(a.value_fen for a in assets if a.kind in rules.FINANCIAL_ASSETS),
        vehicle_value_fen=sum(a.value_fen for a in assets if a.kind == "vehicle"),
        income_sources=tuple(sorted({_source_text(i.source_kind, i.source_name, i.source_on) for i, _ in counted})),
        asset_sources=tuple(sorted({_source_text(a.source_kind, a.source_name, a.source_on) for a in assets})),
    )


def facts_inline(data: InlineHousehold) -> tuple[rules.HouseholdFacts, list[str]]:
    people, numbers, income_sources, asset_sources = [], [], set(), set()
    if sum(m.relationship == "applicant" for m in data.members) != 1:
        raise InvalidInput("household.members", "exactly one member is the applicant (申请人)")
    for index, m in enumerate(data.members):
        id_number = parse_id_number(m.id_number, field=f"household.members.{index}.id_number")
        households.check_member_facts(m, f"household.members.{index}")
        wages = other = 0
        for j, income in enumerate(m.incomes):
            if income.item not in ITEMS_BY_KIND[income.kind]:
                raise InvalidInput(
                    f"household.members.{index}.incomes.{j}.item",
                    "{item} is not an item of {income_kind} income",
                    item=income.item,
                    income_kind=income.kind,
                )
            if income.item in EXEMPT_ITEMS:
                continue
            if income.kind == "wages":
                wages += income.monthly_fen
            else:
                other += income.monthly_fen
            s = income.source
            income_sources.add(_source_text(s.kind, s.name, s.obtained_on) if s else "inline, no source given")
        numbers.append(id_number.value)
        people.append(
            rules.Person(
                birth_on=id_number.birth_date,
                relationship=m.relationship,
                schooling=m.schooling,
                full_time_student=m.full_time_student,
                labour_capacity=m.labour_capacity,
                lives_together=m.lives_together,
                legal_duty_of_support=bool(m.legal_duty_of_support),
                exclusion=m.exclusion,
                key=str(index),
                id_number_masked=id_number.masked,
                disability_grade=m.disability_grade,
                disability_kind=m.disability_kind,
                parents=m.parents,
                in_institution=m.in_institution,
                wages_fen=wages,
                other_income_fen=other,
            )
        )
    for a in data.assets:
        asset_sources.add(
            _source_text(a.source.kind, a.source.name, a.source.obtained_on) if a.source else "inline, no source given"
        )
    medical_sources = {
        _source_text(e.source.kind, e.source.name, e.source.obtained_on) if e.source else "inline, no source given"
        for e in data.medical_expenses
    }
    facts = rules.HouseholdFacts(
        medical_expense_fen=sum(e.monthly_fen for e in data.medical_expenses),
        medical_sources=tuple(sorted(medical_sources)),
        district_code=data.area_code[:6],
        people=tuple(people),
        financial_assets_fen=sum(a.value_fen for a in data.assets if a.kind in rules.FINANCIAL_ASSETS),
        vehicle_value_fen=sum(a.value_fen for a in data.assets if a.kind == "vehicle"),
        income_sources=tuple(sorted(income_sources)),
        asset_sources=tuple(sorted(asset_sources)),
        member_source="given inline by the caller",
    )
    return facts, numbers


async def stored_facts(
    session: AsyncSession, household_id: int, as_of: dt.date, principal: Principal
) -> tuple[rules.HouseholdFacts, set[str], dict[str, rules.Param]]:
    """A recorded household's facts on `as_of`, the programmes its members receive then and the parameters in
    force: three statements (the household, its members, then its figures, enrolments and the policy table's
    stamp together), and the parameters' when the stamp is not the one they were cached under. The parameters
    come first: the assessment period they set decides which incomes count."""
    household = await households.get_visible(session, principal, household_id)
    members = await households.members_of(session, household.id)
    rows = await _figures_and_enrolments(session, household.id, as_of)
    stamp = next((r.member_id, r.amount, r.kind) for r in rows if r.tag == "policies")
    params = await parameters_for_stamp(session, stamp, household.area_code[:6], as_of)
    facts = _facts_of(household, members, rows, as_of, rules.income_months(params))
    return facts, {row.kind for row in rows if row.tag == "enrolment"}, params


def _figures_select():
    """One row per income, asset and medical expense of the household recorded on `as_of`, and per programme a
    member receives on `as_of` (their ID number's blind index enrolled), tagged, in one statement: the same rows
    `assessment.incomes_of`, `assets_of`, `medical_expenses_of` and `programmes.current_of` read one by one.
    Its parameters: `household_id`, `as_of`."""

    def none(type_):
        return cast(null(), type_)

    household_id = bindparam("household_id", type_=Integer)
    as_of = bindparam("as_of", type_=Date)

    return union_all(
        # Figures recorded for periods that began after the day asked about did not exist then; of the others,
        # `_facts_of` counts those with months in the assessment period (`in_period`).
        # An income's monthly figure is stored encrypted: it comes as its own column (`sealed`, decrypted by the
        # column type as the rows are read), the other rows' figures as `amount`.
        select(
            literal("income", String).label("tag"),
            Income.member_id.label("member_id"),
            Income.kind.label("kind"),
            none(BigInteger).label("amount"),
            Income.monthly_fen.label("sealed"),
            Income.exempt.label("exempt"),
            Income.period_from.label("period_from"),
            Income.months.label("months"),
            Income.source_kind.label("source_kind"),
            Income.source_name.label("source_name"),
            Income.source_on.label("source_on"),
        ).where(Income.household_id == household_id, Income.period_from <= as_of),
        select(
            literal("asset", String),
            none(Integer),
            Asset.kind,
            cast(Asset.value_fen, BigInteger),
            none(String),
            none(Boolean),
            none(Date),
            none(Integer),
            Asset.source_kind,
            Asset.source_name,
            Asset.source_on,
        ).where(Asset.household_id == household_id, Asset.source_on <= as_of),
        select(
            literal("medical", String),
            MedicalExpense.member_id,
            none(String),
            cast(MedicalExpense.amount_fen, BigInteger),
            none(String),
            none(Boolean),
            MedicalExpense.period_from,
            none(Integer),
            MedicalExpense.source_kind,
            MedicalExpense.source_name,
            MedicalExpense.source_on,
        ).where(MedicalExpense.household_id == household_id),
        select(
            literal("enrolment", String),
            Member.id,
            Enrolment.programme,
            none(BigInteger),
            none(String),
            none(Boolean),
            none(Date),
            none(Integer),
            none(String),
            none(String),
            none(Date),
        )
        .join(Enrolment, Enrolment.id_number_index == Member.id_number_index)
        .where(
            Member.household_id == household_id,
            Enrolment.since_on <= as_of,
            or_(Enrolment.until_on.is_(None), Enrolment.until_on > as_of),
        ),
        # The policy table's stamp (see _PARAMETERS): row count, highest id, sum of values.
        select(
            literal("policies", String),
            cast(func.count(PolicyVersion.id), Integer),
            cast(func.coalesce(func.sum(PolicyVersion.value), 0), String),
            cast(func.coalesce(func.max(PolicyVersion.id), 0), BigInteger),
            none(String),
            none(Boolean),
            none(Date),
            none(Integer),
            none(String),
            none(String),
            none(Date),
        ),
    )


# Built once, run with bound values: building this union of five selects, and the cache key SQLAlchemy derives from
# a new statement, cost 1.6-4.5 ms of CPU per eligibility check (docs/benchmarks/eldercare.md, issue 18).
_FIGURES = _figures_select()


async def _figures_and_enrolments(session: AsyncSession, household_id: int, as_of: dt.date) -> list:
    return list(await session.execute(_FIGURES, {"household_id": household_id, "as_of": as_of}))


def _facts_of(household, members: list[Member], rows: list, as_of: dt.date, period_months: int) -> rules.HouseholdFacts:
    def source(row) -> dict:
        return {"source_kind": row.source_kind, "source_name": row.source_name, "source_on": row.source_on}

    incomes = [
        SimpleNamespace(
            member_id=r.member_id,
            kind=r.kind,
            monthly_fen=r.sealed,
            exempt=r.exempt,
            period_from=r.period_from,
            months=r.months,
            **source(r),
        )
        for r in rows
        if r.tag == "income"
    ]
    assets = [SimpleNamespace(kind=r.kind, value_fen=r.amount, **source(r)) for r in rows if r.tag == "asset"]
    # 支出型: the counted members' rigid medical expenses that began in the 12 months up to `as_of`.
    counted = {m.id for m in members if membership(households.facts_of(m), as_of)[0]}
    expenses = [
        e
        for e in (
            SimpleNamespace(member_id=r.member_id, amount_fen=r.amount, period_from=r.period_from, **source(r))
            for r in rows
            if r.tag == "medical"
        )
        if e.member_id in counted and assessment.in_medical_window(e, as_of)
    ]
    medical = (assessment.medical_monthly(expenses, counted, as_of), expenses)
    return facts_from_rows(
        household.area_code[:6], members, incomes, assets, medical, as_of=as_of, period_months=period_months
    )


async def facts_of_household(
    session: AsyncSession, household, as_of: dt.date, period_months: int
) -> tuple[rules.HouseholdFacts, list[str]]:
    """The household's facts as recorded on `as_of`, incomes over an assessment period of `period_months` (no
    access check: callers have done it), and its members' ID numbers."""
    members = await households.members_of(session, household.id)
    rows = await _figures_and_enrolments(session, household.id, as_of)
    return _facts_of(household, members, rows, as_of, period_months), [m.id_number for m in members]


async def check(session: AsyncSession, principal: Principal, data: EligibilityCheckIn) -> EligibilityOut:
    if (data.household_id is None) == (data.household is None):
        raise InvalidInput("household_id", "give either household_id (a recorded household) or household (inline)")
    as_of = data.as_of or clock.today()
    if data.household is not None:
        principal.check_covers(data.household.area_code)
        facts, numbers = facts_inline(data.household)
        receiving = set().union(*(await programmes.current_of(session, numbers, as_of)).values()) if numbers else set()
        params = await parameters(session, facts.district_code, as_of)
    else:
        facts, receiving, params = await stored_facts(session, data.household_id, as_of, principal)
    result = rules.evaluate(facts, params, as_of)
    expenditure = rules.expenditure_type(facts, params, result)
    wanted = set(data.programmes or PROGRAMMES)
    return EligibilityOut(
        as_of=as_of,
        district_code=facts.district_code,
        household_id=data.household_id,
        counted_members=result.counted_members,
        household_monthly_income_fen=result.household_income_fen,
        per_capita_monthly_income_fen=result.per_capita_income_fen,
        programmes=[
            ProgrammeResultOut(
                code=p.code,
                eligible=p.eligible,
                receiving=p.code in receiving,
                criteria=[CriterionOut.model_validate(c) for c in p.criteria],
                persons=None
                if p.persons is None
                else [
                    PersonResultOut(
                        member=r.key,
                        id_number_masked=r.id_number_masked,
                        eligible=r.eligible,
                        criteria=[CriterionOut.model_validate(c) for c in r.criteria],
                    )
                    for r in p.persons
                ],
                amount_fen=p.amount_fen,
                amount_unit=p.amount_unit,
                amount_parameters=[ParameterUsed.model_validate(x) for x in p.amount_parameters],
            )
            for p in result.programmes
            if p.code in wanted
        ],
        expenditure_type=None
        if expenditure is None
        else ExpenditureTypeOut(
            eligible=expenditure.eligible,
            income_type=expenditure.income_type,
            medical_expense_monthly_fen=expenditure.medical_expense_fen,
            household_income_after_medical_fen=expenditure.income_after_medical_fen,
            per_capita_income_after_medical_fen=expenditure.per_capita_after_medical_fen,
            criteria=[CriterionOut.model_validate(c) for c in expenditure.criteria],
        ),
    )
