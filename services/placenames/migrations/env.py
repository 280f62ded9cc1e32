import services.placenames.addresses.models
import services.placenames.batches.models
import services.placenames.changes.models
import services.placenames.divisions.models
import services.placenames.names.models
import services.placenames.plates.models  # noqa: F401
from services.placenames.database import Base
from shared.migrations import run_environment

run_environment(Base.metadata)
