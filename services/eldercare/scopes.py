from shared.scopes import scope

ELDERS_READ = scope("eldercare.elders:read", "Read older people's profiles (staff: their area; residents: "
                    "themselves and those they care for)", "resident", "staff", "auditor")
ELDERS_WRITE = scope("eldercare.elders:write", "Register older people in one's area", "staff")

CANTEENS_READ = scope("eldercare.canteens:read", "Browse canteens, their menus and the meal subsidy rates",
                      "resident", "staff", "auditor", "partner")
CANTEENS_WRITE = scope("eldercare.canteens:write", "Register canteens and publish menus in one's area", "staff")
MEAL_SUBSIDIES_WRITE = scope("eldercare.meal_subsidies:write", "Add a dated meal subsidy rate (city bureau)",
                             "city_staff")
MEAL_ORDERS_READ = scope("eldercare.meal_orders:read", "Read meal orders (staff: their area; residents: the people "
                         "they care for)", "resident", "staff", "auditor")
MEAL_ORDERS_WRITE = scope("eldercare.meal_orders:write", "Order and cancel meals for a person one may act for",
                          "resident", "staff")
