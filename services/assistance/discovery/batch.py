"""The set-based path of the eligibility rules: one SQL statement per chunk of households.

It mirrors `eligibility.rules.evaluate` clause by clause (the agreement test holds them together on thousands of
generated households at every threshold). Ages become birth-date cutoffs computed once in Python, and every
comparison stays in integer fen, as in the rules.

Incomes are stored encrypted (services/assistance/pii.py), so the database cannot add them up: `load_incomes`
reads the chunk's counted income rows (member, kind, ciphertext), decrypts and sums them per member in Python and
loads the sums into a temporary table, `MEMBER_INCOMES`, which the rules' statement joins where it used to
aggregate the incomes itself. Everything else stays set-based.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import (
    CTE,
    JSON,
    BigInteger,
    Column,
    Integer,
    MetaData,
    Select,
    String,
    Subquery,
    Table,
    and_,
    case,
    cast,
    exists,
    extract,
    func,
    literal,
    null,
    or_,
    select,
    text,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.assessment.models import MONTHLY_PURPOSE, Asset, Income
from services.assistance.discovery.exclusions import live_applications
from services.assistance.discovery.facts import facts_digest, facts_digest_sql, facts_key
from services.assistance.eligibility import rules
from services.assistance.households.membership import UP_TO_UNDERGRADUATE
from services.assistance.households.models import Household, Member
from services.assistance.leads.models import Lead
from services.assistance.programmes.models import Enrolment
from shared.pii import decrypt_integers


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


# The counted monthly income per member of the chunk being screened (non-exempt incomes, averaged over the
# assessment period before the month screened, `rules.period_income`): wages apart, for the employment cost
# deduction. A temporary table lives in one connection, so concurrent screenings on other connections never see
# each other's rows; its own metadata keeps it out of the migrations.
MEMBER_INCOMES = Table(
    "screening_member_incomes",
    MetaData(),
    Column("member_id", Integer),
    Column("wages", BigInteger),
    Column("other", BigInteger),
    prefixes=["TEMPORARY"],
)
_CREATE_MEMBER_INCOMES = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS screening_member_incomes "
    "(member_id integer NOT NULL, wages bigint NOT NULL, other bigint NOT NULL)"
)


def _ids_between(column, after_id: int, until_id: int | None) -> list:
    """The chunk's id range straight on a child table, so its household_id index serves the chunk."""
    return [column > after_id] + ([column <= until_id] if until_id is not None else [])


async def member_incomes(
    session: AsyncSession,
    as_of: dt.date,
    *,
    period_months: int,
    after_id: int = 0,
    until_id: int | None = None,
) -> tuple[dict[int, int], dict[int, int], int]:
    """The counted monthly income per member of the households with after_id < id ≤ until_id, as the rules count
    it (non-exempt incomes with months in the assessment period, the `period_months` whole months before
    `as_of`'s month, averaged over it: `rules.period_income`), decrypted and summed here: (wages per member, other incomes
    per member, income rows read). Incomes that ended before the period are left out by the statement itself."""
    connection = await session.connection()
    first, last = rules.assessment_months(as_of, period_months)
    if connection.dialect.name == "postgresql":
        # Straight from the driver (at city scale SQLAlchemy's row handling cost as much as the decryption), and as
        # three arrays rather than a row per income: tens of thousands of row objects per chunk kept the garbage
        # collector's full collections coming, and the service answered no request during each of them
        # (`./dev bench assistance` prints them; docs/benchmarks/assistance.md).
        # Each income's months in the period come with it (`rules.overlap` over `rules.month_index`, in SQL; with
        # date_part, a double, not extract, a numeric: this statement took 2-3× the time of the one without the
        # period with extract, about 1.3× with date_part, 40,000 generated households).
        driver = (await connection.get_raw_connection()).driver_connection
        members, wages, sealed, counted = await driver.fetchrow(
            "SELECT array_agg(member_id), array_agg(kind = 'wages'), array_agg(monthly_fen_enc), "
            "array_agg(least(start + months - 1, $3) - greatest(start, $4) + 1) FROM ("
            "SELECT member_id, kind, monthly_fen_enc, months, "
            "(date_part('year', period_from) * 12 + date_part('month', period_from))::int - 1 AS start "
            "FROM incomes WHERE NOT exempt AND period_from <= $1 AND household_id > $2"
            + (" AND household_id <= $5" if until_id is not None else "")
            + ") AS begun WHERE start <= $3 AND start + months - 1 >= $4",
            as_of,
            after_id,
            last,
            first,
            *([until_id] if until_id is not None else []),
        )
    else:
        start = extract("year", Income.period_from) * 12 + extract("month", Income.period_from) - 1
        rows = (
            await session.execute(
                select(
                    Income.member_id,
                    Income.kind == "wages",
                    type_coerce(Income.monthly_fen, String),  # raw text
                    case((start + Income.months - 1 < last, start + Income.months - 1), else_=last)
                    - case((start > first, start), else_=first)
                    + 1,
                ).where(
                    Income.exempt.is_(False),
                    Income.period_from <= as_of,
                    start <= last,
                    start + Income.months - 1 >= first,
                    *_ids_between(Income.household_id, after_id, until_id),
                )
            )
        ).all()
        members, wages, sealed, counted = zip(*rows, strict=False) if rows else (None, None, None, None)
    if not members:
        return {}, {}, 0
    # Decrypting a chunk's incomes is CPU work of this process (docs/benchmarks/assistance.md): in a thread, so that
    # the event loop, which answers requests beside the screening job, gets its turns meanwhile.
    totals = await asyncio.to_thread(_sum_per_member, members, wages, sealed, counted, period_months)
    return *totals, len(members)


