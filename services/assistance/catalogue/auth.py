"""Who may call the catalogue endpoints: one dependency per scope."""

from typing import Annotated

from services.assistance.scopes import CATALOGUE_READ, CATALOGUE_WRITE
from shared.identity import Principal, require

CatalogueReader = Annotated[Principal, require(CATALOGUE_READ)]
CatalogueWriter = Annotated[Principal, require(CATALOGUE_WRITE)]
