import services.eldercare.elders.models  # noqa: F401  (registers the tables on the metadata)
import services.eldercare.meals.models  # noqa: F401
import services.eldercare.beds.models  # noqa: F401
import services.eldercare.homecare.models  # noqa: F401
import services.eldercare.subsidies.models  # noqa: F401
import services.eldercare.assessment.models  # noqa: F401
import services.eldercare.familybeds.models  # noqa: F401
import services.eldercare.calls.models  # noqa: F401
import services.eldercare.carelinks.models  # noqa: F401
import services.eldercare.overrides.models  # noqa: F401
from services.eldercare.database import Base
from shared.migrations import run_environment

run_environment(Base.metadata)
