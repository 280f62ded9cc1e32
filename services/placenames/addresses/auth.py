"""Who may call the addresses endpoints: one dependency per scope."""

from typing import Annotated

from services.placenames.scopes import ADDRESSES_WRITE
from shared.identity import Principal, require

AddressesWriter = Annotated[Principal, require(ADDRESSES_WRITE)]
