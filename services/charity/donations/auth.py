"""Who may call the donations endpoints: one dependency per scope."""

from typing import Annotated

from services.charity.scopes import DONATIONS_READ, DONATIONS_WRITE, FUNDS_WRITE, PII_READ
from shared.identity import Principal, require

DonationsReader = Annotated[Principal, require(DONATIONS_READ)]
DonationsWriter = Annotated[Principal, require(DONATIONS_WRITE)]
DonorPhoneReader = Annotated[Principal, require(DONATIONS_READ, PII_READ)]
FundsWriter = Annotated[Principal, require(FUNDS_WRITE)]
