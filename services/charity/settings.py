from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.money import MAX_PAYMENT_FEN
from shared.settings import ServiceSettings


class DonationLimits(BaseSettings):
    """The bounds of what one donation may be. The request schemas read them once, when the service's modules are
    imported (`LIMITS`): a bound of a request model cannot change from one app to another."""

    model_config = SettingsConfigDict(env_prefix="CHARITY_", extra="ignore")

    # ASSUMPTION: no law or rule of the bureau sets a maximum for one donation. This one only keeps a mistyped or
    # forged amount out of the ledger; it is neutral (the same for every donor and channel) and generous
    # (100 million yuan: a larger gift is a matter for a bank transfer recorded in parts, or for raising this).
    max_donation_fen: int = Field(
        MAX_PAYMENT_FEN,
        ge=1,
        le=MAX_PAYMENT_FEN,
        description="The largest single donation recorded, in fen (assumption, default 100 million yuan; "
        f"at most {MAX_PAYMENT_FEN:,}, the bound of the amount's column)",
    )


LIMITS = DonationLimits()


class CharitySettings(ServiceSettings, DonationLimits):
    model_config = SettingsConfigDict(env_prefix="CHARITY_", extra="ignore", populate_by_name=True)

    service_name: str = "charity"
    port: int = 8003
