"""Who may call the emergency call endpoints: one dependency per scope."""

from typing import Annotated

from services.eldercare.scopes import CALLS_HANDLE, CALLS_RAISE, CALLS_READ
from shared.identity import Principal, require

CallsReader = Annotated[Principal, require(CALLS_READ)]
CallRaiser = Annotated[Principal, require(CALLS_RAISE)]
CallHandler = Annotated[Principal, require(CALLS_HANDLE)]
