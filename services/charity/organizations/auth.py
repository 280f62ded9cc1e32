"""Who may call the organizations endpoints: one dependency per scope."""

from typing import Annotated

from services.charity.scopes import ORGANIZATIONS_WRITE
from shared.identity import Principal, require

OrganizationsWriter = Annotated[Principal, require(ORGANIZATIONS_WRITE)]
