"""Partner signals (数据找人): a partner department's word about one event, received once, and the leads it opens.

`receive_signal` records the signal once per partner and signal id and re-evaluates the person's household with
what the signal says applied to its recorded facts (`apply`):

- `medical_bill` (医保): the out-of-pocket amount is a rigid medical expense of the person in the month it occurred,
  counted as recorded ones are (a counted member's, begun in the past 12 months, spread over 12): it can make the
  household eligible for 低保 as 支出型 (expenditure-type) where its income alone does not.
- `job_loss` (人社): the person's wages stop; an amount is the monthly unemployment benefit (失业保险金) now paid,
  counted as the person's other income.
- `disability_record` (残联): the person's disability grade and kind, as the record gives them.
- `disaster` (应急管理): a shock whose size the signal does not give. No amount is invented: the household becomes a
  低保 lead for staff to assess the loss on the visit.
- `housing_change` (住建): nothing the rules read; the household is re-evaluated on its recorded facts.

The recorded facts are not changed: a signal is the department's word about one event, which the visit verifies
and staff then record (the expense with the department as its source, the income, the disability). The lead
keeps what was applied, about whom, and the department it came from (`fact`), never an amount (a lead shows no
figures, see `LeadOut.reasons`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.assessment import service as assessment
from services.assistance.assessment.models import MedicalExpense
from services.assistance.database import id_number_index
from services.assistance.discovery.exclusions import excluded_targets, is_excluded
from services.assistance.discovery.facts import facts_digest
from services.assistance.discovery.models import Signal
from services.assistance.discovery.schemas import SignalIn, SignalOut
from services.assistance.eligibility import rules
from services.assistance.eligibility import service as eligibility
from services.assistance.households.models import Household, Member
from services.assistance.leads.models import Lead
from services.assistance.leads.schemas import LeadOut
from shared import clock
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.identity import Principal
from shared.idnumbers import mask_id_number, parse_id_number


@dataclasses.dataclass(frozen=True)
class Applied:
    facts: rules.HouseholdFacts
    fact: dict | None  # what the lead says was applied, or None when the signal changed nothing the rules read
    shock: bool = False  # a disaster: a lead for staff to review whatever the rules find


def _person(facts: rules.HouseholdFacts, member_id: int, **changes) -> rules.HouseholdFacts:
    return dataclasses.replace(
        facts, people=tuple(dataclasses.replace(p, **changes) if p.key == str(member_id) else p for p in facts.people)
    )


def _sources(recorded: tuple[str, ...], source: str) -> tuple[str, ...]:
    return tuple(sorted({*recorded, source}))


def apply(
    signal: Signal,
    department: str,
    member_id: int,
    facts: rules.HouseholdFacts,
    expenses: list[MedicalExpense],
    as_of: dt.date,
) -> Applied:
    """The household's facts as the signal about member `member_id` changes them on `as_of`. `department` names
    the partner; `expenses` are the household's recorded medical expenses (`assessment.medical_expenses_of`)."""
    # Worded as the eligibility check words a recorded figure's source, so the criteria list it among them.
    source = f"department: {department}, {as_of.isoformat()}"  # obtained today, the day it was received
    fact = {
        "applied": None,
        "member_id": member_id,
        "source": source,
        "partner_signal_id": signal.signal_id,
        "occurred_on": signal.occurred_on.isoformat(),
    }
    if signal.kind == "medical_bill":
        bill = SimpleNamespace(
            member_id=member_id, amount_fen=signal.amount_fen or 0, period_from=signal.occurred_on.replace(day=1)
        )
        counted = {int(p.key) for p in rules.counted_people(facts, as_of)}
        if not bill.amount_fen or member_id not in counted or not assessment.in_medical_window(bill, as_of):
            return Applied(facts, None)  # nothing the 支出型 rule counts: a bill of another year, or of no one counted
        facts = dataclasses.replace(
            facts,
            medical_expense_fen=assessment.medical_monthly([*expenses, bill], counted, as_of),
            medical_sources=_sources(facts.medical_sources, source),
        )
        return Applied(facts, fact | {"applied": "medical_expense"})
    if signal.kind == "job_loss":
        facts = _person(
            facts,
            member_id,
            wages_fen=0,
            other_income_fen=next(p.other_income_fen for p in facts.people if p.key == str(member_id))
            + (signal.amount_fen or 0),
        )
        facts = dataclasses.replace(facts, income_sources=_sources(facts.income_sources, source))
        return Applied(facts, fact | {"applied": "wages_stopped"})
    if signal.kind == "disability_record" and signal.disability_grade is not None:
        facts = _person(
            facts, member_id, disability_grade=signal.disability_grade, disability_kind=signal.disability_kind
        )
        return Applied(facts, fact | {"applied": "disability"})
    if signal.kind == "disaster":
        return Applied(facts, fact | {"applied": "shock"}, shock=True)
    return Applied(facts, None)


async def _signal_out(session: AsyncSession, signal: Signal) -> SignalOut:
    leads = list(await session.scalars(select(Lead).where(Lead.signal_id == signal.id).order_by(Lead.id)))
    return SignalOut(
        id=signal.id,
        signal_id=signal.signal_id,
        kind=signal.kind,
        id_number_masked=mask_id_number(signal.id_number),
        occurred_on=signal.occurred_on,
        household_found=signal.household_id is not None,
        leads=[LeadOut.model_validate(lead) for lead in leads],
        received_at=signal.received_at,
    )


