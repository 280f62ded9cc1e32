"""Capability assessment (GB/T 42195-2022): the server scores, levels and adjusts; two assessors; due list."""

from __future__ import annotations

import datetime as dt

from services.eldercare.assessment.template import load
from shared import clock
from tests.conftest import TEST_DAY, resident, staff
from tests.eldercare.test_meals import API, CARER, ELDERS_READ, ELDERS_WRITE, add_elder

A_READ, A_WRITE = "eldercare.assessments:read", "eldercare.assessments:write"
YINZHOU = staff("330212", ELDERS_READ, ELDERS_WRITE, A_READ, A_WRITE, subject="staff:yinzhou")
HAISHU = staff("330203", ELDERS_READ, A_READ, A_WRITE, subject="staff:haishu")
TEMPLATE = load()


def answers(total: int) -> dict[str, int]:
    """Answers adding up to `total`: items filled to their maximum in template order."""
    result, left = {}, total
    for code, (_indicator, maximum) in TEMPLATE.items.items():
        result[code] = min(maximum, left)
        left -= result[code]
    return result


async def assess(client, elder_id, score=None, who=YINZHOU, **extra):
    body = {
        "elder_id": elder_id,
        "assessed_on": clock.today().isoformat(),
        "answers": answers(score or 0),
        "assessors": ["评估员甲", "评估员乙"],
    } | extra
    return await client.post(f"{API}/assessments", headers=client.as_(who), json=body)


def test_the_template_is_the_standard_s_shape():
    indicators = [i["name"] for i in TEMPLATE.raw["indicators"]]
    assert indicators == ["自理能力", "基础运动能力", "精神状态", "感知觉与社会参与"]
    assert len(TEMPLATE.items) == 26
    assert sum(maximum for _indicator, maximum in TEMPLATE.items.values()) == 90
    assert [b["name"] for b in TEMPLATE.raw["levels"]] == ["能力完好", "轻度失能", "中度失能", "重度失能", "完全失能"]


async def test_scores_and_level_are_computed_by_the_server(client):
    elder_id, _ = await add_elder(client)
    cases = [(90, 0), (89, 1), (66, 1), (65, 2), (46, 2), (45, 3), (30, 3), (29, 4), (0, 4)]
    for total, level in cases:
        response = await assess(client, elder_id, total, total=999, level=0)  # the client's figures are ignored
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["total"], body["level"], body["adjustments"]) == (total, level, []), total
        assert sum(body["indicator_scores"].values()) == total
    assert body["template_version"] == TEMPLATE.version and body["level_name"] == "完全失能"
    first = (await assess(client, elder_id, 90)).json()
    assert first["indicator_scores"] == {
        "self_care": 32,
        "basic_mobility": 15,
        "mental_state": 28,
        "perception_participation": 15,
    }


async def test_adjustments(client):
    elder_id, _ = await add_elder(client)
    coma = (await assess(client, elder_id, 90, coma=True)).json()
    assert (coma["raw_level"], coma["level"], coma["adjustments"]) == (0, 4, ["coma"])
    dementia = (await assess(client, elder_id, 70, dementia_or_mental_disorder=True)).json()
    assert (dementia["raw_level"], dementia["level"]) == (1, 2)
    risks = (await assess(client, elder_id, 70, care_risk_events_30d=2)).json()
    assert risks["level"] == 2 and risks["adjustments"] == ["care_risk_events"]
    one_event = (await assess(client, elder_id, 70, care_risk_events_30d=1)).json()
    assert one_event["level"] == 1
    both = (await assess(client, elder_id, 70, dementia_or_mental_disorder=True, care_risk_events_30d=3)).json()
    assert both["level"] == 2  # one level worse, not two
    worst = (await assess(client, elder_id, 10, dementia_or_mental_disorder=True)).json()
    assert worst["level"] == 4


async def test_bad_answers_and_assessors_are_named(client):
    elder_id, _ = await add_elder(client)
    partial = answers(50)
    del partial["eating"]
    response = await assess(client, elder_id, answers=partial | {"flying": 1, "aggression": 2})
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"answers.eating", "answers.flying", "answers.aggression"}
    same = await assess(client, elder_id, 50, assessors=["张三", "张三"])
    assert same.status_code == 422 and same.json()["errors"][0]["field"] == "assessors"
    one = await assess(client, elder_id, 50, assessors=["张三"])
    assert one.status_code == 422
    future = await assess(client, elder_id, 50, assessed_on=(clock.today() + dt.timedelta(days=1)).isoformat())
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "assessed_on"
    assert (await assess(client, elder_id, 50, who=HAISHU)).status_code == 404
    listed = (await client.get(f"{API}/assessments", params={"elder_id": elder_id}, headers=client.as_(YINZHOU))).json()
    assert listed == []


