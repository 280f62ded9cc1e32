from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class EldercareSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ELDERCARE_", extra="ignore", populate_by_name=True)

    service_name: str = "eldercare"
    port: int = 8001
    # Eldercare gets its own token from the gateway (client credentials: ELDERCARE_CLIENT_SECRET, a dev
    # default in dev). An operator may instead set a fixed bearer token here.
    peer_token: str | None = None
    peer_timeout_s: float = 0.3
    # How long a status answered by assistance may stand in for it while it is down (hours).
    status_cache_hours: int = 24
    # Minutes a bed hold (预留) lasts when the caller does not say.
    bed_hold_minutes: int = 30
    # Hours a person offered a bed from the waitlist has to accept it before it passes to the next.
    bed_offer_hours: int = 48
    # Electronic visit verification (EVV) of home visits (homecare/service.py): a visit is verified, and draws from
    # the person's home-care subsidy, only if its check-in, duration and positions are all within these; otherwise
    # it is flagged for review and draws nothing until staff correct it to verified. None of these figures is in
    # the domain brief or the seed: each is an assumption, a neutral default for the bureau to set.
    visit_radius_m: float = Field(
        200.0,
        gt=0,
        le=5000,
        description="Assumption (not from the bureau): a check-in or check-out farther than "
        "this many metres from the person's home, plus the phone's GPS accuracy, "
        "is flagged (`check_in_far_from_home`, `check_out_far_from_home`)",
    )
    visit_check_in_early_minutes: int = Field(
        30,
        ge=0,
        le=720,
        description="Assumption (not from the bureau): a check-in more than this many minutes "
        "before the scheduled start is flagged (`check_in_early`)",
    )
    visit_check_in_late_minutes: int = Field(
        30,
        ge=0,
        le=720,
        description="Assumption (not from the bureau): a check-in more than this many minutes "
        "after the scheduled start is flagged (`check_in_late`); 30 matches when a "
        "visit with no check-in is marked missed",
    )
    visit_min_duration_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Assumption (not from the bureau): a visit whose time from check-in to "
        "check-out is less than this share of its scheduled duration is flagged "
        "(`too_short`)",
    )
    visit_booking_horizon_days: int = Field(
        366,
        ge=1,
        le=3660,
        description="Assumption (not from the bureau): a home visit is booked at most this many days ahead (a "
        "visit typed for 2199 held the caregiver's hour and the resident's quota for good); the bed "
        "availability search looks as far",
    )
    # Per-resident booking quotas (OWASP API6: one account cannot hold every meal or bed). Staff booking for
    # people are not counted; exceeding one is a 409 `/problems/quota-reached` naming it (see quotas.py).
    resident_meal_orders_per_day: int = Field(
        6,
        ge=1,
        description="Live meal orders a resident may hold for one day, across all the people they act for "
        "(6: three meals for two people)",
    )
    resident_bed_holds: int = Field(
        2, ge=1, description="Live bed holds a resident may hold at once, across all the people they act for"
    )
    resident_pending_care_links: int = Field(
        5, ge=1, description="Care link requests a resident may have waiting for staff at once"
    )
    resident_open_visits: int = Field(
        4,
        ge=1,
        description="Home visits a resident may have open (requested, scheduled or under way) at once, "
        "across all the people they act for",
    )
    # The caregiver app (homecare/caregiver_app.py): how long a pairing code from staff stays valid, and how many
    # codes (right or wrong) one signed-in account may enter per hour before it is refused for the rest of it.
    caregiver_pairing_hours: int = Field(24, ge=1, le=168, description="Hours a caregiver's pairing code is valid")
    caregiver_pairing_attempts_per_hour: int = Field(
        5, ge=1, description="Pairing codes one account may enter per hour (a brake on guessing)"
    )
