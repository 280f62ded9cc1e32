"""Verified assertions are cached until they expire, but never taken for another service, under another
secret, or after their expiry."""

import time

import pytest

from shared import identity
from shared.errors import Unauthorized
from shared.identity import Principal, mint_assertion

SECRET = "an-identity-secret-for-this-test-only"
CLERK = Principal(subject="staff:cache", kind="staff", area="330212", scopes=frozenset({"eldercare.elders:read"}))


def test_a_cached_assertion_serves_only_its_audience_and_secret_until_it_expires(monkeypatch):
    token = mint_assertion(CLERK, audience="eldercare", secret=SECRET)
    assert identity._verified_principal(token, SECRET, "eldercare") == CLERK
    assert identity._verified_principal(token, SECRET, "eldercare") == CLERK  # from the cache
    with pytest.raises(Unauthorized):
        identity._verified_principal(token, SECRET, "charity")
    with pytest.raises(Unauthorized):
        identity._verified_principal(token, "a-rotated-secret-for-this-test-only", "eldercare")
    # Past its expiry the cache no longer answers: the signature check runs again (and, by then, refuses).
    checked = []

    def verify_again(*args, **kwargs):
        checked.append(args)
        raise Unauthorized("the token has expired")

    later = time.time() + identity.ASSERTION_LIFETIME_S + 1
    monkeypatch.setattr(identity.time, "time", lambda: later)
    monkeypatch.setattr(identity, "verify", verify_again)
    with pytest.raises(Unauthorized, match="expired"):
        identity._verified_principal(token, SECRET, "eldercare")
    assert checked
