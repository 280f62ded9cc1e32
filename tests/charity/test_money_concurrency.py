"""Concurrent money at one project: retried payments, refunds and disbursements together.

Afterwards every group balances, the project's totals equal the ledger, no donation is counted twice and
no balance is negative. On PostgreSQL the requests really run in parallel; on SQLite they queue.
"""

import asyncio
import random

from sqlalchemy import text

from tests.charity.factories import API, YINZHOU, disbursement_body, donation_body, get_project, project
from tests.races import next_request_succeeds


async def scalar_rows(client, sql: str, **params) -> list:
    async with client.app.state.database.sessionmaker() as session:
        return list((await session.execute(text(sql), params)).all())


async def the_books_take_the_next_donation_refund_and_disbursement(client, created: dict, txn: str) -> None:
    """After the race, the project's ordinary money requests are answered as usual."""
    headers = client.as_(YINZHOU)
    donation = await next_request_succeeds(
        client.post(f"{API}/donations", headers=headers, json=donation_body(created["id"], txn, 20_000))
    )
    await next_request_succeeds(
        client.post(
            f"{API}/donations/{donation['id']}/refunds",
            headers=headers,
            json={"amount_fen": 5_000, "reason": "捐赠人申请退款"},
        )
    )
    await next_request_succeeds(
        client.post(f"{API}/disbursements", headers=headers, json=disbursement_body(created, 10_000))
    )


