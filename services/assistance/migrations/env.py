import services.assistance.policies.models  # noqa: F401  (registers the tables on the metadata)
from services.assistance.database import Base
from shared.migrations import run_environment

run_environment(Base.metadata)
