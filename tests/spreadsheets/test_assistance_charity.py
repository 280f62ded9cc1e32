"""Assistance staff import households with their members (a row per member) and export households and leads;
charity staff export donations: through the gateway, with the same rules as the create and list routes."""

from __future__ import annotations

import datetime as dt
import io
from types import SimpleNamespace

from openpyxl import load_workbook

from shared.identity import Principal
from tests.charity import factories
from tests.spreadsheets.conftest import BAIZHANG, id_number, workbook, xlsx

HEADER = ["户编号", "区划代码", "地址", "身份证号", "姓名", "与申请人关系", "劳动能力", "法定赡养抚养扶养义务"]
API = "/api/assistance/v1"


def person(serial: int, year: int) -> str:
    return id_number(serial, born=dt.date(year, 1, 1) + dt.timedelta(days=serial))


def household_rows(key: str, first: int) -> list[list]:
    return [
        [key, BAIZHANG, "百丈东路8号", person(first, 1975), f"户主{first}", "申请人", "无", None],
        [key, BAIZHANG, "百丈东路8号", person(first + 1, 1976), f"配偶{first}", "配偶", "部分", None],
        [key, BAIZHANG, "百丈东路8号", person(first + 2, 2012), f"子女{first}", "子女", None, None],
    ]


async def download(suite, service: str, who, **body) -> tuple[dict, list[tuple]]:
    asked = await suite.http.post(f"/api/{service}/v1/spreadsheet-exports", json=body, headers=suite.bearer(who))
    assert asked.status_code == 202, asked.text
    await suite.drain(service)
    done = (
        await suite.http.get(f"/api/{service}/v1/spreadsheet-exports/{asked.json()['id']}", headers=suite.bearer(who))
    ).json()
    assert done["status"] == "ready", done
    file = await suite.http.get(done["download"], headers=suite.bearer(who))
    assert file.status_code == 200
    return done, list(load_workbook(io.BytesIO(file.content), read_only=True).active.iter_rows(values_only=True))


async def test_households_are_imported_with_their_members_and_problems_land_on_the_members_row(suite):
    rows = [HEADER, *household_rows("H1", 1), *household_rows("H2", 10)]
    result = await suite.imported(xlsx(workbook(rows, sheet="家庭成员")), service="assistance", kind="households")
    assert (result["status"], result["rows_total"], result["rows_created"]) == ("imported", 2, 2), result["problems"]
    listed = (await suite.http.get(f"{API}/households", headers=suite.bearer("staff-yinzhou"))).json()["items"]
    assert sorted(len(h["members"]) for h in listed) == [3, 3]
    assert {m["relationship"] for h in listed for m in h["members"]} == {"applicant", "spouse", "child"}

    # Again with a third household whose grandparent has no stated duty of support, and H1 repeated:
    # refused whole; the problem sits on the grandparent's row and column.
    grandparent = ["H3", BAIZHANG, "百丈东路9号", person(30, 1950), "祖父", "祖父母", "无", None]
    again = [HEADER, *household_rows("H1", 1), *household_rows("H3", 20), grandparent]
    refused = await suite.imported(xlsx(workbook(again, sheet="家庭成员")), service="assistance", kind="households")
    assert refused["status"] == "rejected"
    (problem,) = refused["problems"]
    assert (problem["row"], problem["column"], problem["field"]) == (8, "H", "法定赡养抚养扶养义务")

    # The clean households only: H1 is already recorded (skipped), H3 is not clean.
    clean = await suite.imported(
        xlsx(workbook(again, sheet="家庭成员")), service="assistance", kind="households", clean_rows_only="true"
    )
    assert (clean["status"], clean["rows_created"], clean["rows_present"], clean["rows_refused"]) == (
        "imported",
        0,
        1,
        1,
    )

    # Members of one household must be on consecutive rows.
    split = [HEADER, household_rows("H4", 40)[0], household_rows("H5", 50)[0], household_rows("H4", 40)[1]]
    apart = await suite.imported(xlsx(workbook(split, sheet="家庭成员")), service="assistance", kind="households")
    assert apart["status"] == "rejected" and any(p["row"] == 4 and "next to" in p["message"] for p in apart["problems"])

    done, sheet = await download(suite, "assistance", "staff-yinzhou", kind="households")
    assert done["rows_total"] == 6 and sheet[0][0] == "户编号"
    assert all("*" in row[6] for row in sheet[1:])
    done, sheet = await download(suite, "assistance", "staff-yinzhou", kind="households", purpose="低保年审入户核对")
    assert {row[-1] for row in sheet[1:]} >= {person(1, 1975), person(10, 1975)}

    done, sheet = await download(suite, "assistance", "staff-yinzhou", kind="leads")
    assert done["rows_total"] == 0 and sheet[0][0] == "编号"
    no_pii = await suite.http.post(
        f"{API}/spreadsheet-exports",
        json={"kind": "leads", "purpose": "核对线索"},
        headers=suite.bearer("staff-yinzhou"),
    )
    assert no_pii.status_code == 422 and no_pii.json()["errors"][0]["field"] == "purpose"


class Through:
    """The charity test factories' client, through the gateway: `as_(principal)` is a bearer token."""

    def __init__(self, suite):
        self.suite = suite
        # `factories.project` dates a project back straight in the database, as the charity tests do.
        self.app = SimpleNamespace(state=SimpleNamespace(database=suite.databases["charity"]))

    def as_(self, principal: Principal) -> dict[str, str]:
        return self.suite.bearer(principal)

    async def post(self, url: str, **options):
        return await self.suite.http.post(url, **options)


async def test_donations_are_exported_with_the_donors_phone_masked_unless_a_purpose_is_stated(suite):
    client = Through(suite)
    organisation = await factories.organisation(client)
    project = await factories.project(client, org=organisation)
    await factories.donate(client, project["id"], "wx-0001", 12_345)
    await factories.donate(client, project["id"], "wx-0002", 500, donor={"kind": "anonymous"})

    done, sheet = await download(suite, "charity", factories.YINZHOU, kind="donations")
    assert done["rows_total"] == 2
    amounts = {row[4]: (row[5], row[9], row[10]) for row in sheet[1:]}
    assert amounts["wx-0001"][0] == 12_345 and "*" in amounts["wx-0001"][2]
    assert amounts["wx-0002"][1] != "王小明"

    _, clear = await download(suite, "charity", factories.YINZHOU, kind="donations", purpose="捐赠人回访致谢")
    assert "13912345678" in {row[-1] for row in clear[1:]}

    other_district = Principal(
        subject="staff:haishu", kind="staff", scopes=factories.HAISHU.scopes, area=factories.HAISHU.area
    )
    done, sheet = await download(suite, "charity", other_district, kind="donations")
    assert done["rows_total"] == 0
