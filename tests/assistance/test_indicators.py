"""Indicators: households and persons per programme and area, grants, open leads, overdue reviews."""

import datetime as dt

from services.assistance import seed
from services.assistance.programmes import service as programmes
from shared import clock
from tests.conftest import staff

API = "/api/assistance/v1/indicators"
READ = "assistance.indicators:read"


async def test_indicators_by_area(client):
    async with client.app.state.database.sessionmaker() as session:
        await seed.load(session)  # 王阿娣 (海曙, 低保 300 yuan) and 陈根发 (鄞州, 特困 1,870 yuan)
        await programmes.enrol(session, id_number="330212194001220031", household_id=None, programme="dibao",
                               since_on=clock.today() - dt.timedelta(days=1), monthly_fen=99, basis="test")
        await session.commit()
    city = await client.get(API, headers=client.as_(staff("330200", READ)))
    assert city.status_code == 200, city.text
    body = city.json()
    totals = {p["programme"]: p for p in body["totals"]["programmes"]}
    assert totals["dibao"] == {"programme": "dibao", "households": 1, "persons": 1, "monthly_grants_fen": 30_000}
    assert totals["tekun"]["monthly_grants_fen"] == 187_000
    assert [a["area_code"] for a in body["by_area"]] == ["330203", "330212"]
    yinzhou = (await client.get(API, headers=client.as_(staff("330212", READ)))).json()
    assert [p["programme"] for p in yinzhou["totals"]["programmes"]] == ["tekun"]
    assert [a["area_code"] for a in yinzhou["by_area"]] == ["330212001"]
    assert yinzhou["totals"]["leads_open"] == 0 and yinzhou["totals"]["reviews_overdue"] == 0
    outside = await client.get(API, params={"area_code": "330203"}, headers=client.as_(staff("330212", READ)))
    assert outside.status_code == 403
    assert (await client.get(API, headers=client.as_(staff("330212")))).status_code == 403
