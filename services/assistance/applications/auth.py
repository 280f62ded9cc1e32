"""Who may call the applications endpoints: one dependency per scope."""

from typing import Annotated

from services.assistance.scopes import APPLICATIONS_READ, APPLICATIONS_WRITE
from shared.identity import Principal, require

ApplicationsReader = Annotated[Principal, require(APPLICATIONS_READ)]
ApplicationsWriter = Annotated[Principal, require(APPLICATIONS_WRITE)]
