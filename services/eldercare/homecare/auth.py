"""Who may call the home care endpoints: one dependency per scope."""

from typing import Annotated

from services.eldercare.scopes import (
    HOMECARE_READ,
    HOMECARE_WRITE,
    VISITS_ATTEND,
    VISITS_OPERATE,
    VISITS_READ,
    VISITS_WRITE,
)
from shared.identity import Principal, require

HomecareReader = Annotated[Principal, require(HOMECARE_READ)]
HomecareWriter = Annotated[Principal, require(HOMECARE_WRITE)]
VisitsReader = Annotated[Principal, require(VISITS_READ)]
VisitsWriter = Annotated[Principal, require(VISITS_WRITE)]
VisitsOperator = Annotated[Principal, require(VISITS_OPERATE)]
VisitsAttendant = Annotated[Principal, require(VISITS_ATTEND)]
