"""Who may act on an organisation's objects: staff whose area covers the organisation's district.

Objects outside the caller's area are reported as not found (the same answer as for objects that do not
exist), so ids cannot be probed across districts.
"""

from typing import Any

from shared.errors import NotFound
from shared.identity import Principal


def sees(principal: Principal, district_code: str) -> bool:
    """Staff see their area and below; auditors and others with a read scope but no area see nothing."""
    return principal.covers(district_code)


def visible_or_404(principal: Principal, district_code: str, detail: str, **params: Any) -> None:
    """NotFound saying `detail` ("no project {id} that you may see", id=12) when the principal may not see it."""
    if not sees(principal, district_code):
        raise NotFound(detail, **params)
