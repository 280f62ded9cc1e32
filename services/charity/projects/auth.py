"""Who may call the projects endpoints: one dependency per scope."""

from typing import Annotated

from services.charity.scopes import PROJECTS_READ, PROJECTS_WRITE
from shared.identity import Principal, require

ProjectsReader = Annotated[Principal, require(PROJECTS_READ)]
ProjectsWriter = Annotated[Principal, require(PROJECTS_WRITE)]