def _sum_per_member(members, wages, sealed, counted, period_months: int) -> tuple[dict[int, int], dict[int, int]]:
    """(wages per member, other incomes per member) over the assessment period, as `rules.period_income` makes
    them (each monthly figure times its months in the period, summed, divided by the period's months, rounded
    down): plain ints in two dicts, no container per member."""
    totals: tuple[dict[int, int], dict[int, int]] = ({}, {})
    decrypted = decrypt_integers(MONTHLY_PURPOSE, sealed)
    for member_id, is_wages, amount, months in zip(members, wages, decrypted, counted, strict=False):
        kind = totals[0] if is_wages else totals[1]
        kind[member_id] = kind.get(member_id, 0) + amount * months
    if period_months > 1:
        for kind in totals:
            for member_id, total in kind.items():
                kind[member_id] = total // period_months
    return totals


async def load_incomes(
    session: AsyncSession, as_of: dt.date, *, period_months: int, after_id: int = 0, until_id: int | None = None
) -> int:
    """Fill `MEMBER_INCOMES` with `member_incomes` for the households with after_id < id ≤ until_id, in the
    caller's transaction; returns the income rows read. Call it before running `hits_select` (or `eligible`,
    `write_leads`) on the same range, with the assessment period of the parameters they use
    (`rules.income_months`)."""
    connection = await session.connection()
    postgres = connection.dialect.name == "postgresql"
    await session.execute(text(_CREATE_MEMBER_INCOMES))
    await session.execute(
        text("TRUNCATE screening_member_incomes" if postgres else "DELETE FROM screening_member_incomes")
    )
    wages, other, read = await member_incomes(
        session, as_of, period_months=period_months, after_id=after_id, until_id=until_id
    )
    if not read:
        return read
    # One record at a time, each gone before the next (a generator, not a list of tuples): see member_incomes.
    records = ((member_id, wages.get(member_id, 0), other.get(member_id, 0)) for member_id in wages.keys() | other)
    if postgres:
        driver = (await connection.get_raw_connection()).driver_connection
        await driver.copy_records_to_table(
            "screening_member_incomes", records=records, columns=("member_id", "wages", "other")
        )
        # A temporary table has no statistics until analysed: without them the planner guesses its size.
        await session.execute(text("ANALYZE screening_member_incomes"))
    else:
        await session.execute(
            MEMBER_INCOMES.insert(), [{"member_id": m, "wages": w, "other": o} for m, w, o in records]
        )
    return read


def _flag(condition) -> case:
    return case((condition, 1), else_=0)


def _whole(expression):
    """Sums stay integers (PostgreSQL's sum of bigint is numeric, slower and no more exact here)."""
    return cast(expression, BigInteger)


