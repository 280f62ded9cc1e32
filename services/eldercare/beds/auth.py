"""Who may call the institution beds endpoints: one dependency per scope."""

from typing import Annotated

from services.eldercare.scopes import ADMISSIONS_READ, BED_HOLDS_WRITE, BEDS_READ, BEDS_WRITE, OVERRIDES_WRITE
from shared.identity import Principal, require

BedsReader = Annotated[Principal, require(BEDS_READ)]
BedsWriter = Annotated[Principal, require(BEDS_WRITE)]
BedHoldsWriter = Annotated[Principal, require(BED_HOLDS_WRITE)]
AdmissionsReader = Annotated[Principal, require(ADMISSIONS_READ)]
OverridesWriter = Annotated[Principal, require(OVERRIDES_WRITE)]
