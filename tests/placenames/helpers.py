"""What the placenames tests share: the demo data loaded into the test's transaction, and principals."""

from sqlalchemy import func, select

from services.placenames import seed
from services.placenames.names.models import PlaceName
from services.placenames.scopes import ADDRESSES_WRITE, NAMES_WRITE, PARSE
from tests.conftest import staff

API = "/api/placenames/v1"
CITY_STAFF = staff("330200", NAMES_WRITE, ADDRESSES_WRITE, PARSE, subject="staff:city")
YINZHOU_STAFF = staff("330212", NAMES_WRITE, ADDRESSES_WRITE, PARSE, subject="staff:yinzhou")
HAISHU_STAFF = staff("330203", NAMES_WRITE, ADDRESSES_WRITE, PARSE, subject="staff:haishu")


async def load_demo(client) -> None:
    """The demo data, unless it is already there (conftest commits it before each test)."""
    async with client.app.state.database.sessionmaker() as session:
        if not await session.scalar(select(func.count()).select_from(PlaceName)):
            await seed.load(session)
            await session.commit()


async def name_id(client, name: str, district_code: str) -> int:
    [match] = [
        n
        for n in (
            await client.get(f"{API}/names/resolve", params={"name": name, "district_code": district_code})
        ).json()
    ]
    return match["id"]
