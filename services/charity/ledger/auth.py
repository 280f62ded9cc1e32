"""Who may call the ledger endpoints: one dependency per scope."""

from typing import Annotated

from services.charity.scopes import LEDGER_READ
from shared.identity import Principal, require

LedgerReader = Annotated[Principal, require(LEDGER_READ)]
