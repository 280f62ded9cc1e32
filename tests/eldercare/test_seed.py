"""The demo data loads, loads again without adding anything, and is usable through the API."""

from services.eldercare import seed
from tests.conftest import resident, staff
from tests.eldercare.test_meals import API


async def test_demo_data_is_idempotent_and_usable(client):
    async with client.app.state.database.sessionmaker() as session, session.begin():
        first = await seed.load(session)
    async with client.app.state.database.sessionmaker() as session, session.begin():
        again = await seed.load(session)
    assert first > 0 and again == 0
    reader = staff("330200", "eldercare.canteens:read", "eldercare.beds:read", "eldercare.indicators:read")
    canteens = (await client.get(f"{API}/canteens", headers=client.as_(reader))).json()["items"]
    assert {c["kind"] for c in canteens} == {"central_kitchen", "canteen", "meal_point"}
    menus = (await client.get(f"{API}/canteens/{canteens[0]['id']}/menus", headers=client.as_(reader))).json()
    assert len(menus) == 6  # three meals, today and tomorrow
    beds = (await client.get(f"{API}/beds", params={"free": True, "limit": 100}, headers=client.as_(reader))).json()
    assert len(beds["items"]) == 32
    family = resident(seed.DEMO_RESIDENT, "eldercare.elders:read")
    assert len((await client.get(f"{API}/elders", headers=client.as_(family))).json()["items"]) == 2
