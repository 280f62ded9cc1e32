# Importing the models registers their tables on the metadata.
import services.charity.campaigns.models  # noqa: F401
import services.charity.donations.models  # noqa: F401
import services.charity.inkind.models  # noqa: F401
import services.charity.ledger.models  # noqa: F401
import services.charity.needs.models  # noqa: F401
import services.charity.organizations.models  # noqa: F401
import services.charity.projects.models  # noqa: F401
import services.charity.receipts.models  # noqa: F401
import services.charity.trusts.models  # noqa: F401
from services.charity.database import Base
from shared.migrations import run_environment

run_environment(Base.metadata)
