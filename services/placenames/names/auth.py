"""Who may call the names endpoints: one dependency per scope."""

from typing import Annotated

from services.placenames.scopes import NAMES_WRITE
from shared.identity import Principal, require

NamesWriter = Annotated[Principal, require(NAMES_WRITE)]
