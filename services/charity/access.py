"""Who may act on an organisation's objects: staff whose area covers the organisation's district.

Objects outside the caller's area are reported as not found (the same answer as for objects that do not
exist), so ids cannot be probed across districts.
"""

from shared.errors import NotFound
from shared.identity import Principal


def sees(principal: Principal, district_code: str) -> bool:
    """Staff see their area and below; auditors and others with a read scope but no area see nothing."""
    return principal.covers(district_code)


def visible_or_404(principal: Principal, district_code: str, what: str) -> None:
    if not sees(principal, district_code):
        raise NotFound(f"no {what} that you may see")