def _member_figures(p: dict[str, int], as_of: dt.date, in_chunk: list) -> CTE:
    """Per member of the chunk: whether the member counts (`counted`, as `membership` decides), whether of
    working age with full labour capacity (`able`), the monthly income after the employment cost deduction
    (`after_deduction`) and before it (`own`). The incomes come from `MEMBER_INCOMES`."""
    income = MEMBER_INCOMES
    wages, other = func.coalesce(income.c.wages, 0), func.coalesce(income.c.other, 0)
    adult = Member.birth_on <= cutoff(as_of, 18)
    counted = and_(
        Member.exclusion.is_(None),
        Member.birth_on <= as_of,  # not yet born on the day asked about: no member (membership)
        or_(
            Member.relationship.in_(("applicant", "spouse")),
            and_(
                Member.relationship == "child",
                or_(
                    ~adult,
                    and_(Member.full_time_student.is_(True), Member.schooling.in_(sorted(UP_TO_UNDERGRADUATE))),
                    Member.labour_capacity == "none",
                ),
            ),
            and_(
                Member.relationship.not_in(("applicant", "spouse", "child")),
                Member.legal_duty_of_support.is_(True),
                Member.lives_together.is_(True),
            ),
        ),
    )
    deducted = case((wages < p["employment_cost_deduction"], wages), else_=p["employment_cost_deduction"])
    able = and_(
        Member.exclusion.is_(None), Member.labour_capacity == "full", adult, Member.birth_on > cutoff(as_of, 60)
    )
    return (
        select(
            Member.id,
            Member.household_id,
            Member.relationship,
            Member.birth_on,
            Member.exclusion,
            Member.disability_grade,
            Member.disability_kind,
            Member.labour_capacity,
            Member.parents,
            Member.in_institution,
            _flag(counted).label("counted"),
            _flag(able).label("able"),
            (wages - deducted + other).label("after_deduction"),
            (wages + other).label("own"),
        )
        .where(*in_chunk)
        .outerjoin(income, income.c.member_id == Member.id)
        .cte("member_figures")
    )


def _household_assets(as_of: dt.date, in_chunk: list) -> Subquery:
    """Per household of the chunk with assets on record by `as_of`: its financial assets and its vehicles' value."""
    return (
        select(
            Asset.household_id,
            _whole(func.sum(case((Asset.kind.in_(sorted(rules.FINANCIAL_ASSETS)), Asset.value_fen), else_=0))).label(
                "financial"
            ),
            _whole(func.sum(case((Asset.kind == "vehicle", Asset.value_fen), else_=0))).label("vehicle"),
        )
        .where(Asset.source_on <= as_of, *in_chunk)
        .group_by(Asset.household_id)
        .subquery("assets")
    )


def _household_totals(people: CTE, in_area: list) -> CTE:
    """Per household of the chunk and area: its counted members (`n`), their counted income (`total`) and how
    many of its people are able to work (`able`)."""
    return (
        select(
            Household.id,
            Household.area_code,
            _whole(func.sum(people.c.counted)).label("n"),
            _whole(func.sum(people.c.counted * people.c.after_deduction)).label("total"),
            _whole(func.sum(people.c.able)).label("able"),
        )
        .join(people, people.c.household_id == Household.id)
        .where(*in_area)
        .group_by(Household.id, Household.area_code)
        .cte("household_totals")
    )


def _household_flags(p: dict[str, int], households: CTE, assets: Subquery) -> CTE:
    """`household_totals` with whether the household is eligible for 低保 (`dibao`) and for 低保边缘 (`marginal`)."""
    n, total = households.c.n, households.c.total
    financial, vehicle = func.coalesce(assets.c.financial, 0), func.coalesce(assets.c.vehicle, 0)
    # Asset limits apply only where one is on record (rules.ASSET_LIMITS).
    assets_ok = (
        [financial <= p["dibao_financial_assets_limit"] * n] if "dibao_financial_assets_limit" in p else []
    ) + ([vehicle <= p["dibao_vehicle_value_limit"]] if "dibao_vehicle_value_limit" in p else [])
    dibao = and_(n >= 1, total < p["dibao_standard"] * n, *assets_ok)
    marginal = and_(
        n >= 1,
        total >= p["dibao_standard"] * n,
        total * 1000 <= p["dibao_standard"] * p["dibao_marginal_multiplier"] * n,
        *assets_ok,
    )
    return (
        select(
            households.c.id,
            households.c.area_code,
            households.c.able,
            n.label("n"),
            total.label("total"),
            _flag(dibao).label("dibao"),
            _flag(marginal).label("marginal"),
        )
        .outerjoin(assets, assets.c.household_id == households.c.id)
        .cte("household_flags")
    )


