"""Who may call the inkind endpoints: one dependency per scope."""

from typing import Annotated

from services.charity.scopes import INKIND_READ, INKIND_WRITE
from shared.identity import Principal, require

InKindReader = Annotated[Principal, require(INKIND_READ)]
InKindWriter = Annotated[Principal, require(INKIND_WRITE)]
