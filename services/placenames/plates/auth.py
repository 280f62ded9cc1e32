"""Who may call the plates endpoints: one dependency per scope."""

from typing import Annotated

from services.placenames.scopes import ADDRESSES_WRITE
from shared.identity import Principal, require

PlatesWriter = Annotated[Principal, require(ADDRESSES_WRITE)]
