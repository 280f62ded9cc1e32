"""A project's budget lines bound what is disbursed under each of them (预算执行), as well as its balance.

The concurrency test runs the payments really in parallel on PostgreSQL (they queue on SQLite): the line
never goes past its amount, and the next ordinary payment after the race is answered as usual.
"""

import asyncio

from sqlalchemy import text

from tests.charity.factories import API, YINZHOU, disbursement_body, donate, get_project, project
from tests.races import next_request_succeeds

DISBURSEMENTS = f"{API}/disbursements"


def line_of(created: dict, line_no: int) -> dict:
    return next(line for line in created["budget_lines"] if line["line_no"] == line_no)


async def test_a_payment_beyond_its_budget_line_is_a_409_naming_the_line_and_what_remains(client):
    created = await project(client)  # lines: 助学金 900 000 fen, 执行费用 100 000 fen
    await donate(client, created["id"], "wx-bl-1", 1_000_000)
    costs = line_of(created, 2)
    body = disbursement_body(created, 60_000, budget_line_id=costs["id"])
    assert (await client.post(DISBURSEMENTS, json=body, headers=client.as_(YINZHOU))).status_code == 201
    # The project still holds 940 000 fen, but its line 2 only 40 000.
    over = await client.post(DISBURSEMENTS, json=body | {"amount_fen": 40_001}, headers=client.as_(YINZHOU))
    assert over.status_code == 409, over.text
    problem = over.json()
    assert problem["code"] == "budget_line_exceeded"
    assert problem["resource"] == f"projects/{created['id']}/budget-lines/{costs['id']}"
    assert "budget line 2 (执行费用)" in problem["detail"] and "40000 fen left of its 100000 fen" in problem["detail"]
    chinese = await client.post(
        DISBURSEMENTS,
        json=body | {"amount_fen": 40_001},
        headers=client.as_(YINZHOU) | {"Accept-Language": "zh-CN"},
    )
    assert chinese.status_code == 409 and "预算" in chinese.json()["detail"]
    exact = await client.post(DISBURSEMENTS, json=body | {"amount_fen": 40_000}, headers=client.as_(YINZHOU))
    assert exact.status_code == 201, exact.text
    one_more = await client.post(DISBURSEMENTS, json=body | {"amount_fen": 1}, headers=client.as_(YINZHOU))
    assert one_more.status_code == 409 and "0 fen left" in one_more.json()["detail"]
    # The other line is untouched by line 2's limit.
    other = disbursement_body(created, 900_000, budget_line_id=line_of(created, 1)["id"])
    assert (await client.post(DISBURSEMENTS, json=other, headers=client.as_(YINZHOU))).status_code == 201
    lines = {line["line_no"]: line for line in (await get_project(client, created["id"]))["budget_lines"]}
    assert [(lines[n]["amount_fen"], lines[n]["spent_fen"]) for n in (1, 2)] == [(900_000, 900_000), (100_000, 100_000)]


async def test_concurrent_payments_never_take_a_budget_line_past_its_amount(committed_client):
    client = committed_client
    created = await project(client)
    headers = client.as_(YINZHOU)
    await donate(client, created["id"], "wx-bl-race", 1_000_000)
    costs = line_of(created, 2)  # 100 000 fen; the project holds ten times as much
    payouts = await asyncio.gather(
        *(
            client.post(
                DISBURSEMENTS, json=disbursement_body(created, 7_000, budget_line_id=costs["id"]), headers=headers
            )
            for _ in range(30)
        )
    )
    assert sorted(r.status_code for r in payouts) == [201] * 14 + [409] * 16
    assert all(r.json()["code"] == "budget_line_exceeded" for r in payouts if r.status_code == 409)
    async with client.app.state.database.sessionmaker() as session:
        spent = await session.scalar(
            text("SELECT coalesce(sum(amount_fen), 0) FROM disbursements WHERE budget_line_id = :line"),
            {"line": costs["id"]},
        )
    assert spent == 98_000
    final = await get_project(client, created["id"])
    assert line_of(final, 2)["spent_fen"] == 98_000 and final["spent_fen"] == 98_000
    # After the race: what the line has left is paid, and an ordinary payment of the other line goes through.
    await next_request_succeeds(
        client.post(DISBURSEMENTS, json=disbursement_body(created, 2_000, budget_line_id=costs["id"]), headers=headers)
    )
    await next_request_succeeds(client.post(DISBURSEMENTS, json=disbursement_body(created, 10_000), headers=headers))
    assert line_of(await get_project(client, created["id"]), 2)["spent_fen"] == 100_000
