import services.assistance.policies.models  # noqa: F401  (registers the tables on the metadata)
import services.assistance.households.models  # noqa: F401
import services.assistance.assessment.models  # noqa: F401
import services.assistance.programmes.models  # noqa: F401
import services.assistance.applications.models  # noqa: F401
import services.assistance.discovery.models  # noqa: F401
import services.assistance.leads.models  # noqa: F401
import services.assistance.catalogue.models  # noqa: F401
from services.assistance.database import Base
from shared.migrations import run_environment

run_environment(Base.metadata)
