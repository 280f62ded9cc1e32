import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from shared.schemas import Schema

Kind = Literal[
    "address.issued",
    "address.renamed",
    "address.moved",
    "address.split",
    "address.merged",
    "address.retired",
    "name.renamed",
    "name.unified",
    "name.rectified",
    "name.retired",
    "plate.issued",
    "plate.replaced",
    "plate.revoked",
    "division.renamed",
    "division.merged",
    "division.moved",
    "division.retired",
]


class FeedSuccessor(Schema):
    """What the subject of a change became."""

    code: str = Field(description="An address code, a division code, a door plate code or a name's id")
    text: str = Field(description="Its standard text: the address's full name, the division's or name's name")
    area_code: str | None = Field(
        description="For an address, the division it lies in (its community, else its township, else its "
        "district): what a consumer stores as `area_code`; for a division, its own code"
    )
    latitude: float | None = Field(None, description="For an address, its position when the registry has one")
    longitude: float | None = Field(None, description="For an address, its position when the registry has one")


class FeedChange(Schema):
    """One change of the registry (地名地址变更)."""

    model_config = ConfigDict(from_attributes=True)

    seq: int = Field(description="Position in the feed: increasing, without gaps, in the order changes committed")
    kind: Kind = Field(
        description="`address.renamed` (its road or area renamed: same code, new text), `address.moved` (its "
        "division changed: same code, new text and area), `address.split` (retired; its parts are the "
        "successors), `address.merged` (retired into the one successor), `address.retired` (no successor), "
        "`address.issued`; `name.*` and `plate.*` for the records behind them; `division.renamed` (same code), "
        "`division.merged` (into another), `division.moved` (to another parent, under a new code), "
        "`division.retired` (no successor)"
    )
    code: str = Field(description="The subject's code (address, division, door plate) or a name's id")
    previous_text: str | None = Field(description="The subject's text before the change")
    successors: list[FeedSuccessor] = Field(description="What the subject became; empty when it was retired")
    decided_on: dt.date | None = Field(description="The day of the decision, when one is recorded")
    recorded_at: dt.datetime = Field(description="When placenames recorded the change (UTC)")


class FeedPage(Schema):
    """A page of the feed."""

    changes: list[FeedChange] = Field(description="The changes after the cursor, in order")
    next_after: int = Field(
        description="Pass as `after` for the next page once these changes are applied (the last change's seq; "
        "the cursor itself when there is nothing new)"
    )
    last_seq: int = Field(description="The feed's last change: when `next_after` reaches it, the reader is up to date")
