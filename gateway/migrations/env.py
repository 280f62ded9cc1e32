import gateway.auth.models
import gateway.notifications.models
import gateway.privacy.models  # noqa: F401  (registers the tables on the metadata)
from gateway.database import Base
from shared.migrations import run_environment

run_environment(Base.metadata)
