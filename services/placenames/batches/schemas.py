import datetime as dt
from typing import Literal

from pydantic import Field

from shared.schemas import Schema


class JobOut(Schema):
    id: str
    status: Literal["queued", "running", "done"]
    encoding: Literal["utf-8", "gbk"] = Field(description="How the upload was read")
    total_lines: int
    processed_lines: int
    percent: int = Field(ge=0, le=100, description="processed_lines / total_lines, rounded down")
    matched_lines: int
    bad_lines: int = Field(description="Lines that could not be read (reported in the result, never dropped)")
    created_at: dt.datetime
    finished_at: dt.datetime | None
    result_url: str | None = Field(description="Where to download the result once done")
