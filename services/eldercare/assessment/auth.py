"""Who may call the capability assessment endpoints: one dependency per scope."""

from typing import Annotated

from services.eldercare.scopes import ASSESSMENTS_READ, ASSESSMENTS_WRITE
from shared.identity import Principal, require

AssessmentsReader = Annotated[Principal, require(ASSESSMENTS_READ)]
AssessmentsWriter = Annotated[Principal, require(ASSESSMENTS_WRITE)]
