"""Who may call the leads endpoints: one dependency per scope."""

from typing import Annotated

from services.assistance.scopes import LEADS_READ, LEADS_WRITE
from shared.identity import Principal, require

LeadsReader = Annotated[Principal, require(LEADS_READ)]
LeadsWriter = Annotated[Principal, require(LEADS_WRITE)]