def _candidates(p: dict[str, int], as_of: dt.date, people: CTE, flags: CTE) -> CTE:
    """The people who qualify for something, with their household's flags and their own: the household
    programmes come from the applicant's row (one per household), the individual ones from each person's row.

    One pass over the chunk's people, household flags joined in; only rows that qualify for something go on to
    the programmes (`_programme_hits`)."""
    able_elsewhere = flags.c.able - people.c.able
    unable = or_(
        people.c.birth_on <= cutoff(as_of, 60),
        people.c.birth_on > cutoff(as_of, 16),
        people.c.labour_capacity == "none",
        *(
            and_(people.c.disability_kind == kind, people.c.disability_grade <= grade)
            for kind, grade in rules.NO_LABOUR_CAPACITY_GRADES.items()
        ),
    )
    minor = people.c.birth_on > cutoff(as_of, 18)
    orphan = and_(minor, people.c.parents == "orphan")
    tekun = and_(people.c.exclusion.is_(None), unable, people.c.own < p["dibao_standard"], able_elsewhere == 0)
    poor = or_(flags.c.dibao == 1, flags.c.marginal == 1)
    present = and_(people.c.exclusion.is_(None), people.c.birth_on <= as_of)  # neither excluded nor yet unborn
    individual = and_(
        present,
        or_(tekun, and_(minor, people.c.parents != "present"), people.c.disability_grade.is_not(None)),
    )
    return (
        select(
            people.c.id,
            people.c.household_id,
            people.c.relationship,
            people.c.exclusion,
            flags.c.area_code,
            flags.c.n,
            flags.c.total,
            flags.c.dibao,
            flags.c.marginal,
            people.c.disability_grade,
            people.c.counted,
            _flag(present).label("present"),
            _flag(tekun).label("tekun"),
            _flag(and_(orphan, people.c.in_institution.is_(True))).label("orphan_institution"),
            _flag(and_(orphan, people.c.in_institution.is_(False))).label("orphan_scattered"),
            _flag(and_(minor, people.c.parents == "unsupported")).label("child_in_difficulty"),
        )
        .join(flags, flags.c.id == people.c.household_id)
        .where(or_(and_(people.c.relationship == "applicant", poor), individual))
        .cte("candidates")
    )


def _received_or_applied(as_of: dt.date, after_id: int, until_id: int | None) -> CTE:
    """(household_id, member_id, programme) received on `as_of` or applied for: an application under way leaves
    its programme out too (discovery/exclusions.py)."""
    return union_all(
        select(Member.household_id, Member.id.label("member_id"), Enrolment.programme)
        .join(Enrolment, Enrolment.id_number_index == Member.id_number_index)
        .where(
            *_ids_between(Member.household_id, after_id, until_id),
            Enrolment.since_on <= as_of,
            or_(Enrolment.until_on.is_(None), Enrolment.until_on > as_of),
        ),
        live_applications(after_id=after_id, until_id=until_id),
    ).cte("receiving")


def _closed_leads(after_id: int, until_id: int | None) -> CTE:
    """The chunk's closed leads, with the facts digest they were closed on.

    A lead for the same household, programme and person that was closed (services/assistance/leads) on the same
    facts is not raised again: for the household programmes the same counted members, counted income and
    standard, told by the lead's facts digest (the income itself is not kept, discovery/facts.py). New facts (an
    income recorded, a member gone, a new standard) give another digest and raise it again. Read once per chunk
    through ix_leads_closed (closed leads are few), not probed per candidate row."""
    return (
        select(
            Lead.household_id, Lead.member_id, Lead.programme, Lead.reasons["facts_digest"].as_string().label("facts")
        )
        .where(Lead.state == "closed", *_ids_between(Lead.household_id, after_id, until_id))
        .cte("closed")
    )


