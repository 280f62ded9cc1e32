"""Who may call the policies endpoints: one dependency per scope."""

from typing import Annotated

from services.assistance.scopes import POLICIES_READ, POLICIES_WRITE
from shared.identity import Principal, require

PoliciesReader = Annotated[Principal, require(POLICIES_READ)]
PoliciesWriter = Annotated[Principal, require(POLICIES_WRITE)]
