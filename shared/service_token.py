"""A service's own identity towards its peers: an OAuth2 client-credentials token from the gateway.

Used as the `token_provider` of a `shared.peer.PeerClient`. The token is cached and renewed before it
expires, and concurrent callers share one fetch; if the gateway cannot issue one, the peer call fails
as `PeerUnavailable`, which the caller's fallback already handles.

A fetch that failed is remembered for `retry_after_s`: the callers that queued behind it, and those that come
in the meantime, fail at once with its reason instead of each asking the gateway again, one after another under
the lock (with a gateway that does not answer, the last of fifty queued callers would wait fifty timeouts).
"""

from __future__ import annotations

import asyncio
import time

import httpx

from shared.peer import PeerUnavailable, tls_context
from shared.request_id import REQUEST_ID_HEADER, current_request_id


class ClientCredentialsToken:
    def __init__(
        self,
        gateway_url: str,
        client_id: str,
        client_secret: str,
        *,
        renew_before_s: float = 60,
        timeout_s: float = 2.0,
        retry_after_s: float = 5.0,
    ):
        self.token_url = gateway_url.rstrip("/") + "/api/auth/v1/token"
        self.client_id = client_id
        self.client_secret = client_secret
        self.renew_before_s = renew_before_s
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self.fetches = 0  # how many tokens were fetched: lets tests see the cache work
        self.attempts = 0  # how many times the gateway was asked, answered or not
        self._token: str | None = None
        self._expires_at = 0.0
        self._failure: PeerUnavailable | None = None
        self._failed_at = 0.0
        self._lock = asyncio.Lock()

    async def __call__(self) -> str:
        if self._token and time.monotonic() < self._expires_at - self.renew_before_s:
            return self._token
        async with self._lock:  # one fetch for all the requests that found the token stale
            now = time.monotonic()
            if self._token and now < self._expires_at - self.renew_before_s:
                return self._token
            if self._failure is None or now >= self._failed_at + self.retry_after_s:
                try:
                    token = await self._fetch()
                except PeerUnavailable as failure:
                    self._failure, self._failed_at = failure, time.monotonic()
                else:
                    self._failure = None
                    return token
            if self._token and time.monotonic() < self._expires_at:
                return self._token  # renewal failed, but the token in hand is still good until it expires
            assert self._failure is not None
            raise PeerUnavailable(self._failure.peer, self._failure.reason)

    async def _fetch(self) -> str:
        self.attempts += 1
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s, verify=tls_context()) as client:
                request_id = current_request_id()  # the fetch is part of the request that needed it
                response = await client.post(
                    self.token_url,
                    data={"grant_type": "client_credentials"},
                    auth=(self.client_id, self.client_secret),
                    headers={REQUEST_ID_HEADER: request_id} if request_id else None,
                )
        except httpx.HTTPError as error:
            raise PeerUnavailable("gateway", f"no service token: {type(error).__name__}") from None
        if response.status_code != 200:
            raise PeerUnavailable("gateway", f"no service token: HTTP {response.status_code}")
        try:
            body = response.json()
            token, lifetime = str(body["access_token"]), float(body["expires_in"])
        except (ValueError, KeyError, TypeError):
            raise PeerUnavailable("gateway", "no service token: the answer is not a token") from None
        self.fetches += 1
        self._token, self._expires_at = token, time.monotonic() + lifetime
        return token
