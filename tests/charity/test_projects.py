"""Charity projects: the lifecycle, the filing clock, qualification, disclosures and their duty."""

import datetime as dt

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from services.charity.projects.models import Project
from services.charity.projects.service import add_months, disclosure_due
from shared import clock
from tests.charity.factories import (
    API,
    CITY,
    HAISHU,
    YINZHOU,
    days,
    entered_on,
    get_project,
    organisation,
    project,
    project_body,
)
from tests.conftest import staff

URL = f"{API}/projects"


async def test_a_project_goes_from_draft_to_closed_and_nowhere_else(client):
    org = await organisation(client)
    created = await project(client, org=org, status="draft")
    assert created["status"] == "draft" and created["filed_on"] is None
    assert [(b["line_no"], b["name"], b["amount_fen"], b["spent_fen"]) for b in created["budget_lines"]] == [
        (1, "助学金", 900_000, 0),
        (2, "执行费用", 100_000, 0),
    ]
    assert (created["raised_fen"], created["spent_fen"], created["balance_fen"]) == (0, 0, 0)
    headers = client.as_(YINZHOU)
    pid = created["id"]
    for action in ("start-fundraising", "start-execution", "close"):
        early = await client.post(f"{URL}/{pid}/{action}", headers=headers)
        assert early.status_code == 409 and early.json()["resource"] == f"projects/{pid}", action
        assert "draft" in early.json()["detail"]
    await entered_on(client, pid, days(-20))
    filed = await client.post(
        f"{URL}/{pid}/filing", json={"filed_on": days(-20), "filing_number": "53330212MJ-001"}, headers=headers
    )
    assert filed.status_code == 200 and filed.json()["status"] == "filed"
    assert filed.json()["filing_number"] == "53330212MJ-001"
    assert (await client.post(f"{URL}/{pid}/filing", json={"filed_on": days(-20)}, headers=headers)).status_code == 409
    for action, status in (("start-fundraising", "fundraising"), ("start-execution", "executing"), ("close", "closed")):
        moved = await client.post(f"{URL}/{pid}/{action}", headers=headers)
        assert moved.status_code == 200 and moved.json()["status"] == status, moved.text
        again = await client.post(f"{URL}/{pid}/{action}", headers=headers)
        assert again.status_code == 409
    assert (await get_project(client, pid))["status"] == "closed"


async def test_a_public_plan_is_filed_at_least_ten_days_before_it_starts(client):
    org = await organisation(client)
    nine = await project(client, org=org, status="draft", starts_on=days(9), ends_on=days(90))
    late = await client.post(f"{URL}/{nine['id']}/filing", headers=client.as_(YINZHOU))
    assert late.status_code == 409, late.text
    assert "at least 10 days" in late.json()["detail"] and late.json()["resource"] == f"projects/{nine['id']}"
    assert (await get_project(client, nine["id"]))["status"] == "draft"  # nothing half-written
    ten = await project(client, org=org, status="draft", starts_on=days(10), ends_on=days(90))
    on_time = await client.post(f"{URL}/{ten['id']}/filing", headers=client.as_(YINZHOU))
    assert on_time.status_code == 200 and on_time.json()["filed_on"] == clock.today().isoformat()
    # Not yet started: fundraising cannot open before its first day.
    early = await client.post(f"{URL}/{ten['id']}/start-fundraising", headers=client.as_(YINZHOU))
    assert early.status_code == 409 and "period" in early.json()["detail"]
    future = await client.post(f"{URL}/{ten['id']}/filing", json={"filed_on": days(1)}, headers=client.as_(YINZHOU))
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "filed_on"


async def test_an_emergency_fundraising_may_file_within_ten_days_after_it_starts(client):
    org = await organisation(client)
    too_late = await project(client, org=org, status="draft", emergency=True, starts_on=days(-11), ends_on=days(30))
    response = await client.post(f"{URL}/{too_late['id']}/filing", headers=client.as_(YINZHOU))
    assert response.status_code == 409 and "within 10 days after" in response.json()["detail"]
    in_time = await project(client, org=org, status="draft", emergency=True, starts_on=days(-10), ends_on=days(30))
    response = await client.post(f"{URL}/{in_time['id']}/filing", headers=client.as_(YINZHOU))
    assert response.status_code == 200 and response.json()["filed_on"] == clock.today().isoformat()
    assert (await client.post(f"{URL}/{in_time['id']}/start-fundraising", headers=client.as_(YINZHOU))).json()[
        "status"
    ] == "fundraising"
    # A directed (non-public) fundraising has no filing clock.
    directed = await project(client, org=org, status="draft", public_fundraising=False, starts_on=days(1))
    assert (await client.post(f"{URL}/{directed['id']}/filing", headers=client.as_(YINZHOU))).status_code == 200


