# Importing the models registers their tables on the metadata.
import services.charity.campaigns.models
import services.charity.donations.models
import services.charity.inkind.models
import services.charity.ledger.models
import services.charity.needs.models
import services.charity.organizations.models
import services.charity.projects.models
import services.charity.receipts.models
import services.charity.trusts.models  # noqa: F401
from services.charity.database import Base
from shared.migrations import run_environment

run_environment(Base.metadata)
