"""Community-fund coverage never exceeds 100 %: a district's stated number of communities (the base) is never fewer
than its registered funds, one per community, whichever of the two is written last, even at once."""

import asyncio

from tests.charity.factories import API, CITY, YINZHOU
from tests.charity.test_trusts import communities
from tests.indicators import item

FUNDS, BASE = f"{API}/community-funds", f"{API}/community-funds/coverage-base"


def fund(code: str, n: int) -> dict:
    return {"name": f"社区慈善基金{n}", "community_code": code, "initial_scale_fen": 0, "established_on": "2025-01-01"}


def base(n: int) -> dict:
    return {"communities": n, "as_of": "2026-01-01", "source": "鄞州区民政局区划统计"}


async def coverage_of(client, district: str) -> dict:
    body = (await client.get(f"{FUNDS}/coverage")).json()
    return next(d for d in body["districts"] if d["district_code"] == district)


async def test_a_base_below_the_funds_and_a_fund_beyond_the_base_are_409s(client):
    codes = communities("330212")[:4]
    for n, code in enumerate(codes[:3], start=1):
        assert (await client.post(FUNDS, json=fund(code, n), headers=client.as_(YINZHOU))).status_code == 201
    # Three funds, one per community: the district cannot have two communities (150 % before).
    fewer = await client.put(f"{BASE}/330212", json=base(2), headers=client.as_(CITY))
    assert fewer.status_code == 409, fewer.text
    assert (
        fewer.json()["resource"] == "community-funds/coverage-base/330212"
        and "3 community funds" in (fewer.json()["detail"])
    )
    assert (await coverage_of(client, "330212"))["communities"] is None  # nothing stored
    assert (await client.put(f"{BASE}/330212", json=base(3), headers=client.as_(CITY))).status_code == 204
    # A fourth fund where the base says every community has one already (133 % before): restate the base first.
    beyond = await client.post(FUNDS, json=fund(codes[3], 4), headers=client.as_(YINZHOU))
    assert beyond.status_code == 409, beyond.text
    assert beyond.json()["resource"] == "community-funds/coverage-base/330212"
    covered = await coverage_of(client, "330212")
    assert (covered["communities"], covered["with_fund"], covered["coverage_pct"]) == (3, 3, 100.0)
    assert (await client.put(f"{BASE}/330212", json=base(10), headers=client.as_(CITY))).status_code == 204
    assert (await client.post(FUNDS, json=fund(codes[3], 4), headers=client.as_(YINZHOU))).status_code == 201
    covered = await coverage_of(client, "330212")
    assert (covered["communities"], covered["with_fund"], covered["coverage_pct"]) == (10, 4, 40.0)
    indicator = item((await client.get(f"{API}/indicators")).json(), "community_fund_coverage")
    assert indicator["value"] <= 100


async def test_funds_registered_at_once_never_outnumber_the_base(committed_client):
    client = committed_client
    assert (await client.put(f"{BASE}/330212", json=base(3), headers=client.as_(CITY))).status_code == 204
    codes = communities("330212")[:12]
    answers = await asyncio.gather(
        *(client.post(FUNDS, json=fund(code, n), headers=client.as_(YINZHOU)) for n, code in enumerate(codes))
    )
    assert sorted(r.status_code for r in answers) == [201] * 3 + [409] * 9
    covered = await coverage_of(client, "330212")
    assert (covered["communities"], covered["with_fund"], covered["coverage_pct"]) == (3, 3, 100.0)
    # After the race: the base restated, the next fund is registered as usual.
    assert (await client.put(f"{BASE}/330212", json=base(20), headers=client.as_(CITY))).status_code == 204
    refused = next(code for code, r in zip(codes, answers, strict=True) if r.status_code == 409)
    assert (await client.post(FUNDS, json=fund(refused, 99), headers=client.as_(YINZHOU))).status_code == 201