async def test_a_filing_dated_before_the_project_was_created_is_refused(client):
    org = await organisation(client)
    draft = await project(client, org=org, status="draft", public_fundraising=False, starts_on=days(-5))
    created_on = dt.datetime.fromisoformat(draft["created_at"]).astimezone(clock.SHANGHAI).date()
    day_before = (created_on - dt.timedelta(days=1)).isoformat()
    early = await client.post(f"{URL}/{draft['id']}/filing", json={"filed_on": day_before}, headers=client.as_(YINZHOU))
    assert early.status_code == 422, early.text
    assert early.json()["errors"][0]["field"] == "filed_on" and created_on.isoformat() in early.json()["detail"]
    assert (await get_project(client, draft["id"]))["status"] == "draft"
    # The database itself refuses such a filing, written around the service.
    async with client.app.state.database.sessionmaker() as session:
        try:
            async with session.begin_nested():
                await session.execute(
                    text("UPDATE projects SET status = 'filed', filed_on = :day WHERE id = :id"),
                    {"day": dt.date.fromisoformat(day_before), "id": draft["id"]},
                )
            raise AssertionError("a filing before the project's creation was stored")
        except IntegrityError as refused:
            assert "filed_after_created" in str(refused)
    # Filed the day it was created (in Shanghai), it is accepted.
    on_the_day = await client.post(
        f"{URL}/{draft['id']}/filing", json={"filed_on": created_on.isoformat()}, headers=client.as_(YINZHOU)
    )
    assert on_the_day.status_code == 200, on_the_day.text


async def test_only_qualified_organisations_fundraise_publicly(client):
    unqualified = await organisation(client, qualified=False, name="鄞州区邻里互助会")
    response = await client.post(URL, json=project_body(unqualified["id"]), headers=client.as_(YINZHOU))
    assert response.status_code == 409 and response.json()["resource"] == f"organizations/{unqualified['id']}"
    assert "公开募捐资格" in response.json()["detail"]
    listed = await client.get(URL, headers=client.as_(YINZHOU))
    assert listed.json()["items"] == []  # nothing half-written
    directed = await project(client, org=unqualified, public_fundraising=False)
    assert directed["status"] == "fundraising"
    # Qualified since 2017: a plan filed (on paper) before that date is refused.
    org = await organisation(client)
    draft = await project(client, org=org, status="draft", starts_on="2016-12-20", ends_on=days(30))
    await entered_on(client, draft["id"], "2016-11-01")
    before = await client.post(
        f"{URL}/{draft['id']}/filing", json={"filed_on": "2016-12-01"}, headers=client.as_(YINZHOU)
    )
    assert before.status_code == 409 and before.json()["resource"] == f"organizations/{org['id']}"


async def test_bad_plans_name_the_field(client):
    org = await organisation(client)
    cases = {
        "budget_lines": dict(budget_lines=[{"name": "助学金", "amount_fen": 1}]),
        "ends_on": dict(starts_on=days(10), ends_on=days(9)),
        "emergency": dict(public_fundraising=False, emergency=True),
        "organization_id": dict(organization_id=999_999),
        "target_fen": dict(target_fen=0),
        "budget_lines.0.amount_fen": dict(budget_lines=[{"name": "x", "amount_fen": 1.5}]),
    }
    for field, overrides in cases.items():
        response = await client.post(URL, json=project_body(org["id"]) | overrides, headers=client.as_(YINZHOU))
        assert response.status_code == 422, (field, response.text)
        assert response.json()["errors"][0]["field"] == field, response.json()
    assert (await client.get(URL, headers=client.as_(YINZHOU))).json()["items"] == []


async def test_projects_are_seen_by_staff_of_their_area_only(client):
    mine = await project(client)
    assert (await client.get(f"{URL}/{mine['id']}", headers=client.as_(HAISHU))).status_code == 404
    assert (await client.get(URL, headers=client.as_(HAISHU))).json()["items"] == []
    assert (await client.post(f"{URL}/{mine['id']}/start-execution", headers=client.as_(HAISHU))).status_code == 404
    assert (await client.get(f"{URL}/{mine['id']}", headers=client.as_(CITY))).json()["id"] == mine["id"]
    org = await organisation(client, district="330212", name="另一个组织")
    other = await client.post(URL, json=project_body(org["id"]), headers=client.as_(HAISHU))
    assert other.status_code == 404
    assert (await client.get(URL)).status_code == 401
    no_scope = await client.get(URL, headers=client.as_(staff("330212")))
    assert no_scope.status_code == 403
    listed = await client.get(URL, params={"status": "fundraising"}, headers=client.as_(CITY))
    assert [p["id"] for p in listed.json()["items"]] == [mine["id"]]
    assert (await client.get(URL, params={"status": "draft"}, headers=client.as_(CITY))).json()["items"] == []


