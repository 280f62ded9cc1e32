"""Money donations, partial refunds and disbursements, and the ledger they write."""

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.charity.factories import (
    API,
    CITY,
    HAISHU,
    YINZHOU,
    disbursement_body,
    donate,
    donation_body,
    get_project,
    organisation,
    project,
)
from tests.conftest import Principal

DONATIONS, DISBURSEMENTS = f"{API}/donations", f"{API}/disbursements"
CHANNEL = Principal(subject="service:wechat-pay", kind="service", scopes=frozenset({"charity.donations:write"}))


async def entries(client, principal=YINZHOU, **params):
    response = await client.get(f"{API}/ledger/entries", params=params | {"limit": 100}, headers=client.as_(principal))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def reconcile(client, principal=YINZHOU):
    response = await client.post(f"{API}/reconciliations", headers=client.as_(principal))
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_donation_is_one_balanced_group_and_the_project_totals_come_from_it(client):
    created = await project(client)
    donation = await donate(client, created["id"], "wx-0001", 12_345)
    assert donation["donor_name"] == "王小明" and donation["donor_phone_masked"] == "139****5678"
    assert (donation["refunded_fen"], donation["refundable_fen"]) == (0, 12_345)
    rows = await entries(client, group_id=donation["ledger_group_id"])
    assert sorted((e["account_kind"], e["side"], e["amount_fen"]) for e in rows) == [
        ("clearing", "credit", 12_345),
        ("project", "debit", 12_345),
    ]
    fetched = await get_project(client, created["id"])
    assert (fetched["raised_fen"], fetched["spent_fen"], fetched["balance_fen"]) == (12_345, 0, 12_345)
    accounts = (
        await client.get(f"{API}/ledger/accounts", params={"project_id": created["id"]}, headers=client.as_(YINZHOU))
    ).json()["items"]
    assert [(a["kind"], a["balance_fen"]) for a in accounts] == [("project", 12_345)]
    # A payment channel (a service principal) records donations to any project; its name shows nowhere.
    from_channel = await donate(
        client, created["id"], "wx-0002", 500, principal=CHANNEL, donor={"kind": "anonymous"}, channel="alipay"
    )
    assert from_channel["donor_name"] == "爱心人士" and from_channel["donor_phone_masked"] is None
    assert (await get_project(client, created["id"]))["raised_fen"] == 12_845
    run = await reconcile(client)
    assert run["balanced"] is True and run["differences"] == []
    assert (run["groups_checked"], run["entries_checked"], run["projects_checked"]) == (2, 4, 1)


async def test_donations_reach_only_fundraising_projects_and_nothing_is_half_written(client):
    org = await organisation(client)
    for status in ("draft", "filed", "executing", "closed"):
        other = await project(client, org=org, status=status)
        response = await client.post(
            DONATIONS, json=donation_body(other["id"], f"wx-{status}"), headers=client.as_(YINZHOU)
        )
        assert response.status_code == 409 and response.json()["resource"] == f"projects/{other['id']}", status
        assert status in response.json()["detail"]
    assert await entries(client) == []
    assert (await client.get(DONATIONS, headers=client.as_(YINZHOU))).json()["items"] == []
    missing = await client.post(DONATIONS, json=donation_body(999_999, "wx-x"), headers=client.as_(YINZHOU))
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "project_id"


