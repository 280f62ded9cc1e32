"""Who may call the home-care subsidy endpoints: one dependency per scope."""

from typing import Annotated

from services.eldercare.scopes import ALLOWANCE_RATES_WRITE, SUBSIDIES_READ, SUBSIDIES_WRITE
from shared.identity import Principal, require

SubsidiesReader = Annotated[Principal, require(SUBSIDIES_READ)]
SubsidiesWriter = Annotated[Principal, require(SUBSIDIES_WRITE)]
AllowanceRatesWriter = Annotated[Principal, require(ALLOWANCE_RATES_WRITE)]
