import datetime as dt

from pydantic import Field

from shared.schemas import Schema


class Target(Schema):
    value: int | float
    target: int | float
    met: bool


class OrganizationIndicators(Schema):
    registered: Target = Field(description="Registered social organisations (target: more than 100)")
    new_this_year: Target = Field(description="Registered this year (target: 11)")
    charities: int = Field(description="Recognised as charities (慈善组织)")
    fundraising_qualified: int = Field(description="Holding the public-fundraising qualification")


class MoneyIndicators(Schema):
    donations: int
    donated_fen: int
    refunded_fen: int
    raised_fen: int = Field(description="Donated less refunded")
    spent_fen: int


class TrustIndicators(Schema):
    trusts: int
    scale_fen: int
    by_district: dict[str, int] = Field(description="Filed trusts per district (慈善信托)")


class CampaignIndicator(Schema):
    campaign_id: int
    name: str
    participation: Target = Field(description="Participation rate of its units, percent (target 95)")


class Indicators(Schema):
    """The charity part of the plan's indicators (民政数字驾驶舱), computed at request time."""

    as_of: dt.date
    district: str | None
    organizations: OrganizationIndicators
    projects_by_status: dict[str, int]
    money_this_year: MoneyIndicators
    money_all_time: MoneyIndicators
    trusts: TrustIndicators
    community_fund_coverage: Target = Field(description="Percent of communities with a fund, over the districts "
                                            "whose number of communities is stated (target 90)")
    campaigns: list[CampaignIndicator] = Field(description="Campaigns of this year and last")