async def test_a_replayed_payment_counts_once(client):
    created = await project(client)
    body = donation_body(created["id"], "wx-replay")
    first = await client.post(DONATIONS, json=body, headers=client.as_(YINZHOU) | {"Idempotency-Key": "k1"})
    again = await client.post(DONATIONS, json=body, headers=client.as_(YINZHOU) | {"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    # The channel retries the same transaction under another key, or none: still the first donation.
    other_key = await client.post(DONATIONS, json=body, headers=client.as_(YINZHOU) | {"Idempotency-Key": "k2"})
    no_key = await client.post(DONATIONS, json=body, headers=client.as_(CHANNEL))
    assert other_key.json()["id"] == no_key.json()["id"] == first.json()["id"]
    changed = await client.post(DONATIONS, json=body | {"amount_fen": 99}, headers=client.as_(YINZHOU))
    assert changed.status_code == 409 and changed.json()["resource"] == f"donations/{first.json()['id']}"
    same_key_other_body = await client.post(
        DONATIONS, json=body | {"amount_fen": 99}, headers=client.as_(YINZHOU) | {"Idempotency-Key": "k1"}
    )
    assert same_key_other_body.status_code == 422
    # Another channel may reuse the number: it is another transaction.
    await donate(client, created["id"], "wx-replay", channel="unionpay")
    assert (await get_project(client, created["id"]))["raised_fen"] == 20_000
    assert len(await entries(client)) == 4


async def test_donors_are_named_anonymous_or_companies(client):
    created = await project(client)
    company = await donate(
        client,
        created["id"],
        "bank-1",
        1_000_000,
        channel="bank",
        donor={"kind": "company", "name": "宁波某某电器有限公司", "credit_code": "91330212MA2AAAAA1" + "0"},
        honour_opt_in=False,
    )
    assert company["donor_kind"] == "company"
    bad = {
        "donor.name": {"kind": "anonymous", "name": "张三"},
        "donor.credit_code": {"kind": "company", "name": "某公司"},
        "donor.phone": {"kind": "person", "name": "张三", "phone": "12345"},
        "donor.kind": {"kind": "robot", "name": "x"},
    }
    for field, donor in bad.items():
        response = await client.post(
            DONATIONS, json=donation_body(created["id"], f"wx-{field}", donor=donor), headers=client.as_(YINZHOU)
        )
        assert response.status_code == 422, (field, response.text)
        assert response.json()["errors"][0]["field"] == field
    person_without_name = await client.post(
        DONATIONS, json=donation_body(created["id"], "wx-n", donor={"kind": "person"}), headers=client.as_(YINZHOU)
    )
    assert person_without_name.json()["errors"][0]["field"] == "donor.name"
    wrong_code = await client.post(
        DONATIONS,
        headers=client.as_(YINZHOU),
        json=donation_body(
            created["id"], "wx-c", donor={"kind": "company", "name": "某公司", "credit_code": "91330212MA2AAAAA11"}
        ),
    )
    assert wrong_code.status_code == 422 and wrong_code.json()["errors"][0]["field"] == "donor.credit_code"
    for amount in (0, -5, 10.5, "100"):
        response = await client.post(
            DONATIONS, json=donation_body(created["id"], "wx-a", amount), headers=client.as_(YINZHOU)
        )
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "amount_fen"
    assert len(await entries(client)) == 2


async def test_partial_refunds_reverse_in_new_groups_never_beyond_what_remains(client):
    created = await project(client)
    donation = await donate(client, created["id"], "wx-r", 10_000)
    url = f"{DONATIONS}/{donation['id']}/refunds"
    first = await client.post(url, json={"amount_fen": 3_000, "reason": "捐赠人误操作"}, headers=client.as_(YINZHOU))
    assert first.status_code == 201, first.text
    assert first.json()["reverses_group_id"] == donation["ledger_group_id"]
    assert first.json()["ledger_group_id"] != donation["ledger_group_id"]
    too_much = await client.post(url, json={"amount_fen": 7_001, "reason": "x"}, headers=client.as_(YINZHOU))
    assert too_much.status_code == 409 and "7000 fen left" in too_much.json()["detail"]
    assert too_much.json()["resource"] == f"donations/{donation['id']}"
    fetched = (await client.get(f"{DONATIONS}/{donation['id']}", headers=client.as_(YINZHOU))).json()
    assert (fetched["amount_fen"], fetched["refunded_fen"], fetched["refundable_fen"]) == (10_000, 3_000, 7_000)
    rows = await entries(client, group_id=first.json()["ledger_group_id"])
    assert sorted((e["account_kind"], e["side"], e["amount_fen"]) for e in rows) == [
        ("clearing", "debit", 3_000),
        ("project", "credit", 3_000),
    ]
    totals = await get_project(client, created["id"])
    assert (totals["raised_fen"], totals["refunded_fen"], totals["balance_fen"]) == (7_000, 3_000, 7_000)
    # Money already disbursed cannot be refunded.
    paid = await client.post(DISBURSEMENTS, json=disbursement_body(created, 6_000), headers=client.as_(YINZHOU))
    assert paid.status_code == 201
    beyond_balance = await client.post(url, json={"amount_fen": 1_001, "reason": "x"}, headers=client.as_(YINZHOU))
    assert beyond_balance.status_code == 409 and "holds 1000 fen" in beyond_balance.json()["detail"]
    rest = await client.post(url, json={"amount_fen": 1_000, "reason": "x"}, headers=client.as_(YINZHOU))
    assert rest.status_code == 201
    listed = (await client.get(url, headers=client.as_(YINZHOU))).json()
    assert [r["amount_fen"] for r in listed] == [3_000, 1_000]
    assert (await get_project(client, created["id"]))["balance_fen"] == 0
    assert (await reconcile(client))["balanced"] is True
    assert (
        await client.post(url, json={"amount_fen": 1, "reason": "x"}, headers=client.as_(HAISHU))
    ).status_code == 404


async def test_disbursements_need_evidence_and_never_exceed_the_balance(client):
    created = await project(client)
    await donate(client, created["id"], "wx-d1", 50_000)
    over = await client.post(DISBURSEMENTS, json=disbursement_body(created, 50_001), headers=client.as_(YINZHOU))
    assert over.status_code == 409 and over.json()["resource"] == f"projects/{created['id']}"
    assert "holds 50000 fen" in over.json()["detail"]
    no_evidence = await client.post(
        DISBURSEMENTS, json=disbursement_body(created, 100, evidence=[]), headers=client.as_(YINZHOU)
    )
    assert no_evidence.status_code == 422 and no_evidence.json()["errors"][0]["field"] == "evidence"
    other = await project(client)
    foreign_line = await client.post(
        DISBURSEMENTS,
        headers=client.as_(YINZHOU),
        json=disbursement_body(created, 100, budget_line_id=other["budget_lines"][0]["id"]),
    )
    assert foreign_line.status_code == 422 and foreign_line.json()["errors"][0]["field"] == "budget_line_id"
    assert len(await entries(client, project_id=created["id"])) == 2  # only the donation
    paid = await client.post(
        DISBURSEMENTS,
        headers=client.as_(YINZHOU),
        json=disbursement_body(
            created,
            30_000,
            budget_line_id=created["budget_lines"][1]["id"],
            payee_kind="supplier",
            payee_name="宁波文具有限公司",
        ),
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["evidence"] == [{"kind": "sign_off", "reference": "QS-2026-001", "description": None}]
    totals = await get_project(client, created["id"])
    assert (totals["raised_fen"], totals["spent_fen"], totals["balance_fen"]) == (50_000, 30_000, 20_000)
    assert [b["spent_fen"] for b in totals["budget_lines"]] == [0, 30_000]
    # An executing project still pays out; a closed one does not.
    await client.post(f"{API}/projects/{created['id']}/start-execution", headers=client.as_(YINZHOU))
    assert (
        await client.post(DISBURSEMENTS, json=disbursement_body(created, 20_000), headers=client.as_(YINZHOU))
    ).status_code == 201
    await client.post(f"{API}/projects/{created['id']}/close", headers=client.as_(YINZHOU))
    closed = await client.post(DISBURSEMENTS, json=disbursement_body(created, 1), headers=client.as_(YINZHOU))
    assert closed.status_code == 409 and "closed" in closed.json()["detail"]
    listed = (
        await client.get(DISBURSEMENTS, params={"project_id": created["id"]}, headers=client.as_(YINZHOU))
    ).json()["items"]
    assert [d["amount_fen"] for d in listed] == [30_000, 20_000]
    assert (await client.get(DISBURSEMENTS, headers=client.as_(HAISHU))).json()["items"] == []
    assert (await client.get(f"{DISBURSEMENTS}/{listed[0]['id']}", headers=client.as_(HAISHU))).status_code == 404


async def test_the_ledger_refuses_rewrites_and_unbalanced_groups(client):
    created = await project(client)
    donation = await donate(client, created["id"], "wx-l", 1_000)
    async with client.app.state.database.sessionmaker() as session:

        async def refused(statement: str, **params) -> None:
            try:
                async with session.begin_nested():
                    await session.execute(text(statement), params)
            except IntegrityError:
                return
            raise AssertionError(f"allowed: {statement}")

        for table in ("ledger_entries", "ledger_groups", "ledger_seals", "donations"):
            await refused(f"DELETE FROM {table}")
        await refused("UPDATE ledger_entries SET amount_fen = amount_fen * 2")
        await refused("UPDATE donations SET amount_fen = 1")
        group = donation["ledger_group_id"]
        account = (await entries(client, group_id=group))[0]["account_id"]
        # No entry joins a sealed group, and no group is sealed unless its entries sum to zero.
        await refused(
            "INSERT INTO ledger_entries (group_id, account_id, amount_fen) VALUES (:g, :a, 5)", g=group, a=account
        )
        async with session.begin_nested():
            new_group = (
                await session.execute(
                    text(
                        "INSERT INTO ledger_groups (kind, organization_id, project_id, memo, created_by, created_at) "
                        "VALUES ('donation', :o, :p, 'hand-typed', 'test', CURRENT_TIMESTAMP) RETURNING id"
                    ),
                    dict(o=created["organization_id"], p=created["id"]),
                )
            ).scalar_one()
            await session.execute(
                text("INSERT INTO ledger_entries (group_id, account_id, amount_fen) VALUES (:g, :a, 700)"),
                dict(g=new_group, a=account),
            )
        await refused(
            "INSERT INTO ledger_seals (group_id, entry_count, sealed_at) VALUES (:g, 1, CURRENT_TIMESTAMP)", g=new_group
        )
        await session.commit()
    # The reconciliation reports the unsealed, unbalanced group the hand-typed statements left behind.
    run = await reconcile(client)
    assert run["balanced"] is False
    assert [d["kind"] for d in run["differences"]] == ["unbalanced_group"]
    bad = next(d for d in run["differences"] if d["kind"] == "unbalanced_group")
    assert (bad["group_id"], bad["sum_fen"], bad["entries"], bad["sealed"]) == (new_group, 700, 1, False)
    fetched = await client.get(f"{API}/reconciliations/{run['id']}", headers=client.as_(CITY))
    assert fetched.json() == run
    assert (await client.get(f"{API}/reconciliations/{run['id']}", headers=client.as_(HAISHU))).status_code == 404


async def test_the_ledger_is_read_by_staff_of_the_area(client):
    created = await project(client)
    await donate(client, created["id"], "wx-v", 2_000)
    mine = (await client.get(f"{API}/ledger/accounts", headers=client.as_(YINZHOU))).json()["items"]
    assert sorted((a["kind"], a["debits_fen"], a["credits_fen"], a["balance_fen"]) for a in mine) == [
        ("clearing", 0, 2_000, -2_000),
        ("disbursement", 0, 0, 0),
        ("project", 2_000, 0, 2_000),
    ]
    assert (await client.get(f"{API}/ledger/accounts", headers=client.as_(HAISHU))).json()["items"] == []
    assert await entries(client, HAISHU) == []
    assert (await client.get(f"{API}/ledger/entries")).status_code == 401
    haishu_run = await reconcile(client, HAISHU)
    assert haishu_run["groups_checked"] == 0 and haishu_run["balanced"] is True
    assert (await client.get(DONATIONS, headers=client.as_(HAISHU))).json()["items"] == []
    page = (await client.get(DONATIONS, params={"project_id": created["id"]}, headers=client.as_(CITY))).json()
    assert [d["channel_txn_id"] for d in page["items"]] == ["wx-v"]
