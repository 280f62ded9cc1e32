"""Who may call the parsing endpoints: one dependency per scope."""

from typing import Annotated

from services.placenames.scopes import PARSE
from shared.identity import Principal, require

ParseUser = Annotated[Principal, require(PARSE)]
