"""Who may call the older people endpoints: one dependency per scope."""

from typing import Annotated

from services.eldercare.scopes import ELDERS_READ, ELDERS_WRITE, PII_READ
from shared.identity import Principal, require

EldersReader = Annotated[Principal, require(ELDERS_READ)]
EldersWriter = Annotated[Principal, require(ELDERS_WRITE)]
ElderPiiReader = Annotated[Principal, require(ELDERS_READ, PII_READ)]
