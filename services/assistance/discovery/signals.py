"""What a partner's signal says, applied to the household's recorded facts before the rules re-evaluate them.

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

from services.assistance.assessment import service as assessment
from services.assistance.assessment.models import MedicalExpense
from services.assistance.discovery.models import Signal
from services.assistance.eligibility import rules


@dataclasses.dataclass(frozen=True)
class Applied:
    facts: rules.HouseholdFacts
    fact: dict | None  # what the lead says was applied, or None when the signal changed nothing the rules read
    shock: bool = False  # a disaster: a lead for staff to review whatever the rules find


def _person(facts: rules.HouseholdFacts, member_id: int, **changes) -> rules.HouseholdFacts:
    return dataclasses.replace(facts, people=tuple(dataclasses.replace(p, **changes) if p.key == str(member_id) else p
                                                  for p in facts.people))


def _sources(recorded: tuple[str, ...], source: str) -> tuple[str, ...]:
    return tuple(sorted({*recorded, source}))


def apply(signal: Signal, department: str, member_id: int, facts: rules.HouseholdFacts,
          expenses: list[MedicalExpense], as_of: dt.date) -> Applied:
    """The household's facts as the signal about member `member_id` changes them on `as_of`. `department` names
    the partner; `expenses` are the household's recorded medical expenses (`assessment.medical_expenses_of`)."""
    # Worded as the eligibility check words a recorded figure's source, so the criteria list it among them.
    source = f"department: {department}, {as_of.isoformat()}"  # obtained today, the day it was received
    fact = {"applied": None, "member_id": member_id, "source": source, "partner_signal_id": signal.signal_id,
            "occurred_on": signal.occurred_on.isoformat()}
    if signal.kind == "medical_bill":
        bill = SimpleNamespace(member_id=member_id, amount_fen=signal.amount_fen or 0,
                               period_from=signal.occurred_on.replace(day=1))
        counted = {int(p.key) for p in rules.counted_people(facts, as_of)}
        if not bill.amount_fen or member_id not in counted or not assessment.in_medical_window(bill, as_of):
            return Applied(facts, None)  # nothing the 支出型 rule counts: a bill of another year, or of no one counted
        facts = dataclasses.replace(
            facts, medical_expense_fen=assessment.medical_monthly([*expenses, bill], counted, as_of),
            medical_sources=_sources(facts.medical_sources, source))
        return Applied(facts, fact | {"applied": "medical_expense"})
    if signal.kind == "job_loss":
        facts = _person(facts, member_id, wages_fen=0, other_income_fen=next(
            p.other_income_fen for p in facts.people if p.key == str(member_id)) + (signal.amount_fen or 0))
        facts = dataclasses.replace(facts, income_sources=_sources(facts.income_sources, source))
        return Applied(facts, fact | {"applied": "wages_stopped"})
    if signal.kind == "disability_record" and signal.disability_grade is not None:
        facts = _person(facts, member_id, disability_grade=signal.disability_grade,
                        disability_kind=signal.disability_kind)
        return Applied(facts, fact | {"applied": "disability"})
    if signal.kind == "disaster":
        return Applied(facts, fact | {"applied": "shock"}, shock=True)
    return Applied(facts, None)
