from shared.scopes import scope

ELDERS_READ = scope("eldercare.elders:read", "Read older people's profiles (staff: their area; residents: "
                    "themselves and those they care for)", "resident", "staff", "auditor")
ELDERS_WRITE = scope("eldercare.elders:write", "Register older people in one's area", "staff")
