"""Who may call the eligibility check endpoints: one dependency per scope."""

from typing import Annotated

from services.assistance.scopes import ELIGIBILITY_CHECK
from shared.identity import Principal, require

EligibilityChecker = Annotated[Principal, require(ELIGIBILITY_CHECK)]
