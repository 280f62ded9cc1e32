"""Who may call the family care bed endpoints: one dependency per scope."""

from typing import Annotated

from services.eldercare.scopes import FAMILY_BEDS_READ, FAMILY_BEDS_WRITE
from shared.identity import Principal, require

FamilyBedsReader = Annotated[Principal, require(FAMILY_BEDS_READ)]
FamilyBedsWriter = Annotated[Principal, require(FAMILY_BEDS_WRITE)]
