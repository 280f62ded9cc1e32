"""The set-based path of the eligibility rules: one SQL statement per chunk of households.

It mirrors `eligibility.rules.evaluate` clause by clause (the agreement test holds them together on thousands of
generated households at every threshold). Ages become birth-date cutoffs computed once in Python, and every
comparison stays in integer fen, as in the rules.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.assessment.models import Asset, Income
from services.assistance.eligibility import rules
from services.assistance.households.membership import UP_TO_UNDERGRADUATE
from services.assistance.households.models import Household, Member


def cutoff(as_of: dt.date, years: int) -> dt.date:
    """Born on or before this day ⇔ aged `years` or more on `as_of` (29 February falls back to the 28th)."""
    try:
        return as_of.replace(year=as_of.year - years)
    except ValueError:
        return dt.date(as_of.year - years, 2, 28)


@dataclass(frozen=True)
class Hit:
    household_id: int
    area_code: str
    programme: str
    member_id: int | None
    figures: dict


def _flag(condition) -> case:
    return case((condition, 1), else_=0)


async def eligible(session: AsyncSession, params: dict[str, rules.Param], as_of: dt.date, *, area_prefix: str = "",
                   after_id: int = 0, until_id: int | None = None, exclude_prefixes: tuple[str, ...] = ()
                   ) -> list[Hit]:
    """Every (household, programme[, member]) the rules find eligible, for households with after_id < id ≤ until_id
    in the area (less the excluded areas, which have their own parameters)."""
    p = {code: param.value for code, param in params.items()}
    c16, c18, c60 = cutoff(as_of, 16), cutoff(as_of, 18), cutoff(as_of, 60)
    in_range = [Household.id > after_id, Household.area_code.startswith(area_prefix)]
    if until_id is not None:
        in_range.append(Household.id <= until_id)
    in_range += [~Household.area_code.startswith(prefix) for prefix in exclude_prefixes]

    def ids_between(column):
        """The chunk's id range straight on the child table, so its household_id index serves the chunk."""
        return [column > after_id] + ([column <= until_id] if until_id is not None else [])

    income = (select(Income.member_id,
                     func.sum(case((Income.kind == "wages", Income.monthly_fen), else_=0)).label("wages"),
                     func.sum(case((Income.kind != "wages", Income.monthly_fen), else_=0)).label("other"))
              .where(Income.exempt.is_(False), Income.period_from <= as_of, *ids_between(Income.household_id))
              .group_by(Income.member_id).subquery("income"))
    wages, other = func.coalesce(income.c.wages, 0), func.coalesce(income.c.other, 0)
    adult = Member.birth_on <= c18
    counted = and_(Member.exclusion.is_(None), or_(
        Member.relationship.in_(("applicant", "spouse")),
        and_(Member.relationship == "child", or_(
            ~adult,
            and_(Member.full_time_student.is_(True), Member.schooling.in_(sorted(UP_TO_UNDERGRADUATE))),
            Member.labour_capacity == "none")),
        and_(Member.relationship.not_in(("applicant", "spouse", "child")),
             Member.legal_duty_of_support.is_(True), Member.lives_together.is_(True))))
    deducted = case((wages < p["employment_cost_deduction"], wages), else_=p["employment_cost_deduction"])
    able = and_(Member.exclusion.is_(None), Member.labour_capacity == "full", adult, Member.birth_on > c60)
    people = (select(Member.id, Member.household_id, Member.relationship, Member.birth_on, Member.exclusion,
                     Member.disability_grade,
                     Member.disability_kind, Member.parents, Member.in_institution,
                     _flag(counted).label("counted"), _flag(able).label("able"),
                     (wages - deducted + other).label("after_deduction"), (wages + other).label("own"))
              .where(*ids_between(Member.household_id))
              .outerjoin(income, income.c.member_id == Member.id).cte("member_figures"))
    assets = (select(Asset.household_id,
                     func.sum(case((Asset.kind.in_(sorted(rules.FINANCIAL_ASSETS)), Asset.value_fen),
                                   else_=0)).label("financial"),
                     func.sum(case((Asset.kind == "vehicle", Asset.value_fen), else_=0)).label("vehicle"))
              .where(Asset.source_on <= as_of, *ids_between(Asset.household_id)).group_by(Asset.household_id).subquery("assets"))
    households = (select(Household.id, Household.area_code,
                         func.sum(people.c.counted).label("n"),
                         func.sum(people.c.counted * people.c.after_deduction).label("total"),
                         func.sum(people.c.able).label("able"))
                  .join(people, people.c.household_id == Household.id).where(*in_range)
                  .group_by(Household.id, Household.area_code).cte("household_totals"))
    n, total = households.c.n, households.c.total
    financial, vehicle = func.coalesce(assets.c.financial, 0), func.coalesce(assets.c.vehicle, 0)
    assets_ok = and_(financial <= p["dibao_financial_assets_limit"] * n, vehicle <= p["dibao_vehicle_value_limit"])
    dibao = and_(n >= 1, total < p["dibao_standard"] * n, assets_ok)
    marginal = and_(n >= 1, total >= p["dibao_standard"] * n,
                    total * 1000 <= p["dibao_standard"] * p["dibao_marginal_multiplier"] * n, assets_ok)
    flags = (select(households.c.id, households.c.area_code, households.c.able, n.label("n"), total.label("total"),
                    _flag(dibao).label("dibao"), _flag(marginal).label("marginal"))
             .outerjoin(assets, assets.c.household_id == households.c.id).cte("household_flags"))

    # One pass over the chunk's people, household flags joined in: the household programmes come back on the
    # applicant's row (one per household), the individual ones on each person's row. Only rows that qualify for
    # something leave the database: at city scale the rows, not the SQL, would cost most.
    able_elsewhere = flags.c.able - people.c.able
    unable = or_(people.c.birth_on <= c60, people.c.birth_on > c16, people.c.disability_grade.in_((1, 2)),
                 and_(people.c.disability_grade == 3, people.c.disability_kind.in_(sorted(rules.GRADE_3_KINDS))))
    minor = people.c.birth_on > c18
    tekun = and_(people.c.exclusion.is_(None), unable, people.c.own == 0, able_elsewhere == 0)
    poor = or_(flags.c.dibao == 1, flags.c.marginal == 1)
    individual = and_(people.c.exclusion.is_(None),
                      or_(tekun, and_(minor, people.c.parents != "present"), people.c.disability_grade.is_not(None)))
    rows = (await session.execute(
        select(people.c.id, people.c.household_id, people.c.relationship, people.c.exclusion, flags.c.area_code,
               flags.c.n, flags.c.total, flags.c.dibao, flags.c.marginal, people.c.disability_grade,
               _flag(tekun).label("tekun"),
               _flag(and_(minor, people.c.parents == "orphan", people.c.in_institution.is_(True))).label("oi"),
               _flag(and_(minor, people.c.parents == "orphan", people.c.in_institution.is_(False))).label("os"),
               _flag(and_(minor, people.c.parents == "unsupported")).label("cd"))
        .join(flags, flags.c.id == people.c.household_id)
        .where(or_(and_(people.c.relationship == "applicant", poor), individual)))).all()

    hits: list[Hit] = []
    for row in rows:
        area = row.area_code
        if row.relationship == "applicant" and (row.dibao or row.marginal):
            figures = {"counted_members": int(row.n), "household_income_fen": int(row.total),
                       "standard_fen": p["dibao_standard"]}
            if row.dibao:
                hits.append(Hit(row.household_id, area, "dibao", None, figures))
            if row.marginal:
                hits.append(Hit(row.household_id, area, "dibao_marginal", None, figures))
        if row.exclusion is not None:
            continue
        for code, flag in (("tekun", row.tekun), ("orphan_institution", row.oi), ("orphan_scattered", row.os),
                           ("child_in_difficulty", row.cd)):
            if flag:
                hits.append(Hit(row.household_id, area, code, row.id, {}))
        if row.disability_grade is not None and (row.dibao or row.marginal):
            hits.append(Hit(row.household_id, area, "disability_living_subsidy", row.id, {}))
        if row.disability_grade in (1, 2):
            hits.append(Hit(row.household_id, area, "disability_care_subsidy", row.id, {}))
    return hits