async def test_disclosures_are_append_only_and_corrections_name_the_original(client):
    created = await project(client)
    url = f"{URL}/{created['id']}/disclosures"
    headers = client.as_(YINZHOU)
    first = await client.post(
        url,
        json={
            "kind": "progress",
            "title": "第一季度进展",
            "content": "已募集 5,000 元",
            "period_from": days(-5),
            "period_to": days(0),
        },
        headers=headers,
    )
    assert first.status_code == 201, first.text
    wrong = await client.post(
        url, json={"kind": "correction", "title": "更正", "content": "应为 5,500 元"}, headers=headers
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "corrects_id"
    fix = await client.post(
        url,
        json={"kind": "correction", "title": "更正", "content": "应为 5,500 元", "corrects_id": first.json()["id"]},
        headers=headers,
    )
    assert fix.status_code == 201 and fix.json()["corrects_id"] == first.json()["id"]
    listed = (await client.get(url, headers=headers)).json()
    assert [d["id"] for d in listed] == [first.json()["id"], fix.json()["id"]]
    assert listed[0]["content"] == "已募集 5,000 元" and listed[0]["corrected_by"] == [fix.json()["id"]]
    other = await project(client, org=None)
    foreign = await client.post(
        f"{URL}/{other['id']}/disclosures",
        headers=headers,
        json={"kind": "correction", "title": "x", "content": "y", "corrects_id": first.json()["id"]},
    )
    assert foreign.status_code == 422 and foreign.json()["errors"][0]["field"] == "corrects_id"
    draft = await project(client, status="draft")
    assert (
        await client.post(
            f"{URL}/{draft['id']}/disclosures", headers=headers, json={"kind": "plan", "title": "x", "content": "y"}
        )
    ).status_code == 409
    # The database itself refuses to rewrite or remove a disclosure.
    async with client.app.state.database.sessionmaker() as session:
        for statement in ("UPDATE project_disclosures SET content = 'x'", "DELETE FROM project_disclosures"):
            try:
                async with session.begin_nested():
                    await session.execute(text(statement))
                raise AssertionError(f"{statement} was allowed")
            except IntegrityError:
                pass
    assert len((await client.get(url, headers=headers)).json()) == 2


async def test_long_projects_without_a_recent_disclosure_are_listed_as_overdue(client):
    long_running = await project(client, starts_on=days(-200), ends_on=days(60), filed_on=days(-230))
    short = await project(client, starts_on=days(-100), ends_on=days(30), filed_on=days(-120))
    overdue = await client.get(f"{URL}/overdue-disclosures", headers=client.as_(YINZHOU))
    assert overdue.status_code == 200
    items = overdue.json()
    assert [o["project_id"] for o in items] == [long_running["id"]]  # 130 days < 6 months: no periodic duty
    due_on = add_months(dt.date.fromisoformat(days(-200)), 3)
    assert items[0]["due"] == "progress" and items[0]["due_on"] == due_on.isoformat()
    assert items[0]["days_overdue"] == (clock.today() - due_on).days and items[0]["last_published_on"] is None
    assert (await client.get(f"{URL}/overdue-disclosures", headers=client.as_(HAISHU))).json() == []
    published = await client.post(
        f"{URL}/{long_running['id']}/disclosures",
        headers=client.as_(YINZHOU),
        json={"kind": "progress", "title": "进展", "content": "..."},
    )
    assert published.status_code == 201
    assert (await client.get(f"{URL}/overdue-disclosures", headers=client.as_(YINZHOU))).json() == []
    assert short["status"] == "fundraising"


def test_the_final_disclosure_is_due_three_months_after_the_end():
    today = dt.date(2026, 11, 29)
    ended = Project(starts_on=dt.date(2026, 1, 1), ends_on=dt.date(2026, 8, 28))
    assert disclosure_due(ended, dt.date(2026, 8, 1), False, today) == ("final", dt.date(2026, 11, 28))
    assert disclosure_due(ended, dt.date(2026, 8, 1), True, today) is None  # published
    assert disclosure_due(ended, None, False, dt.date(2026, 11, 28)) is None  # due today, not yet overdue
    running = Project(starts_on=dt.date(2026, 5, 31), ends_on=dt.date(2027, 5, 31))
    assert disclosure_due(running, None, False, today) == ("progress", dt.date(2026, 8, 31))
    assert disclosure_due(running, dt.date(2026, 9, 1), False, today) is None
    assert add_months(dt.date(2026, 8, 31), 6) == dt.date(2027, 2, 28)
