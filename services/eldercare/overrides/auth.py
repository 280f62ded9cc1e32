"""Who may call the overrides audit endpoints: one dependency per scope."""

from typing import Annotated

from services.eldercare.scopes import OVERRIDES_READ
from shared.identity import Principal, require

OverridesReader = Annotated[Principal, require(OVERRIDES_READ)]
