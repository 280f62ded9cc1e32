"""Who may call the households (and their assessment) endpoints: one dependency per scope, and one for
clear reads, which need both."""

from typing import Annotated

from services.assistance.scopes import HOUSEHOLDS_READ, HOUSEHOLDS_WRITE, PII_READ
from shared.identity import Principal, require

HouseholdsReader = Annotated[Principal, require(HOUSEHOLDS_READ)]
HouseholdsWriter = Annotated[Principal, require(HOUSEHOLDS_WRITE)]
HouseholdsPiiReader = Annotated[Principal, require(HOUSEHOLDS_READ, PII_READ)]
