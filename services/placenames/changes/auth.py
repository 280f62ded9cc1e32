"""Who may read the change feed: the suite's services and partner departments (client credentials), city staff."""

from typing import Annotated

from services.placenames.scopes import CHANGES_READ
from shared.identity import Principal, require

ChangesReader = Annotated[Principal, require(CHANGES_READ)]
