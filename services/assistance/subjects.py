"""What assistance holds about a resident account, for personal-data requests (shared/subject_data.py): what the
resident declared and applied for from the mini-program (网上申请): households, their members, applications, the
materials uploaded and the consents given. A household declared but never applied with may be erased; everything
an application rests on is its case file, and is kept."""

from __future__ import annotations

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.applications.models import Application
from services.assistance.households.models import Household, Member
from services.assistance.notices import outbox
from services.assistance.online.models import DataCheckConsent, Material
from shared.errors import Conflict, NotFound
from shared.i18n import N_
from shared.idnumbers import mask_id_number
from shared.subject_data import MAX_RECORDS, HeldCategory, HeldRecord, SubjectData, row_id

KEEP_CASE_FILE = N_(
    "part of an assistance application's case file (社会救助档案): the record of what was declared, checked and "
    "decided, and of any public funds granted on it, kept under the civil-affairs archive rules; a correction may "
    "be asked for, and staff review it with the application"
)
KEEP_CONSENT = N_(
    "the consent the partner checks of an application rest on (家庭经济状况核对授权): kept as the proof that the "
    "checks were agreed to (PIPL art. 14), with the application's case file"
)
KEEP_MEMBER = N_("a member of a declared household: erase the household (if never applied with) to erase its members")


def _applied(household_id) -> object:
    return exists().where(Application.household_id == household_id)


def _record(record_id, about, fields, at, keep=None, correctable=()) -> HeldRecord:
    return HeldRecord(
        id=str(record_id),
        about=about,
        fields=fields,
        recorded_at=at,
        erasable=keep is None,
        retention=keep,
        correctable=list(correctable),
    )


async def _category(session: AsyncSession, code: str, title: str, query, build) -> HeldCategory:
    count = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = (await session.execute(query.limit(MAX_RECORDS))).all()
    return HeldCategory(category=code, title=title, count=count, records=[build(*row) for row in rows])


async def collect(session: AsyncSession, subject: str) -> list[HeldCategory]:
    mine = select(Household.id).where(Household.declared_by == subject)
    return [
        await _category(
            session,
            "declared_households",
            "申报的家庭 households this account declared",
            select(Household, _applied(Household.id))
            .where(Household.declared_by == subject)
            .order_by(Household.id.desc()),
            lambda h, applied: _record(
                h.id,
                "self",
                {"area_code": h.area_code, "address": h.address, "applied_with": applied},
                h.created_at,
                keep=KEEP_CASE_FILE if applied else None,
                correctable=["address"],
            ),
        ),
        await _category(
            session,
            "household_members",
            "家庭成员 the members of those households",
            select(Member).where(Member.household_id.in_(mine)).order_by(Member.id.desc()),
            lambda m: _record(
                m.id,
                f"member:{m.id}",
                {"name": m.name, "id_number": mask_id_number(m.id_number), "relationship": m.relationship},
                None,
                keep=KEEP_MEMBER,
                correctable=["name", "relationship"],
            ),
        ),
        await _category(
            session,
            "applications",
            "救助申请 applications this account made",
            select(Application).where(Application.submitted_by == subject).order_by(Application.id.desc()),
            lambda a: _record(
                a.id, "self", {"programme": a.programme, "state": a.state}, a.created_at, keep=KEEP_CASE_FILE
            ),
        ),
        await _category(
            session,
            "application_materials",
            "申请材料 documents this account uploaded",
            select(Material).where(Material.uploaded_by == subject).order_by(Material.id.desc()),
            lambda m: _record(
                m.id,
                "self",
                {
                    "application_id": m.application_id,
                    "kind": m.kind,
                    "content_type": m.content_type,
                    "size_bytes": m.size_bytes,
                },
                m.uploaded_at,
                keep=KEEP_CASE_FILE,
            ),
        ),
        await _category(
            session,
            "data_check_consents",
            "核对授权 consents to partner checks this account gave",
            select(DataCheckConsent).where(DataCheckConsent.given_by == subject).order_by(DataCheckConsent.id.desc()),
            lambda c: _record(
                c.id,
                "self",
                {
                    "application_id": c.application_id,
                    "checks": ", ".join(c.checks),
                    "wording_version": c.wording_version,
                },
                c.given_at,
                keep=KEEP_CONSENT,
            ),
        ),
    ]


async def erase(session: AsyncSession, subject: str, category: str, record_id: str) -> None:
    """Erase a declared household never applied with (its members with it); everything else is a case file."""
    reasons = {
        "household_members": KEEP_MEMBER,
        "applications": KEEP_CASE_FILE,
        "application_materials": KEEP_CASE_FILE,
        "data_check_consents": KEEP_CONSENT,
    }
    if category in reasons:
        raise Conflict("kept: {reason}", resource=f"{category}/{record_id}", reason=reasons[category])
    household_id = row_id(record_id)
    if category != "declared_households" or household_id is None:
        raise NotFound(
            "assistance holds no {category} record {record_id} of this subject", category=category, record_id=record_id
        )
    household = await session.scalar(
        select(Household).where(Household.id == household_id, Household.declared_by == subject).with_for_update()
    )
    if household is None:
        raise NotFound("no declared household {record_id} of this subject", record_id=record_id)
    if await session.scalar(select(_applied(household.id))):
        raise Conflict("kept: {reason}", resource=f"declared-households/{household.id}", reason=KEEP_CASE_FILE)
    await session.delete(household)
    await session.flush()


SUBJECT_DATA = SubjectData("assistance", collect, erase, also=(outbox,))  # and its notifications