def _programme_hits(
    code: str, condition, rows: CTE, *, household: bool, standard: int, excluded: tuple[CTE, CTE] | None
) -> Select:
    """The rows of `candidates` eligible for programme `code`, in the shape of `hits_select`. With `excluded`
    (`_received_or_applied`, `_closed_leads`), those received, applied for or closed on the same facts are left
    out."""
    where = [condition]
    if excluded is not None:
        receiving, closed = excluded
        key = receiving.c.household_id == rows.c.household_id if household else receiving.c.member_id == rows.c.id
        where.append(~exists().where(key, receiving.c.programme == code))
        same = [closed.c.household_id == rows.c.household_id, closed.c.programme == code]
        same += (
            [closed.c.member_id.is_(None), closed.c.facts == facts_digest_sql(rows.c.n, rows.c.total, standard)]
            if household
            else [closed.c.member_id == rows.c.id]
        )
        where.append(~exists().where(*same))
    return select(
        rows.c.household_id,
        cast(null(), Integer).label("member_id") if household else rows.c.id.label("member_id"),
        rows.c.area_code,
        literal(code, String).label("programme"),
        rows.c.n if household else cast(null(), BigInteger).label("n"),
        rows.c.total if household else cast(null(), BigInteger).label("total"),
    ).where(*where)


def hits_select(
    params: dict[str, rules.Param],
    as_of: dt.date,
    *,
    area_prefix: str,
    after_id: int,
    until_id: int | None,
    exclude_prefixes: tuple[str, ...],
    unless_receiving: bool,
) -> Select:
    """One row (household_id, member_id, area_code, programme, n, total) per eligible household programme
    (member_id NULL, n and total its counted members and counted income) or person programme (n, total NULL).

    With `unless_receiving`, programmes the household or person already receives on `as_of` or has applied for
    are left out, as `exclusions.excluded_targets` reads them (a member's ID number, by its blind index, enrolled
    in the programme), and so are leads closed on the same facts (compared by their facts digest,
    `discovery.facts`, computed in SQL).

    The members' incomes come from `MEMBER_INCOMES`: `load_incomes` must have filled it for the same range and
    `as_of` in the same transaction."""
    p = {code: param.value for code, param in params.items()}
    in_area = [Household.id > after_id, Household.area_code.startswith(area_prefix)]
    if until_id is not None:
        in_area.append(Household.id <= until_id)
    in_area += [~Household.area_code.startswith(prefix) for prefix in exclude_prefixes]

    people = _member_figures(p, as_of, _ids_between(Member.household_id, after_id, until_id))
    assets = _household_assets(as_of, _ids_between(Asset.household_id, after_id, until_id))
    flags = _household_flags(p, _household_totals(people, in_area), assets)
    rows = _candidates(p, as_of, people, flags)
    excluded = (
        (_received_or_applied(as_of, after_id, until_id), _closed_leads(after_id, until_id))
        if unless_receiving
        else None
    )

    def hits(code: str, condition, *, household: bool) -> Select:
        return _programme_hits(
            code, condition, rows, household=household, standard=p["dibao_standard"], excluded=excluded
        )

    applicant, present = rows.c.relationship == "applicant", rows.c.present == 1
    person_programmes = ("tekun", "orphan_institution", "orphan_scattered", "child_in_difficulty")
    return union_all(
        hits("dibao", and_(applicant, rows.c.dibao == 1), household=True),
        hits("dibao_marginal", and_(applicant, rows.c.marginal == 1), household=True),
        *(hits(code, and_(present, rows.c[code] == 1), household=False) for code in person_programmes),
        hits(
            "disability_living_subsidy",
            and_(
                present,
                rows.c.disability_grade.is_not(None),
                rows.c.counted == 1,
                or_(rows.c.dibao == 1, rows.c.marginal == 1),
            ),
            household=False,
        ),
        hits(
            "disability_care_subsidy",
            and_(present, rows.c.disability_grade.in_(sorted(rules.SEVERE_GRADES))),
            household=False,
        ),
    )


