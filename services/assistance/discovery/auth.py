"""Who may call the screening and signal endpoints: one dependency per scope."""

from typing import Annotated

from services.assistance.scopes import SCREENINGS_RUN, SIGNALS_WRITE
from shared.identity import Principal, require

Screener = Annotated[Principal, require(SCREENINGS_RUN)]
SignalsWriter = Annotated[Principal, require(SIGNALS_WRITE)]
