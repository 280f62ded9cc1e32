"""Households: who counts as a member, one household per person, masked ID numbers, staff area scoping."""

import datetime as dt

import pytest

from services.assistance.households.membership import MemberFacts, membership
from tests.assistance.helpers import household, member
from tests.conftest import resident, staff

URL = "/api/assistance/v1/households"
READ, WRITE = "assistance.households:read", "assistance.households:write"
YINZHOU = staff("330212", READ, WRITE, subject="staff:yinzhou")
BAIZHANG_COMMUNITY = staff("330212001005", READ, WRITE, subject="staff:community")
HAISHU = staff("330203", READ, WRITE, subject="staff:haishu")
DAY = dt.date(2024, 6, 1)


def facts(relationship, *, years, **kw):
    return MemberFacts(birth_on=DAY.replace(year=DAY.year - years), relationship=relationship, **kw)


@pytest.mark.parametrize(
    ("person", "counted"),
    [
        (facts("applicant", years=45), True),
        (facts("spouse", years=44), True),
        (facts("spouse", years=44, lives_together=False), True),  # a spouse counts wherever they live
        (facts("child", years=17), True),
        (facts("child", years=18), False),  # adult, working, not studying
        (facts("child", years=20, full_time_student=True, schooling="undergraduate"), True),
        (facts("child", years=20, full_time_student=True, schooling="junior_college"), True),
        (facts("child", years=23, full_time_student=True, schooling="postgraduate"), False),
        (facts("child", years=20, full_time_student=False, schooling="undergraduate"), False),  # part-time
        (facts("child", years=30, labour_capacity="none"), True),  # cannot live independently
        (facts("parent", years=70, legal_duty_of_support=True, lives_together=True), True),
        (facts("parent", years=70, legal_duty_of_support=True, lives_together=False), False),
        (facts("sibling", years=30, legal_duty_of_support=False, lives_together=True), False),
        (facts("grandchild", years=8, legal_duty_of_support=True, lives_together=True), True),
        (facts("spouse", years=44, exclusion="in_prison"), False),
        (facts("child", years=10, exclusion="declared_missing"), False),
        (facts("applicant", years=45, exclusion="religious_away_3y"), False),
    ],
)
def test_membership_rule(person, counted):
    got, basis = membership(person, DAY)
    assert got is counted, basis
    assert basis.startswith("not counted") is (not counted)


def test_a_child_counts_until_the_day_before_the_18th_birthday():
    child = MemberFacts(birth_on=dt.date(2006, 6, 2), relationship="child")
    assert membership(child, DAY)[0] is True
    assert membership(child, dt.date(2024, 6, 2))[0] is False


async def create(client, body, principal=YINZHOU):
    response = await client.post(URL, json=body, headers=client.as_(principal))
    assert response.status_code == 201, response.text
    return response.json()


async def test_household_with_counted_and_uncounted_members_masks_id_numbers(client):
    applicant = member(age=45, name="张三")
    body = household(
        applicant,
        member("spouse", age=44),
        member("child", age=12),
        member("child", age=24, schooling="postgraduate", full_time_student=True),
        member(
            "parent",
            age=72,
            legal_duty_of_support=True,
            disability_grade=2,
            disability_kind="physical",
            labour_capacity="none",
        ),
        member("sibling", age=40, exclusion="in_prison", legal_duty_of_support=True),
    )
    created = await create(client, body)
    members = created["members"]
    assert [m["counted"] for m in members] == [True, True, True, False, True, False]
    assert created["counted_members"] == 4
    assert "服刑" in members[5]["membership_basis"]
    assert members[4]["disability_grade"] == 2 and members[4]["labour_capacity"] == "none"
    assert members[0]["id_number_masked"] == applicant["id_number"][:6] + "********" + applicant["id_number"][-4:]
    assert members[0]["age"] == 45 and members[0]["sex"] in ("male", "female")
    fetched = await client.get(f"{URL}/{created['id']}", headers=client.as_(YINZHOU))
    assert fetched.json() == created
    for text in (fetched.text, (await client.get(URL, headers=client.as_(YINZHOU))).text):
        assert applicant["id_number"] not in text


async def test_a_person_in_another_household_is_a_conflict_naming_it_and_nothing_is_written(client):
    shared_person = member("spouse", age=30)
    first = await create(client, household(member(age=31), shared_person))
    again = await client.post(
        URL,
        json=household(member(age=33), shared_person | {"relationship": "sibling", "legal_duty_of_support": False}),
        headers=client.as_(YINZHOU),
    )
    assert again.status_code == 409, again.text
    assert again.json()["resource"] == f"households/{first['id']}"
    assert shared_person["id_number"] not in again.text
    listed = await client.get(URL, headers=client.as_(YINZHOU))
    assert [h["id"] for h in listed.json()["items"]] == [first["id"]]
    # Adding them as a member elsewhere is refused too; once removed from the first household, it works.
    other = await create(client, household(member(age=50)))
    add = await client.post(f"{URL}/{other['id']}/members", json=shared_person, headers=client.as_(YINZHOU))
    assert add.status_code == 409 and add.json()["resource"] == f"households/{first['id']}"
    spouse_id = first["members"][1]["id"]
    removed = await client.delete(f"{URL}/{first['id']}/members/{spouse_id}", headers=client.as_(YINZHOU))
    assert removed.status_code == 204
    add = await client.post(f"{URL}/{other['id']}/members", json=shared_person, headers=client.as_(YINZHOU))
    assert add.status_code == 201, add.text
    assert add.json()["counted"] is True


