"""Who may call the online application endpoints: residents for their own (one dependency per scope), and staff
reading a material's file (a photo of an ID card is personal data in the clear: audited, with the PII scope)."""

from typing import Annotated

from services.assistance.scopes import APPLICATIONS_READ, ONLINE_APPLICATIONS_READ, ONLINE_APPLICATIONS_WRITE, PII_READ
from shared.identity import Principal, require

OnlineReader = Annotated[Principal, require(ONLINE_APPLICATIONS_READ)]
OnlineWriter = Annotated[Principal, require(ONLINE_APPLICATIONS_WRITE)]
MaterialsReader = Annotated[Principal, require(APPLICATIONS_READ, PII_READ)]
