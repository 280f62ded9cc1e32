"""Non-cash gifts: valued on a basis, kept apart from cash, disposed of never beyond what came in."""

import asyncio

from tests.charity.factories import API, HAISHU, YINZHOU, days, donate, organisation, project

URL = f"{API}/in-kind-donations"


def gift_body(org_id: int, **overrides) -> dict:
    body = {
        "organization_id": org_id,
        "kind": "goods",
        "description": "儿童羽绒服",
        "quantity": 100,
        "unit": "件",
        "valuation_fen": 1_990_000,
        "valuation_basis": "invoice",
        "basis_note": "增值税发票 No.3302-88812",
        "donor": {"kind": "company", "name": "宁波某某服饰有限公司", "credit_code": "91330212MA2AAAAA10"},
        "received_on": days(-3),
    }
    return body | overrides


async def record(client, org_id, principal=YINZHOU, **overrides):
    response = await client.post(URL, json=gift_body(org_id, **overrides), headers=client.as_(principal))
    assert response.status_code == 201, response.text
    return response.json()


async def dispose(client, gift_id, quantity, action="distributed", **extra):
    return await client.post(
        f"{URL}/{gift_id}/dispositions",
        headers=client.as_(YINZHOU),
        json={"action": action, "quantity": quantity, "occurred_on": days(0), "note": "发放给受助儿童"} | extra,
    )


async def test_every_kind_of_gift_is_registered_with_its_value_and_basis_apart_from_cash(client):
    created = await project(client)
    org_id = created["organization_id"]
    gift = await record(client, org_id, project_id=created["id"])
    assert (gift["remaining_quantity"], gift["valuation_fen"], gift["valuation_basis"]) == (100, 1_990_000, "invoice")
    for kind, basis in (
        ("intellectual_property", "appraisal"),
        ("technology", "agreement"),
        ("equity", "appraisal"),
        ("securities", "market_price"),
    ):
        other = await record(
            client, org_id, kind=kind, valuation_basis=basis, unit="项", quantity=1, donor={"kind": "anonymous"}
        )
        assert other["kind"] == kind and other["donor_name"] == "爱心人士"
    listed = (await client.get(URL, params={"kind": "equity"}, headers=client.as_(YINZHOU))).json()["items"]
    assert [g["kind"] for g in listed] == ["equity"]
    # Not cash: the project's money and the ledger do not move.
    assert (await client.get(f"{API}/projects/{created['id']}", headers=client.as_(YINZHOU))).json()["raised_fen"] == 0
    assert (await client.get(f"{API}/ledger/entries", headers=client.as_(YINZHOU))).json()["items"] == []
    for field, overrides in {
        "valuation_basis": dict(valuation_basis="guess"),
        "kind": dict(kind="cash"),
        "valuation_fen": dict(valuation_fen=0),
        "received_on": dict(received_on=days(2)),
        "project_id": dict(project_id=999_999),
    }.items():
        response = await client.post(URL, json=gift_body(org_id, **overrides), headers=client.as_(YINZHOU))
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field, field
    assert (await client.get(f"{URL}/{gift['id']}", headers=client.as_(HAISHU))).status_code == 404


async def test_uses_and_disposals_never_exceed_the_gift(client):
    org = await organisation(client)
    gift = await record(client, org["id"])
    assert (await dispose(client, gift["id"], 60)).status_code == 201
    sold = await dispose(client, gift["id"], 30, "sold", proceeds_fen=300_000)
    assert sold.status_code == 201 and sold.json()["proceeds_fen"] == 300_000
    over = await dispose(client, gift["id"], 11)
    assert over.status_code == 409 and "only 10 件" in over.json()["detail"]
    no_price = await dispose(client, gift["id"], 1, "sold")
    assert no_price.status_code == 422 and no_price.json()["errors"][0]["field"] == "proceeds_fen"
    fetched = (await client.get(f"{URL}/{gift['id']}", headers=client.as_(YINZHOU))).json()
    assert fetched["remaining_quantity"] == 10
    assert [(d["action"], d["quantity"]) for d in fetched["dispositions"]] == [("distributed", 60), ("sold", 30)]


async def test_gift_receipts_share_the_organisations_sequence(client):
    created = await project(client)
    money = await donate(client, created["id"], "wx-k1")
    first = await client.post(
        f"{API}/receipts", json={"donation_id": money["id"], "handler": "陈会计"}, headers=client.as_(YINZHOU)
    )
    gift = await record(client, created["organization_id"])
    receipt = await client.post(f"{URL}/{gift['id']}/receipt", json={"handler": "陈会计"}, headers=client.as_(YINZHOU))
    assert receipt.status_code == 201, receipt.text
    body = receipt.json()
    assert (body["number"], body["gift_kind"], body["amount_fen"], body["quantity"]) == (
        first.json()["number"] + 1,
        "in_kind",
        None,
        "儿童羽绒服 100件",
    )
    again = await client.post(f"{URL}/{gift['id']}/receipt", json={"handler": "x"}, headers=client.as_(YINZHOU))
    assert again.status_code == 409 and again.json()["resource"] == f"receipts/{body['id']}"
    assert (await client.get(f"{URL}/{gift['id']}", headers=client.as_(YINZHOU))).json()["receipt_id"] == body["id"]


async def test_concurrent_disposals_take_only_what_remains(committed_client):
    client = committed_client
    org = await organisation(client)
    gift = await record(client, org["id"])
    responses = await asyncio.gather(*(dispose(client, gift["id"], 30) for _ in range(10)))
    assert sorted(r.status_code for r in responses) == [201] * 3 + [409] * 7
    assert (await client.get(f"{URL}/{gift['id']}", headers=client.as_(YINZHOU))).json()["remaining_quantity"] == 10
