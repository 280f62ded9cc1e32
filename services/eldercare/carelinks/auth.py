"""Who may call the care link endpoints: one dependency per scope."""

from typing import Annotated

from services.eldercare.scopes import CARE_LINKS_DECIDE, CARE_LINKS_READ, CARE_LINKS_REQUEST
from shared.identity import Principal, require

CareLinkRequester = Annotated[Principal, require(CARE_LINKS_REQUEST)]
CareLinksReader = Annotated[Principal, require(CARE_LINKS_READ)]
CareLinksDecider = Annotated[Principal, require(CARE_LINKS_DECIDE)]
