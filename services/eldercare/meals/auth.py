"""Who may call the meal aid endpoints: one dependency per scope."""

from typing import Annotated

from services.eldercare.scopes import (
    CANTEENS_READ,
    CANTEENS_WRITE,
    MEAL_ORDERS_READ,
    MEAL_ORDERS_WRITE,
    MEAL_SUBSIDIES_WRITE,
)
from shared.identity import Principal, require

CanteensReader = Annotated[Principal, require(CANTEENS_READ)]
CanteensWriter = Annotated[Principal, require(CANTEENS_WRITE)]
MealSubsidiesWriter = Annotated[Principal, require(MEAL_SUBSIDIES_WRITE)]
MealOrdersReader = Annotated[Principal, require(MEAL_ORDERS_READ)]
MealOrdersWriter = Annotated[Principal, require(MEAL_ORDERS_WRITE)]
