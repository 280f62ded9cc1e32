"""What assistance staff import from spreadsheets (households with their members, a row per member) and export
(households with their members, leads). Each goes through the module's own schema, checks and create function, as
its create route does; the mechanism is shared/spreadsheet_transfers.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.assistance.households import service as households
from services.assistance.households.models import Household, Member
from services.assistance.households.schemas import HouseholdIn
from services.assistance.leads import service as leads
from services.assistance.leads.models import Lead
from services.assistance.scopes import HOUSEHOLDS_READ, HOUSEHOLDS_WRITE, LEADS_READ, PII_READ
from shared.areas import within_area
from shared.identity import Principal
from shared.spreadsheet_transfers import Exporter, Importer, imported_address, shanghai
from shared.spreadsheets import Column, Layout

RELATIONSHIPS = {
    "申请人": "applicant",
    "本人": "applicant",
    "配偶": "spouse",
    "子女": "child",
    "父母": "parent",
    "祖父母": "grandparent",
    "外祖父母": "grandparent",
    "孙子女": "grandchild",
    "外孙子女": "grandchild",
    "兄弟姐妹": "sibling",
    "其他": "other",
}
LABOUR = {
    "完全": "full",
    "有劳动能力": "full",
    "部分": "partial",
    "部分丧失": "partial",
    "无": "none",
    "无劳动能力": "none",
}
HOUSEHOLD_FIELDS = ("area_code", "address")

HOUSEHOLDS_LAYOUT = Layout(
    "家庭成员",
    (
        Column("household", ("户编号", "household"), required=True),
        Column("area_code", ("区划代码", "area_code"), digits=True),
        Column("address", ("地址", "address"), required=True),
        Column("id_number", ("身份证号", "id_number"), required=True, digits=True),
        Column("name", ("姓名", "name"), required=True),
        Column("relationship", ("与申请人关系", "relationship"), required=True),
        Column("labour_capacity", ("劳动能力", "labour_capacity")),
        Column("disability_grade", ("残疾等级", "disability_grade"), kind="number"),
        Column("disability_kind", ("残疾类别", "disability_kind")),
        Column("lives_together", ("共同居住", "lives_together"), kind="bool"),
        Column("legal_duty_of_support", ("法定赡养抚养扶养义务", "legal_duty_of_support"), kind="bool"),
        Column("full_time_student", ("全日制在校", "full_time_student"), kind="bool"),
        Column("schooling", ("受教育阶段", "schooling")),
    ),
    group_by="household",
    members="members",
)


def _household_values(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A household from its rows: where it lives from its first row, one member per row."""
    members = []
    for values in rows:
        member = {k: v for k, v in values.items() if k not in (*HOUSEHOLD_FIELDS, "household")}
        if isinstance(member.get("relationship"), str):
            member["relationship"] = RELATIONSHIPS.get(member["relationship"], member["relationship"])
        if isinstance(member.get("labour_capacity"), str):
            member["labour_capacity"] = LABOUR.get(member["labour_capacity"], member["labour_capacity"])
        members.append(member)
    return {**{k: rows[0][k] for k in HOUSEHOLD_FIELDS if k in rows[0]}, "members": members}


def _applicant(data: HouseholdIn) -> str:
    return next(m.id_number.upper() for m in data.members if m.relationship == "applicant")


async def _check_household(session: AsyncSession, principal: Principal, data: HouseholdIn) -> None:
    imported_address(principal, data)
    await households.check_import(session, data)


async def _create_households(session: AsyncSession, principal: Principal, items: list[HouseholdIn]) -> list[bool]:
    return await households.create_many(
        session, principal, [(data, imported_address(principal, data)) for data in items]
    )


IMPORTERS = (
    Importer(
        kind="households",
        description="households with their members 家庭及成员, a row per member grouped by 户编号",
        scope=HOUSEHOLDS_WRITE,
        layout=HOUSEHOLDS_LAYOUT,
        schema=HouseholdIn,
        check=_check_household,
        key=_applicant,
        create_many=_create_households,
        tables=("households", "members"),
        build=_household_values,
        addresses=True,
    ),
)


async def _household_rows(session: AsyncSession, rows: list[Any], clear: bool) -> list[list[Any]]:
    """A row per member, after its household's columns (a household without members has one row)."""
    by_household: dict[int, list[Member]] = {household.id: [] for (household,) in rows}
    for member in await session.scalars(
        select(Member).where(Member.household_id.in_(list(by_household))).order_by(Member.id)
    ):
        by_household[member.household_id].append(member)
    out = []
    for (household,) in rows:
        shown = households.to_out(household, by_household[household.id])
        head = [shown.id, shown.area_code, shown.address, shown.counted_members, shanghai(shown.created_at)]
        for member, out_member in zip(by_household[household.id], shown.members, strict=True):
            row = [
                *head,
                out_member.name,
                out_member.id_number_masked,
                out_member.relationship,
                out_member.age,
                "是" if out_member.counted else "否",
            ]
            out.append([*row, member.id_number] if clear else row)
        if not shown.members:
            out.append(head)
    return out


async def _lead_rows(_session: AsyncSession, rows: list[Any], _clear: bool) -> list[list[Any]]:
    return [
        [
            lead.id,
            lead.household_id,
            lead.area_code,
            lead.programme,
            lead.state,
            lead.screening_id,
            shanghai(lead.created_at),
        ]
        for (lead,) in rows
    ]


def _within(query: Any, column: Any, filters: dict[str, Any]) -> Any:
    area = filters.get("area_code")
    return query.where(within_area(column, area)) if area else query


def _household_subject(row: Any) -> tuple[str, str, str | None]:
    return ("household", str(row[0].id), row[0].area_code)


EXPORTERS = (
    Exporter(
        kind="households",
        description="households and their members 家庭及成员, a row per member",
        scope=HOUSEHOLDS_READ,
        pii_scope=PII_READ,
        sheet="家庭成员",
        headers=(
            "户编号",
            "区划代码",
            "地址",
            "计入成员数",
            "登记时间",
            "姓名",
            "身份证号（脱敏）",
            "与申请人关系",
            "年龄",
            "计入家庭成员",
        ),
        clear_headers=("身份证号",),
        query=lambda principal, filters: _within(households.visible_to(principal), Household.area_code, filters),
        id_column=Household.id,
        rows=_household_rows,
        subject=_household_subject,
    ),
    Exporter(
        kind="leads",
        description="leads of households that look eligible 主动发现线索",
        scope=LEADS_READ,
        pii_scope=PII_READ,
        sheet="线索",
        headers=("编号", "户编号", "区划代码", "救助项目", "状态", "排查编号", "发现时间"),
        clear_headers=(),
        query=lambda principal, filters: _within(leads.visible_to(principal), Lead.area_code, filters),
        id_column=Lead.id,
        rows=_lead_rows,
        subject=lambda row: ("lead", str(row[0].id), row[0].area_code),
    ),
)
