"""Who may call the online application endpoints: residents for their own (one dependency per scope)."""

from typing import Annotated

from services.assistance.scopes import ONLINE_APPLICATIONS_READ, ONLINE_APPLICATIONS_WRITE
from shared.identity import Principal, require

OnlineReader = Annotated[Principal, require(ONLINE_APPLICATIONS_READ)]
OnlineWriter = Annotated[Principal, require(ONLINE_APPLICATIONS_WRITE)]
