"""Indicators: households and persons per programme and area, grants, the 低保 standard, open leads, overdue
reviews, in the suite's one indicators shape."""

import datetime as dt

from services.assistance import seed
from services.assistance.programmes import service as programmes
from shared import clock
from tests.conftest import staff
from tests.indicators import cells, checked, item, value

API = "/api/assistance/v1/indicators"
READ = "assistance.indicators:read"


async def test_indicators_by_area(client):
    async with client.app.state.database.sessionmaker() as session:
        await seed.load(session)  # 王阿娣 (海曙, 低保 300 yuan) and 陈根发 (鄞州, 特困 1,870 yuan)
        await programmes.enrol(
            session,
            id_number="330212194001220031",
            household_id=None,
            programme="dibao",
            since_on=clock.today() - dt.timedelta(days=1),
            monthly_fen=99,
            basis="test",
        )
        await session.commit()
    city = await client.get(API, headers=client.as_(staff("330200", READ)))
    assert city.status_code == 200, city.text
    body = checked(city.json())
    whole = {"area": "330200"}
    assert (
        value(body, "households", **whole, programme="dibao"),
        value(body, "persons", **whole, programme="dibao"),
        value(body, "monthly_grants", **whole, programme="dibao"),
    ) == (1, 1, 30_000)
    assert value(body, "monthly_grants", **whole, programme="tekun") == 187_000
    assert value(body, "households", **whole, programme="orphan_scattered") == 0  # every programme, zeros too
    assert item(body, "monthly_grants", **whole)["unit"] == "fen"
    assert value(body, "monthly_grants", **whole) == sum(cells(body, "monthly_grants", "programme", **whole).values())
    assert sorted({i["area"] for i in body["items"]} - {"330200"}) == ["330203", "330212"]
    assert cells(body, "households", "programme", area="330203") == {"dibao": 1}
    assert {i["as_of"] for i in body["items"]} == {clock.today().isoformat()}
    yinzhou = checked((await client.get(API, headers=client.as_(staff("330212", READ)))).json())
    assert {p: n for p, n in cells(yinzhou, "households", "programme", area="330212").items() if n} == {"tekun": 1}
    assert {i["area"] for i in yinzhou["items"]} == {"330212", "330212008"}  # 陈根发 in 百丈街道
    assert value(yinzhou, "leads_open", area="330212") == 0 and value(yinzhou, "reviews_overdue", area="330212") == 0
    outside = await client.get(API, params={"area_code": "330203"}, headers=client.as_(staff("330212", READ)))
    assert outside.status_code == 403
    assert (await client.get(API, headers=client.as_(staff("330212")))).status_code == 403


async def test_the_dibao_standard_in_force_against_the_plan_s_floor(client):
    reader = client.as_(staff("330200", READ))
    assert [i for i in (await client.get(API, headers=reader)).json()["items"] if i["code"] == "dibao_standard"] == []
    async with client.app.state.database.sessionmaker() as session:
        await seed.load(session)
        await session.commit()
    standard = item((await client.get(API, headers=reader)).json(), "dibao_standard")
    assert standard["unit"] == "fen_per_month" and standard["target"]["value"] == 110_000
    assert standard["target"]["met"] is (standard["value"] >= 110_000) and standard["target"]["scope"] == "area"