async def _replayed(session: AsyncSession, existing: Signal, data: SignalIn, id_number: str) -> SignalOut:
    """The first signal under this id, when the resend tells of the same event; else a 409 naming it: an id reused
    for another person or event (a partner's sequence restarted) would otherwise be answered as recorded, and the
    new event dropped. The free-text detail may differ."""
    told = (data.kind, id_number, data.occurred_on, data.amount_fen, data.disability_grade, data.disability_kind)
    kept = (
        existing.kind,
        existing.id_number,
        existing.occurred_on,
        existing.amount_fen,
        existing.disability_grade,
        existing.disability_kind,
    )
    if told != kept:
        raise Conflict(
            "signal {signal_id} is already recorded about another person or event; give this one a new id",
            resource=f"signals/{existing.id}",
            signal_id=data.signal_id,
        )
    return await _signal_out(session, existing)


async def receive_signal(session: AsyncSession, principal: Principal, data: SignalIn) -> tuple[SignalOut, bool]:
    """Record the signal once per partner and signal id, re-evaluate the person's household with what the signal
    says (`apply`) and open leads for programmes it looks eligible for but neither receives nor has applied for.
    Returns (result, replayed)."""
    if principal.kind != "partner":
        raise Forbidden("signals come from partner departments")
    person = parse_id_number(data.id_number)
    if data.occurred_on > clock.today():
        raise InvalidInput("occurred_on", "a signal cannot be about the future")
    if data.kind == "disability_record":
        for field in ("disability_grade", "disability_kind"):
            if getattr(data, field) is None:
                raise InvalidInput(field, "a disability record gives the grade and the kind (残疾等级, 残疾类别)")
    else:
        for field in ("disability_grade", "disability_kind"):
            if getattr(data, field) is not None:
                raise InvalidInput(field, "only a disability record (kind disability_record) gives a disability")
    existing = await session.scalar(
        select(Signal).where(Signal.partner == principal.subject, Signal.signal_id == data.signal_id)
    )
    if existing is not None:
        return await _replayed(session, existing, data, person.value), True
    member = await session.scalar(select(Member).where(Member.id_number_index == id_number_index(person.value)))
    signal = Signal(
        partner=principal.subject,
        signal_id=data.signal_id,
        kind=data.kind,
        id_number=person.value,
        occurred_on=data.occurred_on,
        amount_fen=data.amount_fen,
        detail=data.detail,
        disability_grade=data.disability_grade,
        disability_kind=data.disability_kind,
        household_id=member.household_id if member else None,
        received_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(signal)
            await session.flush()
    except IntegrityError:
        # The same signal arrived twice at once: the other request recorded it; answer with that one.
        existing = await session.scalar(
            select(Signal).where(Signal.partner == principal.subject, Signal.signal_id == data.signal_id)
        )
        return await _replayed(session, existing, data, person.value), True
    if member is not None:
        await _open_leads(session, signal, member, principal.name or principal.subject)
    return await _signal_out(session, signal), False


SHOCK_REVIEW = (
    "a disaster's loss has no figure: assess it on the visit (the 低保 criteria listed passed on the recorded facts)"
)


async def _open_leads(session: AsyncSession, signal: Signal, member: Member, department: str) -> None:
    """The leads of a signal about `member`: its household re-evaluated today with the signal applied."""
    household = await session.get(Household, member.household_id)
    today = clock.today()
    params = await eligibility.parameters(session, household.area_code[:6], today)
    recorded, _numbers = await eligibility.facts_of_household(session, household, today, rules.income_months(params))
    expenses = await assessment.medical_expenses_of(session, household.id) if signal.kind == "medical_bill" else []
    applied = apply(signal, department, member.id, recorded, expenses, today)
    result = rules.evaluate(applied.facts, params, today)
    expenditure = rules.expenditure_type(applied.facts, params, result)
    standard = params["dibao_standard"].value
    # A household lead keeps the facts digest the screening computes in SQL (never the income itself), so a
    # lead closed on the same facts is not raised again by the next screening, whichever raised it first.
    household_facts = {
        "counted_members": result.counted_members,
        "standard_fen": standard,
        "facts_digest": facts_digest(result.counted_members, result.household_income_fen, standard),
    }
    said = {"signal_fact": applied.fact} if applied.fact else {}
    excluded = await excluded_targets(session, today, after_id=household.id - 1, until_id=household.id)
    for programme in result.programmes:
        targets = [(int(p.key), p.criteria, {}) for p in programme.persons or [] if p.eligible]
        if programme.persons is None and programme.eligible:
            targets = [(None, programme.criteria, {})]
        elif programme.code == "dibao" and expenditure is not None and expenditure.eligible:
            # 支出型: the income is above the line, but not once the rigid medical expenses are paid.
            targets = [(None, expenditure.criteria, {"expenditure_type": True})]
        elif programme.code == "dibao" and applied.shock:
            targets = [(None, programme.criteria, {"review": SHOCK_REVIEW})]
        for member_id, criteria, why in targets:
            if is_excluded(excluded, household.id, programme.code, member_id):
                continue
            session.add(
                Lead(
                    signal_id=signal.id,
                    household_id=household.id,
                    member_id=member_id,
                    area_code=household.area_code,
                    programme=programme.code,
                    state="open",
                    reasons={
                        "signal": signal.kind,
                        "as_of": today.isoformat(),
                        "criteria": [c.code for c in criteria if c.passed],
                        **(household_facts if member_id is None else {}),
                        **said,
                        **why,
                    },
                    created_at=utcnow(),
                )
            )
    await session.flush()