async def test_a_reassessment_falling_due_at_a_month_end_is_listed_on_its_day(client):
    """Assessed on 31 March, a person is due on 30 September (there is no 31st). The list compared the assessment day
    with the day six months before the horizon (30 March), so on 30 September, with `within_days=0`, the person due
    that day was missing, and showed up only the next day, already overdue. The same for 29-31 August (due 28
    February) and every 31st before a 30-day month."""
    elder_id, _ = await add_elder(client)
    due_day = dt.datetime.combine(dt.date(TEST_DAY.year, 9, 30), dt.time(12), tzinfo=clock.SHANGHAI)
    clock.advance(due_day - clock.now())
    await assess(client, elder_id, 50, assessed_on=dt.date(TEST_DAY.year, 3, 31).isoformat())
    due = (await client.get(f"{API}/assessments/due", params={"within_days": 0}, headers=client.as_(YINZHOU))).json()
    assert [(d["elder_id"], d["due_on"], d["overdue"]) for d in due] == [(elder_id, due_day.date().isoformat(), False)]
    clock.advance(-dt.timedelta(days=1))  # 29 September: not yet due, not listed
    early = await client.get(f"{API}/assessments/due", params={"within_days": 0}, headers=client.as_(YINZHOU))
    assert early.json() == []


async def test_an_older_assessment_entered_late_does_not_make_a_person_due(client):
    """The due list took the last assessment entered as the latest: a paper record from 200 days ago typed in after
    last week's assessment listed the person as overdue. The latest is the latest by its day, as in the history."""
    elder_id, _ = await add_elder(client)
    today = clock.today()
    await assess(client, elder_id, 50, assessed_on=(today - dt.timedelta(days=7)).isoformat())
    await assess(client, elder_id, 40, assessed_on=(today - dt.timedelta(days=200)).isoformat())
    due = (await client.get(f"{API}/assessments/due", headers=client.as_(YINZHOU))).json()
    assert due == []
    later = (await assess(client, elder_id, 50, assessed_on=(today - dt.timedelta(days=7)).isoformat())).json()
    soon = (await client.get(f"{API}/assessments/due", params={"within_days": 366}, headers=client.as_(YINZHOU))).json()
    assert [d["last_assessment_id"] for d in soon] == [later["id"]]  # of two on one day, the one entered last


async def test_reassessment_due_every_six_months(client):
    old_id, _ = await add_elder(client)
    recent_id, _ = await add_elder(client, serial="211")
    soon_id, _ = await add_elder(client, serial="221")
    today = clock.today()
    await assess(client, old_id, 50, assessed_on=(today - dt.timedelta(days=200)).isoformat())
    await assess(client, old_id, 40, assessed_on=(today - dt.timedelta(days=190)).isoformat())
    await assess(client, recent_id, 50, assessed_on=(today - dt.timedelta(days=10)).isoformat())
    await assess(client, soon_id, 50, assessed_on=(today - dt.timedelta(days=170)).isoformat())
    due = (await client.get(f"{API}/assessments/due", headers=client.as_(YINZHOU))).json()
    assert [(d["elder_id"], d["overdue"]) for d in due] == [(old_id, True), (soon_id, False)]
    assert due[0]["level"] == 3
    assert (await client.get(f"{API}/assessments/due", headers=client.as_(HAISHU))).json() == []
    carer = resident(CARER, A_READ)
    mine = (await client.get(f"{API}/assessments", params={"elder_id": recent_id}, headers=client.as_(carer))).json()
    assert len(mine) == 1 and mine[0]["assessors"] == ["评估员甲", "评估员乙"]


async def test_the_latest_level_feeds_the_subsidy_and_the_waitlist(client):
    from tests.eldercare.test_beds import YINZHOU as BEDS_STAFF
    from tests.eldercare.test_homecare import YINZHOU as HC_STAFF
    from tests.eldercare.test_homecare import add_allowance

    elder_id, _ = await add_elder(client)
    await assess(client, elder_id, 40)  # 重度失能: level 3
    await add_allowance(client, level=3, amount=20000)
    account = await client.post(f"{API}/subsidy-accounts", headers=client.as_(HC_STAFF), json={"elder_id": elder_id})
    assert account.status_code == 201, account.text
    assert account.json()["level"] == 3
    entry = await client.post(
        f"{API}/waitlist",
        headers=client.as_(BEDS_STAFF),
        json={"elder_id": elder_id, "bed_type": "nursing", "assessment_level": 0},
    )
    assert entry.json()["assessment_level"] == 3  # the recorded level wins over a level typed in
