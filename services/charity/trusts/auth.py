"""Who may call the trusts endpoints: one dependency per scope."""

from typing import Annotated

from services.charity.scopes import TRUSTS_READ, TRUSTS_WRITE
from shared.identity import Principal, require

TrustsReader = Annotated[Principal, require(TRUSTS_READ)]
TrustsWriter = Annotated[Principal, require(TRUSTS_WRITE)]
