"""Why a household gets no lead for a programme: it receives the programme already, or an application for it is
under way (受理 → 入户调查 → 初审 → 公示). A lead asks staff to visit a household that has not applied; one that has
is already in the review chain, and a lead would send a worker to it twice (a household in 公示 was listed).

The screening (`batch.hits_select`) and a signal (`signals.receive_signal`, through `excluded_targets`) leave such
targets out, and staff who look the household up see why (`household_exclusions`, GET /leads/households/{id})."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.applications.models import OPEN_STATES, Application
from services.assistance.households.models import Member
from services.assistance.programmes.models import Enrolment
from shared.programmes import HOUSEHOLD_PROGRAMMES


def live_applications(*, after_id: int, until_id: int | None) -> Select:
    """(household_id, member_id, programme) of the applications under way for the households with
    after_id < id ≤ until_id: member_id is the person for a person's programme, NULL for 低保 and 低保边缘."""
    where = [Application.state.in_(OPEN_STATES), Application.household_id > after_id]
    if until_id is not None:
        where.append(Application.household_id <= until_id)
    return select(Application.household_id, Application.member_id, Application.programme).where(*where)


async def excluded_targets(session: AsyncSession, as_of: dt.date, *, after_id: int, until_id: int) -> set[tuple]:
    """("h", household, programme) for household programmes and ("m", member, programme) for the others, current on
    as_of or applied for (an application under way), for the households with after_id < id ≤ until_id (a range,
    not a list: a chunk is tens of thousands)."""
    rows = await session.execute(
        union_all(
            select(Member.household_id, Member.id, Enrolment.programme)
            .join(Enrolment, Enrolment.id_number_index == Member.id_number_index)
            .where(
                Member.household_id > after_id,
                Member.household_id <= until_id,
                Enrolment.since_on <= as_of,
                or_(Enrolment.until_on.is_(None), Enrolment.until_on > as_of),
            ),
            live_applications(after_id=after_id, until_id=until_id),
        )
    )
    found = set()
    for household_id, member_id, programme in rows:
        found.add(("h", household_id, programme) if programme in HOUSEHOLD_PROGRAMMES else ("m", member_id, programme))
    return found


def is_excluded(targets: set[tuple], household_id: int, programme: str, member_id: int | None) -> bool:
    """Whether `excluded_targets` holds the lead's target: the household for household programmes, else the member."""
    if member_id is None:
        return ("h", household_id, programme) in targets
    return ("m", member_id, programme) in targets


async def household_exclusions(session: AsyncSession, household_id: int, as_of: dt.date) -> list[dict]:
    """Each programme (and person) the household gets no lead for on `as_of`, with the reason: `applying` (the
    application under way and its state) or `receiving` (the enrolment and since when)."""
    applying = await session.execute(
        select(Application.programme, Application.member_id, Application.id, Application.state)
        .where(Application.household_id == household_id, Application.state.in_(OPEN_STATES))
        .order_by(Application.id)
    )
    receiving = await session.execute(
        select(Enrolment.programme, Member.id, Enrolment.since_on)
        .join(Enrolment, Enrolment.id_number_index == Member.id_number_index)
        .where(
            Member.household_id == household_id,
            Enrolment.since_on <= as_of,
            or_(Enrolment.until_on.is_(None), Enrolment.until_on > as_of),
        )
        .order_by(Enrolment.programme, Enrolment.since_on, Member.id)
    )
    found = [
        {
            "programme": programme,
            "member_id": member_id,
            "reason": "applying",
            "application_id": application_id,
            "application_state": state,
            "since_on": None,
        }
        for programme, member_id, application_id, state in applying
    ]
    told = set()
    for programme, member_id, since_on in receiving:
        if programme in HOUSEHOLD_PROGRAMMES:
            member_id = None  # every counted member is enrolled in the household's programme: told once
        if (programme, member_id) in told:
            continue
        told.add((programme, member_id))
        found.append(
            {
                "programme": programme,
                "member_id": member_id,
                "reason": "receiving",
                "application_id": None,
                "application_state": None,
                "since_on": since_on,
            }
        )
    return found
