"""What assistance says it holds about a resident, for the gateway's register of personal-data requests: what they
declared and applied for from the mini-program, masked, each application's case file kept with the reason, a
household never applied with erasable; another resident's never shown; only the gateway's own scope may ask."""

from shared.identity import Principal
from tests.assistance.test_applications import API, today  # noqa: F401  (a pytest fixture these tests use)
from tests.assistance.test_online_applications import MOTHER, STRANGER, apply, declare
from tests.conftest import resident

GATEWAY = Principal(
    subject="service:gateway-privacy",
    kind="service",
    scopes=frozenset({"assistance.subject_data:read", "assistance.subject_data:erase"}),
)


async def held(client, subject: str) -> dict[str, dict]:
    response = await client.post(f"{API}/subject-data-searches", json={"subject": subject}, headers=client.as_(GATEWAY))
    assert response.status_code == 200, response.text
    return {c["category"]: c for c in response.json()["categories"]}


async def erase(client, subject: str, category: str, record_id: str):
    body = {"subject": subject, "category": category, "record_id": record_id}
    return await client.post(f"{API}/subject-data-erasures", json=body, headers=client.as_(GATEWAY))


async def test_an_application_is_a_kept_case_file_and_a_household_never_applied_with_may_go(client):
    applied = await declare(client)
    application = await apply(client, applied["id"])
    unused = await declare(client)

    mine = await held(client, MOTHER.subject)
    households = {r["id"]: r for r in mine["declared_households"]["records"]}
    assert (households[str(applied["id"])]["erasable"], households[str(unused["id"])]["erasable"]) == (False, True)
    [record] = mine["applications"]["records"]
    assert record["id"] == str(application["id"]) and "社会救助档案" in record["retention"]
    assert mine["data_check_consents"]["count"] == 1 and mine["household_members"]["count"] == 4
    assert all("*" in m["fields"]["id_number"] for m in mine["household_members"]["records"])
    assert all(c["count"] == 0 for c in (await held(client, STRANGER.subject)).values())

    refused = await erase(client, MOTHER.subject, "applications", str(application["id"]))
    assert refused.status_code == 409 and "社会救助档案" in refused.json()["detail"]
    kept = await erase(client, MOTHER.subject, "declared_households", str(applied["id"]))
    assert kept.status_code == 409
    assert (await erase(client, STRANGER.subject, "declared_households", str(unused["id"]))).status_code == 404
    erased = await erase(client, MOTHER.subject, "declared_households", str(unused["id"]))
    assert erased.status_code == 200, erased.text
    after = await held(client, MOTHER.subject)
    assert [r["id"] for r in after["declared_households"]["records"]] == [str(applied["id"])]
    assert after["household_members"]["count"] == 2


async def test_only_the_gateway_asks(client):
    for who in (MOTHER, resident("resident:x", "assistance.online_applications:read")):
        response = await client.post(
            f"{API}/subject-data-searches", json={"subject": MOTHER.subject}, headers=client.as_(who)
        )
        assert response.status_code == 403


async def test_a_record_id_no_household_can_have_is_not_found_not_a_server_error(client):
    # The id is a string of the request's pattern: digits past what the id column holds reached the database
    # (asyncpg refuses them, SQLite overflows), and the gateway's erasure request got a 500.
    unused = await declare(client)
    for record_id in ("9" * 20, "2147483648", "0"):
        response = await erase(client, MOTHER.subject, "declared_households", record_id)
        assert response.status_code == 404, response.text
    assert (await erase(client, MOTHER.subject, "declared_households", str(unused["id"]))).status_code == 200
