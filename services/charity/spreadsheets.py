"""What charity staff export to spreadsheets: the donations to projects of their area, as the list route shows
them (the donor's phone masked unless a purpose is stated). The mechanism is shared/spreadsheet_transfers.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.charity.donations import service as donations
from services.charity.donations.models import Donation
from services.charity.projects.models import Project
from services.charity.scopes import DONATIONS_READ, PII_READ
from shared.areas import within_area
from shared.spreadsheet_transfers import Exporter, shanghai


async def _donation_rows(session: AsyncSession, rows: list[Any], clear: bool) -> list[list[Any]]:
    refunded = await donations.refunded_of(session, [donation.id for donation, _ in rows])
    out = []
    for donation, _ in rows:
        shown = donations.donation_out(donation, refunded[donation.id])
        row = [
            shown.id,
            shown.project_id,
            shown.organization_id,
            shown.channel,
            shown.channel_txn_id,
            shown.amount_fen,
            shown.refunded_fen,
            shown.refundable_fen,
            shown.donor_kind,
            shown.donor_name,
            shown.donor_phone_masked,
            shanghai(shown.donated_at),
        ]
        out.append([*row, donation.donor_phone] if clear else row)
    return out


def _query(principal: Any, filters: dict[str, Any]) -> Any:
    query = donations.visible_to(principal).add_columns(Project.district_code)
    area = filters.get("area_code")
    return query.where(within_area(Project.district_code, area)) if area else query


EXPORTERS = (
    Exporter(
        kind="donations",
        description="donations to projects of your area 捐赠",
        scope=DONATIONS_READ,
        pii_scope=PII_READ,
        sheet="捐赠",
        headers=(
            "编号",
            "项目编号",
            "机构编号",
            "渠道",
            "渠道流水号",
            "金额（分）",
            "已退（分）",
            "可退（分）",
            "捐赠人类型",
            "捐赠人",
            "手机（脱敏）",
            "捐赠时间",
        ),
        clear_headers=("手机",),
        query=_query,
        id_column=Donation.id,
        rows=_donation_rows,
        subject=lambda row: ("donor", str(row[0].id), row[1]),
    ),
)
