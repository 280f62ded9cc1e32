"""Who may call the campaigns endpoints: one dependency per scope."""

from typing import Annotated

from services.charity.scopes import CAMPAIGNS_READ, CAMPAIGNS_UPLOAD, CAMPAIGNS_WRITE
from shared.identity import Principal, require

CampaignsReader = Annotated[Principal, require(CAMPAIGNS_READ)]
CampaignsWriter = Annotated[Principal, require(CAMPAIGNS_WRITE)]
PayrollUploader = Annotated[Principal, require(CAMPAIGNS_UPLOAD)]
