"""What anyone reads without signing in: project money and disclosures, the honour list, the indicators."""

from shared import clock
from tests.charity.factories import API, HAISHU, YINZHOU, days, disbursement_body, donate, organisation, project
from tests.indicators import checked, item, value

DONOR_SECRETS = ("王小明", "13912345678", "139****5678", "李同学")


async def test_a_project_is_public_with_money_by_line_and_no_personal_data(client):
    created = await project(client)
    draft = await project(client, status="draft")
    await donate(client, created["id"], "wx-p1", 30_000)
    anon = await donate(client, created["id"], "wx-p2", 20_000, donor={"kind": "anonymous"})
    await client.post(
        f"{API}/donations/{anon['id']}/refunds", json={"amount_fen": 5_000, "reason": "x"}, headers=client.as_(YINZHOU)
    )
    await client.post(f"{API}/disbursements", json=disbursement_body(created, 12_000), headers=client.as_(YINZHOU))
    await client.post(
        f"{API}/disbursements",
        headers=client.as_(YINZHOU),
        json=disbursement_body(
            created,
            3_000,
            budget_line_id=created["budget_lines"][1]["id"],
            payee_kind="supplier",
            payee_name="宁波印务有限公司",
            purpose="宣传册印制",
        ),
    )
    await client.post(
        f"{API}/projects/{created['id']}/disclosures",
        headers=client.as_(YINZHOU),
        json={"kind": "progress", "title": "第一期进展", "content": "已发放助学金 12,000 元"},
    )
    listed = await client.get(f"{API}/public/projects")
    assert listed.status_code == 200
    assert [p["id"] for p in listed.json()["items"]] == [created["id"]]  # the draft is not public
    response = await client.get(f"{API}/public/projects/{created['id']}")
    assert response.status_code == 200
    public = response.json()
    assert (public["raised_fen"], public["refunded_fen"], public["spent_fen"], public["balance_fen"]) == (
        45_000,
        5_000,
        15_000,
        30_000,
    )
    assert public["donation_count"] == 2 and public["filed_on"] is not None
    assert [(b["name"], b["budget_fen"], b["spent_fen"]) for b in public["budget_lines"]] == [
        ("助学金", 900_000, 12_000),
        ("执行费用", 100_000, 3_000),
    ]
    assert [(p["payee"], p["amount_fen"], p["budget_line_no"]) for p in public["payments"]] == [
        ("受益人", 12_000, 1),
        ("宁波印务有限公司", 3_000, 2),
    ]
    assert [d["title"] for d in public["disclosures"]] == ["第一期进展"]
    for secret in DONOR_SECRETS:
        assert secret not in response.text and secret not in listed.text
    assert (await client.get(f"{API}/public/projects/{draft['id']}")).status_code == 404
    assert (await client.get(f"{API}/public/projects", params={"district": "330203"})).json()["items"] == []


