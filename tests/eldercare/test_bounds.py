"""Amounts have domain bounds: a subsidy account's balance can never be pushed past what its column holds, and a
meal costs at most a few hundred yuan."""

from services.eldercare.meals.models import MAX_MEAL_PRICE_FEN
from shared.money import MAX_BALANCE_FEN, MAX_BENEFIT_FEN
from tests.eldercare.test_homecare import CITY, TOMORROW_9, YINZHOU, add_allowance, add_service, funded_account
from tests.eldercare.test_meals import API, add_canteen, add_elder, add_menu
from tests.eldercare.test_meals import YINZHOU as CANTEEN_STAFF


async def adjust(client, account_id: int, amount_fen: int):
    return await client.post(
        f"{API}/subsidy-accounts/{account_id}/adjustments",
        headers=client.as_(YINZHOU),
        json={"amount_fen": amount_fen, "note": "测试调整"},
    )


async def test_a_subsidy_adjustment_past_the_bound_is_refused_and_the_account_keeps_working(client):
    elder_id, _ = await add_elder(client)
    account = await funded_account(client, elder_id, amount=10_000)
    for huge in (9_223_372_036_854_775_807, MAX_BALANCE_FEN + 1, -MAX_BALANCE_FEN - 1):
        refused = await adjust(client, account["id"], huge)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["amount_fen"]
    # Within the bound for one adjustment, but the balance would pass it: a conflict naming the account.
    filled = await adjust(client, account["id"], MAX_BALANCE_FEN - 10_000)
    assert filled.status_code == 201 and filled.json()["balance_after_fen"] == MAX_BALANCE_FEN, filled.text
    past = await adjust(client, account["id"], 1)
    assert past.status_code == 409 and past.json()["resource"] == f"subsidy-accounts/{account['id']}", past.text
    # The next ordinary requests still succeed.
    assert (await adjust(client, account["id"], -1)).status_code == 201
    fetched = await client.get(f"{API}/subsidy-accounts/{account['id']}", headers=client.as_(YINZHOU))
    assert fetched.status_code == 200 and fetched.json()["balance_fen"] == MAX_BALANCE_FEN - 1
    entries = await client.get(f"{API}/subsidy-accounts/{account['id']}/entries", headers=client.as_(YINZHOU))
    assert entries.status_code == 200 and len(entries.json()["items"]) == 3


async def test_an_adjustment_sent_again_moves_the_balance_once(client):
    """POST /subsidy-accounts/{id}/adjustments ignored the Idempotency-Key: a retry after a lost answer credited the
    account twice. The same key and body now answer the first entry again; the balance moves once."""
    elder_id, _ = await add_elder(client)
    account = await funded_account(client, elder_id, amount=10_000)
    headers = client.as_(YINZHOU) | {"Idempotency-Key": "adjust-1"}
    body = {"amount_fen": 500, "note": "补发上月差额"}
    url = f"{API}/subsidy-accounts/{account['id']}/adjustments"
    first = await client.post(url, headers=headers, json=body)
    again = await client.post(url, headers=headers, json=body)
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == first.json()
    fetched = await client.get(f"{API}/subsidy-accounts/{account['id']}", headers=client.as_(YINZHOU))
    assert fetched.json()["balance_fen"] == 10_500
    # A refused one frees its key: the retry of a debit the balance could not cover gets the real answer again.
    refused = await client.post(
        url, headers=headers | {"Idempotency-Key": "adjust-2"}, json={**body, "amount_fen": -99_999}
    )
    assert refused.status_code == 409
    assert (
        await client.post(url, headers=headers | {"Idempotency-Key": "adjust-2"}, json={**body, "amount_fen": -99_999})
    ).status_code == 409


async def test_rates_prices_and_capacities_have_bounds(client):
    too_much = await client.post(
        f"{API}/allowance-rates",
        headers=client.as_(CITY),
        json={
            "tier": "age_60_79",
            "level": 3,
            "amount_fen": MAX_BENEFIT_FEN + 1,
            "effective_on": "2022-01-01",
            "citation": "test figures",
        },
    )
    assert too_much.status_code == 422 and too_much.json()["errors"][0]["field"] == "amount_fen", too_much.text
    assert (await add_allowance(client, amount=MAX_BENEFIT_FEN))["amount_fen"] == MAX_BENEFIT_FEN
    canteen = await add_canteen(client)
    assert (await add_menu(client, canteen["id"], price_fen=MAX_MEAL_PRICE_FEN, capacity=10_000))["capacity"] == 10_000
    for field, value in (("price_fen", MAX_MEAL_PRICE_FEN + 1), ("capacity", 10_001), ("price_fen", 2**63)):
        response = await client.post(
            f"{API}/canteens/{canteen['id']}/menus",
            headers=client.as_(CANTEEN_STAFF),
            json={
                "served_on": "2099-01-01",
                "meal": "dinner",
                "dishes": ["米饭"],
                "price_fen": 1500,
                "capacity": 50,
                field: value,
            },
        )
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field, response.text


async def test_an_id_sent_as_digits_past_any_column_is_a_422_naming_it(client):
    """Pydantic reads "9999999999999999999999999" into an int field; the database refused the number, and the handler
    that names a caller's too-large number looked for numbers in the body, not text: ordering a visit or opening a
    subsidy account with such an elder_id answered 500. Now a 422 naming the field, as the number gets, and the next
    ordinary request succeeds."""
    elder_id, _ = await add_elder(client)
    service = await add_service(client)
    visit = {"elder_id": elder_id, "service_id": service["id"], "starts_at": TOMORROW_9.isoformat()}
    for field, text in (
        ("elder_id", "9" * 25),
        ("service_id", "9223372036854775808"),
        ("elder_id", " 2147483648 "),
        ("caregiver_id", "1e30"),
    ):
        for headers in ({}, {"Idempotency-Key": f"digits-{field}-{text.strip()}"}):
            refused = await client.post(
                f"{API}/visits", headers=client.as_(YINZHOU) | headers, json=visit | {field: text}
            )
            assert refused.status_code == 422, (field, text, refused.text)
            assert [e["field"] for e in refused.json()["errors"]] == [field]
    account = await client.post(f"{API}/subsidy-accounts", headers=client.as_(YINZHOU), json={"elder_id": "9" * 25})
    assert account.status_code == 422 and [e["field"] for e in account.json()["errors"]] == ["elder_id"], account.text
    # Text within the column is read as before; the next ordinary request succeeds.
    ordered = await client.post(f"{API}/visits", headers=client.as_(YINZHOU), json=visit | {"elder_id": str(elder_id)})
    assert ordered.status_code == 201, ordered.text
