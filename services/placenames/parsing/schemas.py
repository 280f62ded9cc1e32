from typing import Literal

from pydantic import ConfigDict, Field

from shared.schemas import Schema

MAX_TEXT = 500
MAX_BATCH = 1000
# All the texts of one /parses together: 1,000 addresses of 100 characters (real ones are 20–60). Bounds the work
# one request may ask (docs/benchmarks/placenames.md), and keeps the body within the gateway's 1 MiB.
MAX_BATCH_CHARS = 100_000
Text = Field(
    min_length=1,
    max_length=MAX_TEXT,
    description=f"Free-text address, 1–{MAX_TEXT} characters",
    examples=["宁波市江东区甬江路12号3幢2单元501室"],
)
PartKind = Literal[
    "province",
    "city",
    "district",
    "township",
    "community",
    "road",
    "lane",
    "house_number",
    "area",
    "building",
    "unit",
    "floor",
    "room",
]


class ParseIn(Schema):
    model_config = ConfigDict(extra="forbid")
    text: str = Text


class ParsesIn(Schema):
    model_config = ConfigDict(extra="forbid")
    texts: list[str] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description=f"1–{MAX_BATCH} free-text addresses, "
        f"each of 1–{MAX_TEXT} characters, {MAX_BATCH_CHARS:,} characters in all at most",
    )


class PartOut(Schema):
    kind: PartKind
    text: str = Field(description="The characters it came from, as written")
    start: int = Field(description="Offset of the first character in the input")
    end: int = Field(description="Offset after the last character")
    value: str = Field(description="Normalised: today's standard name, or the number in digits")
    ref: str | None = Field(None, description="Division code, or place-name id, of today's standard name")
    written_status: Literal["standard", "alias", "historical", "unknown"] | None = Field(
        None,
        description="Whether the name as written is standard, an alias or an old name; `unknown`: a road "
        "the registry does not know, recognised by its form (kept as written, no `ref`)",
    )


class Span(Schema):
    text: str
    start: int
    end: int


class AddressMatch(Schema):
    code: str
    full_name: str
    level: str
    confidence: float = Field(ge=0, le=1)
    reasons: list[str]


class RoadSuggestion(Schema):
    """A recorded road the text may have meant, when the road as written is not recorded. Never applied."""

    written: str = Field(description="The characters taken for a road name, as written")
    start: int = Field(description="Offset of `written` in the input")
    end: int
    resembles: str = Field(description="The recorded name it is near (a standard, alias or old name)")
    standard_name: str = Field(description="Today's standard name of that road")
    ref: str = Field(description="Place-name id of today's standard name")
    district_code: str | None
    reason: str = Field(
        description="Why it is proposed: same sound (同音), similar sound (近音), one character "
        "wrong, left out or too many"
    )
    score: float = Field(ge=0, le=1, description="Higher is nearer; ranked best first")


class ParseOut(Schema):
    text: str
    parts: list[PartOut]
    unparsed: list[Span] = Field(description="Stretches of text that were not understood")
    district_code: str | None = Field(description="Given, or implied by the township, community or road")
    match: AddressMatch | None = Field(description="The standard address, when one stands out")
    candidates: list[AddressMatch] = Field(
        description="Ranked standard addresses when the text is ambiguous (人民路5号 without a district), best first"
    )
    confidence: float = Field(ge=0, le=1, description="Of `match`; of the parse alone when nothing matched")
    reasons: list[str]
    road_suggestions: list[RoadSuggestion] = Field(
        default_factory=list,
        description="When the text names a road that is not recorded (天同南路): the "
        "nearest recorded roads, best first, each with its reason. Proposals only: no part, match or candidate "
        "is taken from them; parse again with the road you mean",
    )


class ParsesOut(Schema):
    results: list[ParseOut]
