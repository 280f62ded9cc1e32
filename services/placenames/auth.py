"""Who may call the routes that placenames's main.py mounts for the whole service (/jobs): one dependency per scope."""

from typing import Annotated

from services.placenames.scopes import JOBS_READ, JOBS_WRITE
from shared.identity import Principal, require

# Who may follow and cancel the worker's jobs.
JobsReader = Annotated[Principal, require(JOBS_READ)]
JobsCanceller = Annotated[Principal, require(JOBS_WRITE)]
