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
    # A check-in or check-out farther than this from the person's home (plus the GPS accuracy) is flagged.
    visit_radius_m: float = 200.0
    # Per-resident booking quotas (OWASP API6: one account cannot hold every meal or bed). Staff booking for
    # people are not counted; exceeding one is a 409 `/problems/quota-reached` naming it (see quotas.py).
    resident_meal_orders_per_day: int = Field(
        6, ge=1, description="Live meal orders a resident may hold for one day, across all the people they act for "
                             "(6: three meals for two people)")
    resident_bed_holds: int = Field(
        2, ge=1, description="Live bed holds a resident may hold at once, across all the people they act for")
    resident_pending_care_links: int = Field(
        5, ge=1, description="Care link requests a resident may have waiting for staff at once")
    resident_open_visits: int = Field(
        4, ge=1, description="Home visits a resident may have open (requested, scheduled or under way) at once, "
                             "across all the people they act for")
    # The caregiver app (homecare/caregiver_app.py): how long a pairing code from staff stays valid, and how many
    # codes (right or wrong) one signed-in account may enter per hour before it is refused for the rest of it.
    caregiver_pairing_hours: int = Field(24, ge=1, le=168, description="Hours a caregiver's pairing code is valid")
    caregiver_pairing_attempts_per_hour: int = Field(
        5, ge=1, description="Pairing codes one account may enter per hour (a brake on guessing)")