async def test_the_same_person_twice_in_one_request_names_the_field(client):
    person = member("child", age=5)
    response = await client.post(URL, json=household(member(), person, person), headers=client.as_(YINZHOU))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "members.2.id_number"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["members"][0].update(id_number="330212198001010011"), "members.0.id_number"),  # check char
        (lambda b: b["members"][0].update(id_number="33021219800101001"), "members.0.id_number"),  # too short
        (lambda b: b["members"][0].update(relationship="cousin"), "members.0.relationship"),
        (lambda b: b["members"][0].update(relationship="spouse"), "members"),  # no applicant
        (lambda b: b["members"].append(member()), "members"),  # two applicants
        (lambda b: b["members"][0].update(disability_grade=5, disability_kind="visual"), "members.0.disability_grade"),
        (lambda b: b["members"][0].update(disability_grade=2), "members.0.disability_kind"),
        (lambda b: b["members"][0].update(full_time_student=True), "members.0.schooling"),
        (lambda b: b["members"].append(member("parent", age=70)), "members.1.legal_duty_of_support"),
        (lambda b: b["members"][0].update(exclusion="abroad"), "members.0.exclusion"),
        (lambda b: b.update(area_code="33021200"), "area_code"),
        (lambda b: b.update(members=[]), "members"),
    ],
)
async def test_bad_households_name_the_field(client, change, field):
    body = household(member())
    change(body)
    response = await client.post(URL, json=body, headers=client.as_(YINZHOU))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field
    assert (await client.get(URL, headers=client.as_(YINZHOU))).json()["items"] == []


async def test_staff_see_and_record_only_their_area(client):
    community = await create(client, household(member(), area_code="330212001005"), BAIZHANG_COMMUNITY)
    other_street = await create(client, household(member(), area_code="330212004002"), YINZHOU)
    haishu = await create(client, household(member(), area_code="330203001001"), HAISHU)

    def ids(response):
        assert response.status_code == 200, response.text
        return [h["id"] for h in response.json()["items"]]

    assert ids(await client.get(URL, headers=client.as_(YINZHOU))) == [community["id"], other_street["id"]]
    assert ids(await client.get(URL, headers=client.as_(BAIZHANG_COMMUNITY))) == [community["id"]]
    assert ids(await client.get(URL, params={"area_code": "330212004"}, headers=client.as_(YINZHOU))) == [
        other_street["id"]
    ]
    assert ids(await client.get(URL, headers=client.as_(staff("330200", READ)))) == [
        community["id"],
        other_street["id"],
        haishu["id"],
    ]
    # Another area's household is the same 404 as one that does not exist, for reading and for writing.
    for household_id in (haishu["id"], 999999):
        assert (await client.get(f"{URL}/{household_id}", headers=client.as_(YINZHOU))).status_code == 404
        add = await client.post(
            f"{URL}/{household_id}/members", json=member("child", age=3), headers=client.as_(YINZHOU)
        )
        assert add.status_code == 404
    outside = await client.post(URL, json=household(member(), area_code="330203001001"), headers=client.as_(YINZHOU))
    assert outside.status_code == 403
    assert (await client.get(URL)).status_code == 401
    assert (await client.get(URL, headers=client.as_(staff("330212", WRITE)))).status_code == 403
    someone = resident("resident:13800000001", READ)
    assert (await client.get(URL, headers=client.as_(someone))).json()["items"] == []


async def test_pages_follow_the_cursor(client):
    created = [await create(client, household(member())) for _ in range(3)]
    first = await client.get(URL, params={"limit": 2}, headers=client.as_(YINZHOU))
    second = await client.get(
        URL, params={"limit": 2, "cursor": first.json()["next_cursor"]}, headers=client.as_(YINZHOU)
    )
    assert [h["id"] for h in first.json()["items"] + second.json()["items"]] == [h["id"] for h in created]
    assert second.json()["next_cursor"] is None


async def test_the_applicant_cannot_be_removed_or_added_twice(client):
    created = await create(client, household(member()))
    applicant_id = created["members"][0]["id"]
    response = await client.delete(f"{URL}/{created['id']}/members/{applicant_id}", headers=client.as_(YINZHOU))
    assert response.status_code == 409
    response = await client.post(f"{URL}/{created['id']}/members", json=member(), headers=client.as_(YINZHOU))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "relationship"
    missing = await client.delete(f"{URL}/{created['id']}/members/999999", headers=client.as_(YINZHOU))
    assert missing.status_code == 404


async def test_members_added_one_by_one_stop_at_the_bound_a_new_household_has(client):
    """A household is given with at most 30 members; adding them one at a time went past it without end."""
    created = await create(client, household(member(age=60), *(member("child", age=10 + n) for n in range(28))))
    last = await client.post(
        f"{URL}/{created['id']}/members", json=member("spouse", age=58), headers=client.as_(YINZHOU)
    )
    assert last.status_code == 201, last.text
    extra = await client.post(
        f"{URL}/{created['id']}/members", json=member("child", age=5), headers=client.as_(YINZHOU)
    )
    assert extra.status_code == 409, extra.text
    assert "30 members" in extra.json()["detail"]
    shown = await client.get(f"{URL}/{created['id']}", headers=client.as_(YINZHOU))
    assert len(shown.json()["members"]) == 30
