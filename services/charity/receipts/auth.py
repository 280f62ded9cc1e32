"""Who may call the receipts endpoints: one dependency per scope."""

from typing import Annotated

from services.charity.scopes import DONATIONS_READ, RECEIPTS_WRITE
from shared.identity import Principal, require

ReceiptsReader = Annotated[Principal, require(DONATIONS_READ)]
ReceiptsWriter = Annotated[Principal, require(RECEIPTS_WRITE)]