async def test_the_honour_list_shows_only_consenting_donors_net_of_refunds(client):
    created = await project(client)
    await donate(client, created["id"], "h1", 50_000, donor={"kind": "person", "name": "张伟", "phone": "13800000001"})
    await donate(client, created["id"], "h2", 30_000, donor={"kind": "person", "name": "张伟", "phone": "13800000001"})
    big = await donate(
        client,
        created["id"],
        "h3",
        200_000,
        donor={"kind": "company", "name": "宁波某某电器有限公司", "credit_code": "91330212MA2AAAAA10"},
    )
    await client.post(
        f"{API}/donations/{big['id']}/refunds", json={"amount_fen": 150_000, "reason": "x"}, headers=client.as_(YINZHOU)
    )
    await donate(client, created["id"], "h4", 60_000, donor={"kind": "anonymous"})
    await donate(
        client,
        created["id"],
        "h5",
        999_999,
        honour_opt_in=False,
        donor={"kind": "person", "name": "不愿具名者", "phone": "13800000002"},
    )
    org_code = (await organisation(client, name="某基金会"))["unified_social_credit_code"]
    await donate(
        client, created["id"], "h6", 40_000, donor={"kind": "company", "name": "某基金会", "credit_code": org_code}
    )
    refunded_whole = await donate(
        client, created["id"], "h7", 70_000, donor={"kind": "person", "name": "退款者", "phone": "13800000003"}
    )
    await client.post(
        f"{API}/donations/{refunded_whole['id']}/refunds",
        json={"amount_fen": 70_000, "reason": "x"},
        headers=client.as_(YINZHOU),
    )
    response = await client.get(f"{API}/honour-list")
    assert response.status_code == 200, response.text
    board = response.json()
    assert [(e["rank"], e["name"], e["category"], e["amount_fen"], e["donations"]) for e in board["entries"]] == [
        (1, "张伟", "person", 80_000, 2),
        (2, "爱心人士", "anonymous", 60_000, 1),
        (3, "宁波某某电器有限公司", "company", 50_000, 1),
        (4, "某基金会", "organization", 40_000, 1),
    ]
    assert "不愿具名者" not in response.text and "13800000001" not in response.text and "退款者" not in response.text
    companies = (await client.get(f"{API}/honour-list", params={"category": "company"})).json()["entries"]
    assert [e["name"] for e in companies] == ["宁波某某电器有限公司"]
    last_year = clock.today().year - 1
    old = await client.get(
        f"{API}/honour-list", params={"period_from": f"{last_year}-01-01", "period_to": f"{last_year}-12-31"}
    )
    assert old.json()["entries"] == []
    bad = await client.get(f"{API}/honour-list", params={"period_from": "2026-02-01", "period_to": "2026-01-01"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "period_to"


async def test_in_kind_donors_who_opt_in_are_on_the_honour_list_at_their_stated_value(client):
    created = await project(client)
    company = {"kind": "company", "name": "宁波某某服饰有限公司", "credit_code": "91330212MA2AAAAA10"}
    await donate(client, created["id"], "k1", 50_000, donor=company)

    async def gift(valuation_fen: int, donor: dict, honour_opt_in: bool = True) -> None:
        response = await client.post(
            f"{API}/in-kind-donations",
            headers=client.as_(YINZHOU),
            json={
                "organization_id": created["organization_id"],
                "kind": "goods",
                "description": "儿童羽绒服",
                "quantity": 100,
                "unit": "件",
                "valuation_fen": valuation_fen,
                "valuation_basis": "invoice",
                "basis_note": "增值税发票",
                "donor": donor,
                "honour_opt_in": honour_opt_in,
                "received_on": days(0),
            },
        )
        assert response.status_code == 201, response.text

    await gift(1_990_000, company)  # the same company: one entry, money and goods together
    await gift(300_000, {"kind": "person", "name": "陈静"})
    await gift(500_000, {"kind": "anonymous"})
    await gift(9_000_000, {"kind": "person", "name": "不愿具名者"}, honour_opt_in=False)
    board = (await client.get(f"{API}/honour-list")).json()
    assert [(e["name"], e["category"], e["amount_fen"], e["donations"]) for e in board["entries"]] == [
        ("宁波某某服饰有限公司", "company", 2_040_000, 2),
        ("爱心人士", "anonymous", 500_000, 1),
        ("陈静", "person", 300_000, 1),
    ]
    people = (await client.get(f"{API}/honour-list", params={"category": "person"})).json()["entries"]
    assert [e["name"] for e in people] == ["陈静"]
    last_year = clock.today().year - 1
    old = await client.get(
        f"{API}/honour-list", params={"period_from": f"{last_year}-01-01", "period_to": f"{last_year}-12-31"}
    )
    assert old.json()["entries"] == []


async def test_indicators_count_organisations_and_money_from_the_ledger(client):
    before = (await client.get(f"{API}/indicators")).json()
    created = await project(client)
    await organisation(client, HAISHU, qualified=False, district="330203", name="海曙区志愿者协会")
    await donate(client, created["id"], "i1", 10_000)
    await client.post(f"{API}/disbursements", json=disbursement_body(created, 4_000), headers=client.as_(YINZHOU))
    city = checked((await client.get(f"{API}/indicators")).json())
    registered = item(city, "organizations_registered")
    assert registered["value"] == value(before, "organizations_registered") + 2
    assert (registered["target"]["value"], registered["target"]["rule"]) == (100, "more_than")
    assert item(city, "organizations_new_this_year")["target"]["value"] == 11
    assert value(city, "projects", status="fundraising") == value(before, "projects", status="fundraising") + 1
    year = dict(period="this_year")
    assert (
        value(city, "donated", **year) - value(before, "donated", **year),
        value(city, "spent", **year) - value(before, "spent", **year),
    ) == (10_000, 4_000)
    assert item(city, "raised", **year)["unit"] == "fen"
    haishu = (await client.get(f"{API}/indicators", params={"district": "330203"})).json()
    assert {i["area"] for i in haishu["items"]} == {"330203"}
    assert value(haishu, "donated", period="all_time") == 0 and value(haishu, "fundraising_qualified") == 0
    assert (await client.get(f"{API}/indicators", params={"district": "33"})).status_code == 422
