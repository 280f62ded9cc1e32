import services.charity.organizations.models  # noqa: F401  (registers the tables on the metadata)
from services.charity.database import Base
from shared.migrations import run_environment

run_environment(Base.metadata)
