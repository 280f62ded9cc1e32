"""Who may call the status lookup endpoints: one dependency per scope."""

from typing import Annotated

from services.assistance.scopes import STATUS_READ
from shared.identity import Principal, require

StatusReader = Annotated[Principal, require(STATUS_READ)]
