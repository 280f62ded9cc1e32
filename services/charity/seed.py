"""Demo data: a few Ningbo social organisations. Loading twice adds nothing (keyed by credit code).

The names are of the kind found in Ningbo's register; the credit codes are made up for the demo, with
check characters computed by python-stdnum, and are not the organisations' real codes.
"""

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.charity.organizations.models import Organization
from services.charity.organizations.service import parse_credit_code
from shared.db import utcnow

ORGANIZATIONS = [
    dict(name="宁波市慈善总会", unified_social_credit_code="51330200MJ1234567X", registered_on=dt.date(1995, 3, 18),
         district_code="330200", is_charity=True, recognised_on=dt.date(2016, 12, 20), evaluation_grade="5A",
         fundraising_qualified_on=dt.date(2017, 3, 1), contact_name="陈敏", contact_phone="13805740001"),
    dict(name="宁波市善园公益基金会", unified_social_credit_code="53330200MJ9000001T",
         registered_on=dt.date(2014, 6, 5), district_code="330200", is_charity=True,
         recognised_on=dt.date(2017, 5, 10), evaluation_grade="4A", fundraising_qualified_on=None,
         contact_name="张晓燕", contact_phone="13905740002"),
    dict(name="鄞州区邻里守望社会工作服务中心", unified_social_credit_code="52330212MJ8712345X",
         registered_on=dt.date(2019, 9, 1), district_code="330212", is_charity=False, recognised_on=None,
         evaluation_grade="3A", fundraising_qualified_on=None, contact_name="李建国", contact_phone="13705740003"),
    dict(name="余姚市阳光助残公益基金会", unified_social_credit_code="53330281MJ98765432",
         registered_on=dt.date(2021, 4, 12), district_code="330281", is_charity=True,
         recognised_on=dt.date(2021, 4, 12), evaluation_grade=None, fundraising_qualified_on=None,
         contact_name="王丽", contact_phone="13605740004"),
]


async def load(session: AsyncSession) -> int:
    created = 0
    for row in ORGANIZATIONS:
        code = parse_credit_code(row["unified_social_credit_code"])
        if await session.scalar(select(Organization.id).where(Organization.unified_social_credit_code == code)):
            continue
        session.add(Organization(**row, registered_by="seed", created_at=utcnow()))
        created += 1
    await session.flush()
    return created
