"""`./dev seed city`: a synthetic city across the services, every record at an address placenames' generator
issued (its code, standard text, derived area and point), loaded once: a second run refuses and writes nothing."""

import asyncio

import pytest
from sqlalchemy import func, select

from services.assistance.households.models import Household
from services.charity.organizations.models import Organization
from services.eldercare.beds.models import Institution
from services.eldercare.elders.models import Elder
from services.eldercare.meals.models import Canteen
from services.placenames.addresses.models import Address
from shared import migrations
from shared.db import Database
from tools.data import city_generate

SERVICES = ("placenames", "assistance", "eldercare", "charity")


async def _rows(url: str, *columns, where=None) -> list:
    database = Database(url)
    try:
        async with database.sessionmaker() as session:
            query = select(*columns)
            return list((await session.execute(query if where is None else query.where(where))).all())
    finally:
        await database.dispose()


async def _count(url: str, model) -> int:
    return (await _rows(url, func.count(model.id)))[0][0]


def test_a_small_city_sits_at_registry_addresses_and_loads_once(scratch_database, monkeypatch, capsys):
    urls = {service: scratch_database(f"city_{service}") for service in SERVICES}
    for service, url in urls.items():
        migrations.upgrade(service, url)
        monkeypatch.setenv(f"{service.upper()}_DATABASE_URL", url)

    city_generate.main(["--households", "200"])
    assert "200 households, 100 elders" in capsys.readouterr().out

    registry = {
        r.code: r
        for r in asyncio.run(
            _rows(
                urls["placenames"],
                Address.code,
                Address.full_name,
                Address.district_code,
                Address.township_code,
                Address.community_code,
                where=Address.status == "current",
            )
        )
    }
    columns = ("address", "address_code", "address_status", "area_code", "latitude", "longitude")
    homes = []
    for service, model, expected in (("assistance", Household, 200), ("eldercare", Elder, 100)):
        rows = asyncio.run(_rows(urls[service], *(getattr(model, c) for c in columns)))
        assert len(rows) == expected
        for row in rows:
            place = registry[row.address_code]
            assert row.address_status == "standard" and row.address == place.full_name
            assert row.area_code == (place.community_code or place.township_code or place.district_code)
            assert row.latitude is not None and row.longitude is not None  # a room takes its building's point
            homes.append(row.address_code)
    assert len(set(homes)) == len(homes)  # a home each: the rooms issued are enough for everyone
    by_text = {r.full_name: r for r in registry.values()}
    for model in (Canteen, Institution):
        rows = asyncio.run(_rows(urls["eldercare"], model.address, model.area_code))
        assert rows and all(by_text[r.address].district_code == r.area_code[:6] for r in rows)
    organizations = asyncio.run(_rows(urls["charity"], Organization.district_code))
    assert organizations and all(len(r.district_code) == 6 for r in organizations)

    counts = {service: asyncio.run(_count(urls["placenames"], Address)) for service in ("placenames",)}
    counts |= {"assistance": asyncio.run(_count(urls["assistance"], Household))}
    counts |= {"eldercare": asyncio.run(_count(urls["eldercare"], Elder))}
    with pytest.raises(SystemExit) as refused:
        city_generate.main(["--households", "200"])
    assert "already loaded" in str(refused.value) and "assistance: 200 rows" in str(refused.value)
    assert asyncio.run(_count(urls["placenames"], Address)) == counts["placenames"]
    assert asyncio.run(_count(urls["assistance"], Household)) == counts["assistance"]
    assert asyncio.run(_count(urls["eldercare"], Elder)) == counts["eldercare"]


def test_a_city_of_no_households_is_refused():
    with pytest.raises(SystemExit):
        city_generate.main(["--households", "0"])
