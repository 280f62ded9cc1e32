"""The generator of synthetic standard addresses: real roads, unique codes and parts, and a second run adds
to the first; what it makes can be parsed back and found near its point."""

from services.placenames.generate import generate
from shared.demo_city import demo_addresses
from tests.placenames.helpers import API, YINZHOU_STAFF


async def test_generated_addresses_are_standard_and_findable(client):
    assert await generate(client.app.state.database, 300) == 300
    assert await generate(client.app.state.database, 100, seed_value=2) == 100  # continues, no clash
    codes, names = set(), set()
    cursor = None
    while True:
        page = await client.get(f"{API}/addresses", params={"limit": 100} | ({"cursor": cursor} if cursor else {}))
        body = page.json()
        codes |= {a["code"] for a in body["items"]}
        names |= {a["full_name"] for a in body["items"]}
        if not (cursor := body["next_cursor"]):
            break
    demo = {a.code for a in demo_addresses().values()}  # the demo city's, loaded with the demo data
    assert demo <= codes and len(codes - demo) == len(names) - len(demo) == 400
    building = next(n for n in sorted(names) if n.endswith("幢"))  # 400 over 270 roads: houses and buildings
    parsed = (await client.post(f"{API}/parse", json={"text": building}, headers=client.as_(YINZHOU_STAFF))).json()
    assert parsed["match"]["full_name"] == building and parsed["confidence"] >= 0.97
    point = (await client.get(f"{API}/geocode", params={"q": building})).json()
    near = (
        await client.get(
            f"{API}/reverse-geocode",
            params={"lat": point["latitude"], "lon": point["longitude"], "radius_m": 20, "level": "house"},
        )
    ).json()
    assert near["items"] and building.startswith(near["items"][0]["full_name"])
