"""What eldercare staff import from spreadsheets (older people, canteens, caregivers) and export (older people,
home visits, meal orders). Each goes through the module's own schema, checks and create function, as its create
route does; the mechanism is shared/spreadsheet_transfers.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare.elders import service as elders
from services.eldercare.elders.models import Elder
from services.eldercare.elders.schemas import ElderIn
from services.eldercare.homecare import service as homecare
from services.eldercare.homecare.models import Visit
from services.eldercare.homecare.schemas import CaregiverIn
from services.eldercare.meals import service as meals
from services.eldercare.meals.models import MealOrder
from services.eldercare.meals.schemas import CanteenIn
from services.eldercare.scopes import (
    CANTEENS_WRITE,
    ELDERS_READ,
    ELDERS_WRITE,
    HOMECARE_WRITE,
    MEAL_ORDERS_READ,
    PII_READ,
    VISITS_READ,
)
from services.eldercare.subsidies.service import live_draws
from shared.addresses import AddressValues
from shared.areas import within_area
from shared.identity import Principal
from shared.spreadsheet_transfers import Exporter, Importer, imported_address, shanghai
from shared.spreadsheets import Column, Layout

# --- imports ------------------------------------------------------------------------------------------------

ELDERS_LAYOUT = Layout(
    "老年人",
    (
        Column("id_number", ("身份证号", "身份证号码", "id_number"), required=True, digits=True),
        Column("name", ("姓名", "name"), required=True),
        Column("phone", ("手机", "手机号", "联系电话", "phone"), digits=True),
        Column("address", ("地址", "住址", "家庭住址", "address"), required=True),
        Column("area_code", ("区划代码", "社区代码", "area_code"), digits=True),
        Column("latitude", ("纬度", "latitude"), kind="number"),
        Column("longitude", ("经度", "longitude"), kind="number"),
        Column("lives_alone", ("独居", "lives_alone"), kind="bool"),
        Column("contact_name", ("紧急联系人", "contact_name")),
        Column("contact_phone", ("紧急联系人电话", "contact_phone"), digits=True),
        Column("contact_relation", ("紧急联系人关系", "contact_relation")),
    ),
)


def _elder_values(values: dict[str, Any]) -> dict[str, Any]:
    """One emergency contact from its three columns (the schema takes a list)."""
    contact = {
        k.removeprefix("contact_"): values.pop(k)
        for k in ("contact_name", "contact_phone", "contact_relation")
        if k in values
    }
    if contact:
        values["emergency_contacts"] = [contact]
    return values


def _address(principal: Principal, data: ElderIn) -> AddressValues:
    return imported_address(principal, data, latitude=data.latitude, longitude=data.longitude)


async def _check_elder(_session: AsyncSession, principal: Principal, data: ElderIn) -> None:
    elders.check_new(data)
    _address(principal, data)


async def _register_elders(session: AsyncSession, principal: Principal, items: list[ElderIn]) -> list[bool]:
    registered = await elders.register_many(session, principal, [(data, _address(principal, data)) for data in items])
    return [not isinstance(outcome, int) for outcome in registered]


_CANTEEN_KINDS = {
    "中央厨房": "central_kitchen",
    "老年食堂": "canteen",
    "助餐服务中心": "canteen",
    "助餐点": "meal_point",
}


def _canteen_values(values: dict[str, Any]) -> dict[str, Any]:
    if isinstance(values.get("kind"), str):
        values["kind"] = _CANTEEN_KINDS.get(values["kind"], values["kind"])
    if isinstance(values.get("delivery_area_codes"), str):
        values["delivery_area_codes"] = [
            c for c in values["delivery_area_codes"].replace("，", ",").split(",") if c.strip()
        ]
    return values


_LEVELS = {
    "初级": "junior",
    "中级": "intermediate",
    "高级": "senior",
    "技师": "technician",
    "高级技师": "senior_technician",
}


def _caregiver_values(values: dict[str, Any]) -> dict[str, Any]:
    if isinstance(values.get("certificate_level"), str):
        values["certificate_level"] = _LEVELS.get(values["certificate_level"], values["certificate_level"])
    return values


async def _check_canteen(session: AsyncSession, principal: Principal, data: CanteenIn) -> None:
    imported_address(principal, data, latitude=data.latitude, longitude=data.longitude)
    await meals.check_new_canteen(session, data)


async def _create_canteens(session: AsyncSession, principal: Principal, items: list[CanteenIn]) -> list[bool]:
    return await meals.create_canteens(
        session,
        principal,
        [(data, imported_address(principal, data, latitude=data.latitude, longitude=data.longitude)) for data in items],
    )


IMPORTERS = (
    Importer(
        kind="elders",
        description="older people 老年人",
        scope=ELDERS_WRITE,
        layout=ELDERS_LAYOUT,
        schema=ElderIn,
        check=_check_elder,
        key=lambda data: data.id_number.upper(),
        create_many=_register_elders,
        build=_elder_values,
        addresses=True,
        tables=("elders",),
    ),
    Importer(
        kind="canteens",
        description="canteens and meal points 助餐机构",
        scope=CANTEENS_WRITE,
        layout=Layout(
            "助餐机构",
            (
                Column("name", ("名称", "name"), required=True),
                Column("kind", ("类型", "kind"), required=True),
                Column("supplied_by", ("供餐单位编号", "supplied_by"), kind="number"),
                Column("area_code", ("区划代码", "area_code"), digits=True),
                Column("address", ("地址", "address"), required=True),
                Column("latitude", ("纬度", "latitude"), kind="number"),
                Column("longitude", ("经度", "longitude"), kind="number"),
                Column("phone", ("电话", "phone"), digits=True),
                Column("delivery_area_codes", ("送餐范围", "delivery_area_codes")),
            ),
        ),
        schema=CanteenIn,
        check=_check_canteen,
        key=lambda data: f"{data.name}\x00{data.kind}\x00{data.area_code}",
        create_many=_create_canteens,
        addresses=True,
        tables=("canteens",),
        key_field="name",
        build=_canteen_values,
    ),
    Importer(
        kind="caregivers",
        description="caregivers 护理员",
        scope=HOMECARE_WRITE,
        layout=Layout(
            "护理员",
            (
                Column("provider_id", ("服务机构编号", "provider_id"), required=True, kind="number"),
                Column("name", ("姓名", "name"), required=True),
                Column("id_number", ("身份证号", "id_number"), required=True, digits=True),
                Column("phone", ("手机", "phone"), digits=True),
                Column("certificate_no", ("证书编号", "certificate_no"), required=True, digits=True),
                Column("certificate_level", ("证书等级", "certificate_level"), required=True),
                Column(
                    "certificate_expires_on", ("证书有效期至", "certificate_expires_on"), required=True, kind="date"
                ),
            ),
        ),
        schema=CaregiverIn,
        check=homecare.check_new_caregiver,
        key=lambda data: data.id_number.upper(),
        create_many=homecare.create_caregivers,
        tables=("caregivers",),
        area_field="provider_id",
        build=_caregiver_values,
    ),
)

# --- exports ------------------------------------------------------------------------------------------------


def _within(query: Any, column: Any, filters: dict[str, Any]) -> Any:
    area = filters.get("area_code")
    return query.where(within_area(column, area)) if area else query


async def _elder_rows(_session: AsyncSession, rows: list[Any], clear: bool) -> list[list[Any]]:
    out = []
    for (elder,) in rows:
        shown = elders.to_out(elder)
        row = [
            shown.id,
            shown.name,
            shown.id_number_masked,
            "男" if shown.sex == "male" else "女",
            shown.birth_on,
            shown.age,
            shown.phone_masked,
            shown.address,
            shown.area_code,
            "是" if shown.lives_alone else "否",
            shanghai(shown.created_at),
        ]
        if clear:
            row += [elder.id_number, elder.phone]
        out.append(row)
    return out


async def _visit_rows(session: AsyncSession, rows: list[Any], _clear: bool) -> list[list[Any]]:
    ids = [visit.id for (visit,) in rows]
    drawn = await live_draws(session, ids)
    out = []
    for (visit,) in rows:
        shown = homecare.visit_out(visit, drawn.get(visit.id))
        out.append(
            [
                shown.id,
                shown.elder_id,
                shown.service_id,
                shown.caregiver_id,
                shanghai(shown.starts_at),
                shanghai(shown.ends_at),
                shown.status,
                shown.price_fen,
                shown.subsidy_fen,
                shown.self_paid_fen,
                shanghai(shown.check_in_at),
                shanghai(shown.check_out_at),
                shown.rating,
            ]
        )
    return out


async def _order_rows(_session: AsyncSession, rows: list[Any], _clear: bool) -> list[list[Any]]:
    out = []
    for order, menu, canteen in rows:
        shown = meals.order_out(order, menu, canteen)
        out.append(
            [
                shown.id,
                shown.elder_id,
                shown.canteen_name,
                shown.served_on,
                shown.meal,
                shown.fulfilment,
                shown.quantity,
                shown.unit_price_fen,
                shown.subsidy_fen,
                shown.payable_fen,
                shown.subsidy_tier,
                shown.status,
                shanghai(shown.created_at),
            ]
        )
    return out


EXPORTERS = (
    Exporter(
        kind="elders",
        description="older people 老年人",
        scope=ELDERS_READ,
        pii_scope=PII_READ,
        sheet="老年人",
        headers=(
            "编号",
            "姓名",
            "身份证号（脱敏）",
            "性别",
            "出生日期",
            "年龄",
            "手机（脱敏）",
            "地址",
            "区划代码",
            "独居",
            "登记时间",
        ),
        clear_headers=("身份证号", "手机"),
        query=lambda principal, filters: _within(elders.visible_to(principal), Elder.area_code, filters),
        id_column=Elder.id,
        rows=_elder_rows,
        subject=lambda row: ("elder", str(row[0].id), row[0].area_code),
    ),
    Exporter(
        kind="visits",
        description="home visits 上门服务",
        scope=VISITS_READ,
        pii_scope=PII_READ,
        sheet="上门服务",
        headers=(
            "编号",
            "老人编号",
            "服务项目编号",
            "护理员编号",
            "开始",
            "结束",
            "状态",
            "价格（分）",
            "补贴（分）",
            "自付（分）",
            "签到时间",
            "签退时间",
            "评价",
        ),
        clear_headers=(),
        query=lambda principal, filters: homecare.visits_visible_to(principal).where(
            Visit.elder_id.in_(
                _within(elders.visible_to(principal), Elder.area_code, filters).with_only_columns(Elder.id)
            )
        ),
        id_column=Visit.id,
        rows=_visit_rows,
        subject=lambda row: ("visit", str(row[0].id), None),
    ),
    Exporter(
        kind="orders",
        description="meal orders 助餐订单",
        scope=MEAL_ORDERS_READ,
        pii_scope=PII_READ,
        sheet="助餐订单",
        headers=(
            "编号",
            "老人编号",
            "助餐机构",
            "就餐日期",
            "餐次",
            "取餐方式",
            "份数",
            "单价（分）",
            "补贴（分）",
            "应付（分）",
            "补贴档次",
            "状态",
            "下单时间",
        ),
        clear_headers=(),
        query=lambda principal, filters: meals.orders_visible_to(principal).where(
            MealOrder.elder_id.in_(
                _within(elders.visible_to(principal), Elder.area_code, filters).with_only_columns(Elder.id)
            )
        ),
        id_column=MealOrder.id,
        rows=_order_rows,
        subject=lambda row: ("meal_order", str(row[0].id), None),
    ),
)
