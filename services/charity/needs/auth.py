"""Who may call the needs endpoints: one dependency per scope."""

from typing import Annotated

from services.charity.scopes import MATCHES_WRITE, NEEDS_WRITE, OFFERS_WRITE
from shared.identity import Principal, require

MatchesWriter = Annotated[Principal, require(MATCHES_WRITE)]
NeedsWriter = Annotated[Principal, require(NEEDS_WRITE)]
OffersWriter = Annotated[Principal, require(OFFERS_WRITE)]
