import services.eldercare.assessment.models
import services.eldercare.beds.models
import services.eldercare.calls.models
import services.eldercare.carelinks.models
import services.eldercare.elders.models
import services.eldercare.familybeds.models
import services.eldercare.homecare.models
import services.eldercare.meals.models
import services.eldercare.overrides.models
import services.eldercare.settlements.models
import services.eldercare.subsidies.models  # noqa: F401
from services.eldercare.database import Base
from shared.migrations import run_environment

run_environment(Base.metadata)
