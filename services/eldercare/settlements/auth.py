"""Who may call the settlement endpoints: one dependency per scope."""

from typing import Annotated

from services.eldercare.scopes import MEAL_STATEMENTS_APPROVE, MEAL_STATEMENTS_READ, MEAL_STATEMENTS_WRITE
from shared.identity import Principal, require

StatementsReader = Annotated[Principal, require(MEAL_STATEMENTS_READ)]
StatementsWriter = Annotated[Principal, require(MEAL_STATEMENTS_WRITE)]
StatementsApprover = Annotated[Principal, require(MEAL_STATEMENTS_APPROVE)]
