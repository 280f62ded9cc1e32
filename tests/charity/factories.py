"""Building blocks of the charity tests: organisations, projects in a given status, donations."""

import datetime as dt
import itertools

from sqlalchemy import update
from stdnum.cn import uscc

import services.charity.scopes  # noqa: F401  (declares the scopes)
from services.charity.projects.models import Project
from shared import clock
from shared.scopes import DECLARED
from tests.conftest import staff

API = "/api/charity/v1"
ORGS_WRITE = "charity.organizations:write"
PROJECTS_READ, PROJECTS_WRITE = "charity.projects:read", "charity.projects:write"
DONATIONS_READ, DONATIONS_WRITE = "charity.donations:read", "charity.donations:write"
FUNDS_WRITE, LEDGER_READ = "charity.funds:write", "charity.ledger:read"
ALL = tuple(name for name in DECLARED if name.startswith("charity."))  # every scope the service declares
YINZHOU = staff("330212", *ALL, subject="staff:yinzhou")
HAISHU = staff("330203", *ALL, subject="staff:haishu")
CITY = staff("330200", *ALL, subject="staff:city")

_serial = itertools.count(1)


def days(n: int) -> str:
    return (clock.today() + dt.timedelta(days=n)).isoformat()


def credit_code(district: str = "330212") -> str:
    body = f"53{district}MJ{next(_serial):07d}"
    return body + uscc.calc_check_digit(body)


async def organisation(client, principal=YINZHOU, *, qualified=True, district="330212", name="鄞州区慈善总会"):
    response = await client.post(
        f"{API}/organizations",
        headers=client.as_(principal),
        json={
            "name": name,
            "unified_social_credit_code": credit_code(district),
            "registered_on": "2015-01-01",
            "district_code": district,
            "address": "天童南路588号",  # placenames is not reached here: kept as pending, in the district
            "is_charity": True,
            "recognised_on": "2016-01-01",
            "contact_name": "周海波",
            "contact_phone": "13805741234",
        },
    )
    assert response.status_code == 201, response.text
    org = response.json()
    if qualified:
        granted = await client.post(
            f"{API}/organizations/{org['id']}/fundraising-qualification",
            json={"granted_on": "2017-01-01"},
            headers=client.as_(principal),
        )
        assert granted.status_code == 200, granted.text
        org = granted.json()
    return org


def project_body(org_id: int, **overrides) -> dict:
    body = {
        "organization_id": org_id,
        "title": "山区儿童助学计划",
        "summary": "为困难家庭儿童提供助学金",
        "beneficiaries": "鄞州区困难家庭在读儿童",
        "beneficiary_count": 200,
        "public_fundraising": True,
        "target_fen": 1_000_000,
        "starts_on": days(-5),
        "ends_on": days(60),
        "budget_lines": [{"name": "助学金", "amount_fen": 900_000}, {"name": "执行费用", "amount_fen": 100_000}],
    }
    return body | overrides


async def project(client, principal=YINZHOU, *, org=None, status="fundraising", filed_on=None, **overrides):
    """A project moved through the lifecycle up to `status` (its period includes today by default)."""
    org = org or await organisation(client, principal)
    response = await client.post(
        f"{API}/projects", json=project_body(org["id"], **overrides), headers=client.as_(principal)
    )
    assert response.status_code == 201, response.text
    created = response.json()
    filed_on = filed_on or days(-20)
    if status != "draft":
        await entered_on(client, created["id"], filed_on)
    steps = [
        ("filed", "filing", {"filed_on": filed_on}),
        ("fundraising", "start-fundraising", None),
        ("executing", "start-execution", None),
        ("closed", "close", None),
    ]
    for _to, action, body in steps:
        if created["status"] == status:
            break
        moved = await client.post(f"{API}/projects/{created['id']}/{action}", json=body, headers=client.as_(principal))
        assert moved.status_code == 200, moved.text
        created = moved.json()
    assert created["status"] == status
    return created


async def entered_on(client, project_id: int, day: str) -> None:
    """Make the project's record as old as `day` (Shanghai): a plan is filed on or after the day its project was
    created, and a test's project filed weeks ago was created no later. Straight in the database: the API
    creates projects today only."""
    at = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), tzinfo=clock.SHANGHAI)
    async with client.app.state.database.sessionmaker() as session:
        await session.execute(update(Project).where(Project.id == project_id).values(created_at=at))
        await session.commit()


def donation_body(project_id: int, txn: str, amount_fen: int = 10_000, **overrides) -> dict:
    body = {
        "project_id": project_id,
        "channel": "wechat",
        "channel_txn_id": txn,
        "amount_fen": amount_fen,
        "donor": {"kind": "person", "name": "王小明", "phone": "13912345678"},
        "honour_opt_in": True,
    }
    return body | overrides


async def donate(client, project_id, txn, amount_fen=10_000, principal=YINZHOU, **overrides):
    response = await client.post(
        f"{API}/donations", json=donation_body(project_id, txn, amount_fen, **overrides), headers=client.as_(principal)
    )
    assert response.status_code == 201, response.text
    return response.json()


def disbursement_body(project: dict, amount_fen: int, **overrides) -> dict:
    body = {
        "project_id": project["id"],
        "budget_line_id": project["budget_lines"][0]["id"],
        "payee_kind": "beneficiary",
        "payee_name": "李同学",
        "amount_fen": amount_fen,
        "purpose": "2026年秋季学期助学金",
        "evidence": [{"kind": "sign_off", "reference": "QS-2026-001"}],
    }
    return body | overrides


async def get_project(client, project_id, principal=YINZHOU):
    response = await client.get(f"{API}/projects/{project_id}", headers=client.as_(principal))
    assert response.status_code == 200, response.text
    return response.json()
