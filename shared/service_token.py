"""A service's own identity towards its peers: an OAuth2 client-credentials token from the gateway.

Used as the `token_provider` of a `shared.peer.PeerClient`. The token is cached and renewed before it
expires, and concurrent callers share one fetch; if the gateway cannot issue one, the peer call fails
as `PeerUnavailable`, which the caller's fallback already handles.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from shared.peer import PeerUnavailable
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
    ):
        self.token_url = gateway_url.rstrip("/") + "/api/auth/v1/token"
        self.client_id = client_id
        self.client_secret = client_secret
        self.renew_before_s = renew_before_s
        self.timeout_s = timeout_s
        self.fetches = 0  # how many tokens were fetched: lets tests see the cache work
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def __call__(self) -> str:
        if self._token and time.monotonic() < self._expires_at - self.renew_before_s:
            return self._token
        async with self._lock:  # one fetch for all the requests that found the token stale
            if self._token and time.monotonic() < self._expires_at - self.renew_before_s:
                return self._token
            return await self._fetch()

    async def _fetch(self) -> str:
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
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
        body = response.json()
        self.fetches += 1
        self._token = body["access_token"]
        self._expires_at = time.monotonic() + float(body["expires_in"])
        return self._token
