import services.assistance.applications.models
import services.assistance.assessment.models
import services.assistance.catalogue.models
import services.assistance.discovery.models
import services.assistance.households.models
import services.assistance.leads.models
import services.assistance.online.models
import services.assistance.policies.models
import services.assistance.programmes.models  # noqa: F401
from services.assistance.database import Base
from shared.migrations import run_environment

run_environment(Base.metadata)