async def test_concurrent_donations_refunds_and_disbursements_keep_the_books(committed_client):
    client = committed_client
    created = await project(client)
    pid = created["id"]
    headers = client.as_(YINZHOU)
    rng = random.Random(5)
    amounts = {f"wx-{n:03d}": rng.randrange(1_000, 50_000) for n in range(40)}

    def give(txn: str, key: str | None):
        return client.post(
            f"{API}/donations",
            json=donation_body(pid, txn, amounts[txn]),
            headers=headers | ({"Idempotency-Key": key} if key else {}),
        )

    # Round 1: the first 25 payments, each retried three times under its key and once under another key.
    first = list(amounts)[:25]
    round_1 = [give(txn, f"key-{txn}") for txn in first for _ in range(3)] + [give(txn, f"alt-{txn}") for txn in first]
    rng.shuffle(round_1)
    responses = await asyncio.gather(*round_1)
    assert {r.status_code for r in responses} <= {201, 409}, [r.text for r in responses if r.status_code >= 500]
    donations = {r.json()["channel_txn_id"]: r.json()["id"] for r in responses if r.status_code == 201}
    assert set(donations) == set(first)

    # Round 2, all at once: the other 15 payments (retried), two or three refunds of 45% of each of ten
    # donations (only two can fit), and disbursements asking for more than the project holds.
    balance = (await get_project(client, pid))["balance_fen"]
    assert balance == sum(amounts[t] for t in first)
    rest = list(amounts)[25:]
    refunds = [
        client.post(
            f"{API}/donations/{donations[txn]}/refunds",
            headers=headers,
            json={"amount_fen": amounts[txn] * 45 // 100, "reason": "捐赠人申请退款"},
        )
        for txn in first[:10]
        for _ in range(3)
    ]
    payouts = [
        client.post(f"{API}/disbursements", json=disbursement_body(created, balance // 12), headers=headers)
        for _ in range(16)
    ]
    round_2 = [give(txn, f"key-{txn}") for txn in rest for _ in range(2)] + refunds + payouts
    rng.shuffle(round_2)
    responses = await asyncio.gather(*round_2)
    assert {r.status_code for r in responses} <= {201, 409}, [r.text for r in responses if r.status_code >= 500]

    # Every group balances and is sealed.
    unbalanced = await scalar_rows(
        client,
        """
        SELECT g.id FROM ledger_groups g LEFT JOIN ledger_entries e ON e.group_id = g.id
        LEFT JOIN ledger_seals s ON s.group_id = g.id
        GROUP BY g.id, s.group_id HAVING coalesce(sum(e.amount_fen), 0) <> 0 OR count(e.id) < 2 OR s.group_id IS NULL""",
    )
    assert unbalanced == []
    # No donation counted twice: one row and one ledger group per channel transaction.
    rows = await scalar_rows(client, "SELECT channel_txn_id, amount_fen FROM donations WHERE project_id = :p", p=pid)
    assert sorted(rows) == sorted(amounts.items())
    groups = await scalar_rows(
        client, "SELECT kind, count(*) FROM ledger_groups WHERE project_id = :p GROUP BY kind", p=pid
    )
    counts = dict(groups)
    assert counts["donation"] == len(amounts)
    # Refunds never beyond a donation; two of the three attempts per donation fit (if the fund allowed).
    over = await scalar_rows(
        client,
        """
        SELECT d.id FROM donations d JOIN donation_refunds r ON r.donation_id = d.id
        GROUP BY d.id, d.amount_fen HAVING sum(r.amount_fen) > d.amount_fen""",
    )
    assert over == []
    per_donation = await scalar_rows(client, "SELECT donation_id, count(*) FROM donation_refunds GROUP BY donation_id")
    assert all(n <= 2 for _, n in per_donation)
    # The project's totals (API) equal the ledger and the records; no balance is negative.
    totals = await get_project(client, pid)
    ((donated, refunded, spent),) = await scalar_rows(
        client,
        """
        SELECT (SELECT sum(amount_fen) FROM donations WHERE project_id = :p),
               (SELECT coalesce(sum(r.amount_fen), 0) FROM donation_refunds r JOIN donations d ON d.id = r.donation_id
                WHERE d.project_id = :p),
               (SELECT coalesce(sum(amount_fen), 0) FROM disbursements WHERE project_id = :p)""",
        p=pid,
    )
    ((ledger_balance,),) = await scalar_rows(
        client,
        """
        SELECT sum(e.amount_fen) FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id
        WHERE a.project_id = :p""",
        p=pid,
    )
    assert totals["raised_fen"] == donated - refunded and totals["spent_fen"] == spent
    assert totals["balance_fen"] == ledger_balance == donated - refunded - spent >= 0
    assert counts.get("refund", 0) == sum(n for _, n in per_donation) > 0
    assert counts.get("disbursement", 0) >= 1 and spent == counts["disbursement"] * (balance // 12)
    negative = await scalar_rows(
        client,
        """
        SELECT a.id FROM ledger_accounts a JOIN ledger_entries e ON e.account_id = a.id WHERE a.kind <> 'clearing'
        GROUP BY a.id HAVING sum(e.amount_fen) < 0""",
    )
    assert negative == []
    await the_books_take_the_next_donation_refund_and_disbursement(client, created, "wx-after-the-race")
    run = await client.post(f"{API}/reconciliations", headers=headers)
    assert run.json()["balanced"] is True, run.json()["differences"]


async def test_concurrent_disbursements_spend_the_balance_exactly_once(committed_client):
    client = committed_client
    created = await project(client)
    headers = client.as_(YINZHOU)
    response = await client.post(
        f"{API}/donations", json=donation_body(created["id"], "wx-once", 100_000), headers=headers
    )
    assert response.status_code == 201
    payouts = await asyncio.gather(
        *(
            client.post(f"{API}/disbursements", json=disbursement_body(created, 10_000), headers=headers)
            for _ in range(25)
        )
    )
    assert sorted(r.status_code for r in payouts) == [201] * 10 + [409] * 15
    assert all("holds" in r.json()["detail"] for r in payouts if r.status_code == 409)
    final = await get_project(client, created["id"])
    assert (final["raised_fen"], final["spent_fen"], final["balance_fen"]) == (100_000, 100_000, 0)
    await the_books_take_the_next_donation_refund_and_disbursement(client, created, "wx-after-the-race")


async def test_concurrent_refunds_of_one_donation_never_exceed_it(committed_client):
    client = committed_client
    created = await project(client)
    headers = client.as_(YINZHOU)
    donation = (
        await client.post(f"{API}/donations", json=donation_body(created["id"], "wx-r", 10_000), headers=headers)
    ).json()
    attempts = await asyncio.gather(
        *(
            client.post(
                f"{API}/donations/{donation['id']}/refunds",
                headers=headers,
                json={"amount_fen": 3_000, "reason": "重复支付"},
            )
            for _ in range(12)
        )
    )
    assert sorted(r.status_code for r in attempts) == [201] * 3 + [409] * 9
    fetched = (await client.get(f"{API}/donations/{donation['id']}", headers=headers)).json()
    assert (fetched["refunded_fen"], fetched["refundable_fen"]) == (9_000, 1_000)
    await next_request_succeeds(
        client.post(
            f"{API}/donations/{donation['id']}/refunds",
            headers=headers,
            json={"amount_fen": 1_000, "reason": "重复支付"},
        )
    )  # what is left


async def test_a_payment_sent_under_many_keys_at_once_is_one_donation(committed_client):
    client = committed_client
    created = await project(client)
    body = donation_body(created["id"], "wx-storm", 8_800)
    responses = await asyncio.gather(
        *(
            client.post(f"{API}/donations", json=body, headers=client.as_(YINZHOU) | {"Idempotency-Key": f"k-{n}"})
            for n in range(20)
        )
    )
    assert [r.status_code for r in responses] == [201] * 20
    assert len({r.json()["id"] for r in responses}) == 1
    assert (await get_project(client, created["id"]))["raised_fen"] == 8_800
    await the_books_take_the_next_donation_refund_and_disbursement(client, created, "wx-after-the-storm")


async def test_a_payment_retried_under_one_key_at_once_waits_for_the_first_and_replays_it(committed_client):
    # The donation's key is written in its own transaction: a retry that arrives while the first still
    # runs waits for it and replays its answer (no 409 to retry again), and the work is done once.
    client = committed_client
    created = await project(client)
    body = donation_body(created["id"], "wx-same-key", 6_600)
    headers = client.as_(YINZHOU) | {"Idempotency-Key": "one-key"}
    responses = await asyncio.gather(*(client.post(f"{API}/donations", json=body, headers=headers) for _ in range(12)))
    assert [r.status_code for r in responses] == [201] * 12
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") != "true" for r in responses) == 1
    keys = await scalar_rows(client, "SELECT state FROM idempotency_keys WHERE key = 'one-key'")
    assert keys == [("done",)]
    assert (await get_project(client, created["id"]))["raised_fen"] == 6_600
    await next_request_succeeds(
        client.post(
            f"{API}/donations",
            json=donation_body(created["id"], "wx-next", 1_000),
            headers=client.as_(YINZHOU) | {"Idempotency-Key": "another-key"},
        )
    )
