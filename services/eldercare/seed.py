"""Demo data: a few older people in Ningbo. Loading twice adds nothing (keyed by ID number)."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.eldercare.elders.models import Elder, ElderCarer
from shared.db import utcnow
from shared.idnumbers import parse_id_number

# The demo resident (13800000001 in the gateway's demo principals) cares for 王阿娣 and 陈根发.
DEMO_RESIDENT = "resident:13800000001"

ELDERS = [
    dict(id_number="330203194503150022", name="王阿娣", phone="13805740101", address="海曙区鼓楼街道中山西路12号3幢201室",
         area_code="330203001", latitude=29.8746, longitude=121.5495, lives_alone=True, carers=[(DEMO_RESIDENT, "child")]),
    dict(id_number="330212195207080032", name="陈根发", phone="13905740202", address="鄞州区百丈街道百丈东路358弄5号",
         area_code="330212001", latitude=29.8681, longitude=121.5612, lives_alone=False, carers=[(DEMO_RESIDENT, "child")]),
    dict(id_number="330212194001220031", name="李永康", phone=None, address="鄞州区钟公庙街道天童南路1088号",
         area_code="330212004", latitude=29.8262, longitude=121.5468, lives_alone=True, carers=[]),
    dict(id_number="330205195809110047", name="周秀英", phone="13705740404", address="江北区中马街道槐树路77号",
         area_code="330205001", latitude=29.8911, longitude=121.5527, lives_alone=False, carers=[]),
]


async def load(session: AsyncSession) -> int:
    created = 0
    for row in ELDERS:
        id_number = parse_id_number(row["id_number"])
        if await session.scalar(select(Elder.id).where(Elder.id_number == id_number.value)) is not None:
            continue
        carers = row["carers"]
        elder = Elder(**{k: v for k, v in row.items() if k != "carers"}, sex=id_number.sex,
                      birth_on=id_number.birth_date, emergency_contacts=[], registered_by="seed", created_at=utcnow())
        session.add(elder)
        await session.flush()
        session.add_all(ElderCarer(elder_id=elder.id, subject=s, relation=r) for s, r in carers)
        created += 1
    return created