async def eligible(
    session: AsyncSession,
    params: dict[str, rules.Param],
    as_of: dt.date,
    *,
    area_prefix: str = "",
    after_id: int = 0,
    until_id: int | None = None,
    exclude_prefixes: tuple[str, ...] = (),
) -> list[Hit]:
    """Every (household, programme[, member]) the rules find eligible, for households with after_id < id ≤ until_id
    in the area (less the excluded areas, which have their own parameters)."""
    await load_incomes(session, as_of, period_months=rules.income_months(params), after_id=after_id, until_id=until_id)
    hits = hits_select(
        params,
        as_of,
        area_prefix=area_prefix,
        after_id=after_id,
        until_id=until_id,
        exclude_prefixes=exclude_prefixes,
        unless_receiving=False,
    )
    standard, key = params["dibao_standard"].value, facts_key()
    # The figures a lead keeps (`write_leads`): the counted income only inside the facts digest.
    return [
        Hit(
            row.household_id,
            row.area_code,
            row.programme,
            row.member_id,
            {}
            if row.member_id is not None
            else {
                "counted_members": int(row.n),
                "standard_fen": standard,
                "facts_digest": facts_digest(row.n, row.total, standard, key=key),
            },
        )
        for row in await session.execute(hits)
    ]


async def write_leads(
    session: AsyncSession,
    screening_id: int,
    params: dict[str, rules.Param],
    as_of: dt.date,
    now: dt.datetime,
    *,
    area_prefix: str,
    after_id: int,
    until_id: int,
    exclude_prefixes: tuple[str, ...] = (),
) -> int:
    """Write the leads of one chunk in the database itself (INSERT … SELECT): every hit of `eligible` that the
    household or person does not already receive, with the same reasons the API shows (for a household programme
    the counted members, the standard and the facts digest; never the counted income). Returns how many.

    At city scale, turning hundreds of thousands of rows into Python objects and back into COPY records cost
    more than evaluating the rules; here no row leaves the database (but the incomes: `load_incomes` must have
    filled `MEMBER_INCOMES` for the range first)."""
    hits = hits_select(
        params,
        as_of,
        area_prefix=area_prefix,
        after_id=after_id,
        until_id=until_id,
        exclude_prefixes=exclude_prefixes,
        unless_receiving=True,
    ).subquery("hits")
    dialect = (await session.connection()).dialect.name
    standard = params["dibao_standard"].value
    # The reasons are JSON text put together by concatenation, not json_build_object: its dispatch on every
    # argument's type was a large part of writing a city's leads (docs/benchmarks/assistance.md). A person's lead
    # has the same reasons throughout the screening: one constant. The keys and their order are those the API has
    # always shown. No counted income in the clear: the facts digest stands for it (discovery/facts.py); the digest
    # is hex and the counts integers, so nothing needs escaping.
    common = json.dumps({"rule": "eligibility.rules.evaluate", "as_of": as_of.isoformat()})
    household_reasons = (
        literal(common[:-1] + ', "counted_members": ', String)
        + cast(hits.c.n, String)
        + literal(f', "standard_fen": {int(standard)}, "facts_digest": "', String)
        + facts_digest_sql(hits.c.n, hits.c.total, standard)
        + literal('"}', String)
    )
    reasons = case((hits.c.member_id.is_(None), household_reasons), else_=literal(common, String))
    if dialect == "postgresql":
        reasons = cast(reasons, JSON)  # PostgreSQL has no implicit cast from text to json; SQLite stores the text
    table = Lead.__table__
    written = await session.execute(
        table.insert().from_select(
            ["screening_id", "household_id", "member_id", "area_code", "programme", "state", "reasons", "created_at"],
            select(
                literal(screening_id, Integer),
                hits.c.household_id,
                hits.c.member_id,
                hits.c.area_code,
                hits.c.programme,
                literal("open", String),
                reasons,
                literal(now, table.c.created_at.type),
            ),
        )
    )
    if written.rowcount >= 0:
        return written.rowcount
    # Python's sqlite3 reports no row count for a statement that begins with WITH; SQLite itself knows.
    return await session.scalar(text("SELECT changes()"))
