import services.placenames.addresses.models  # noqa: F401  (registers the tables on the metadata)
import services.placenames.batches.models  # noqa: F401
import services.placenames.divisions.models  # noqa: F401
import services.placenames.names.models  # noqa: F401
import services.placenames.plates.models  # noqa: F401
from services.placenames.database import Base
from shared.migrations import run_environment

run_environment(Base.metadata)
