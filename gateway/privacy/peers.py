"""The gateway asking each service what it holds about a resident, and asking one to erase a record, through the
services' service-to-service routes (shared/subject_data.py), with an assertion the gateway mints for itself."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from gateway.privacy.schemas import ServiceHeld
from shared.errors import Conflict, ServiceUnavailable
from shared.identity import Principal, mint_assertion
from shared.request_id import current_request_id
from shared.subject_data import SubjectDataOut

PRIVACY_PRINCIPAL = "service:gateway-privacy"


class Unanswered(Exception):
    """The service did not give a usable answer (down, slow, or an answer that is not its contract)."""


class SubjectDataPeers:
    def __init__(self, gateway: Any, *, services: list[str], timeout_s: float):
        self.gateway, self.services, self.timeout_s = gateway, services, timeout_s

    async def _post(self, service: str, route: str, action: str, body: dict) -> tuple[int, dict]:
        upstream = self.gateway.upstreams.get(service)
        if upstream is None or service not in self.services:
            raise Unanswered(f"{service} holds no personal data by account")
        principal = Principal(
            subject=PRIVACY_PRINCIPAL, kind="service", scopes=frozenset({f"{service}.subject_data:{action}"})
        )
        assertion = mint_assertion(
            principal, audience=service, secret=self.gateway.settings.identity_secret, request_id=current_request_id()
        )
        # The upstream sessions send no Content-Type of their own (they pass callers' bodies through): say it here.
        headers = {"x-identity-assertion": assertion, "accept": "application/json", "content-type": "application/json"}
        if current_request_id():
            headers["x-request-id"] = current_request_id()
        try:
            async with upstream.session.post(
                f"{upstream.base_url}/api/{service}/v1/{route}",
                json=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            ) as response:
                answer = await response.json(content_type=None)
                return response.status, answer if isinstance(answer, dict) else {}
        except TimeoutError:
            raise Unanswered(f"{service} did not answer within {self.timeout_s:g} s") from None
        except (aiohttp.ClientError, ValueError):
            raise Unanswered(f"{service} could not be reached") from None

    async def search(self, service: str, subject: str) -> SubjectDataOut:
        status, answer = await self._post(service, "subject-data-searches", "read", {"subject": subject})
        if status != 200:
            raise Unanswered(f"{service} answered {status}")
        try:
            return SubjectDataOut.model_validate(answer)
        except ValueError:
            raise Unanswered(f"{service} answered outside its contract") from None

    async def search_all(self, subject: str) -> list[ServiceHeld]:
        """Every service at once; one that does not answer costs its own part only."""
        answers = await asyncio.gather(*(self.search(s, subject) for s in self.services), return_exceptions=True)
        held = []
        for service, answer in zip(self.services, answers, strict=True):
            if isinstance(answer, SubjectDataOut):
                held.append(ServiceHeld(service=service, available=True, categories=answer.categories))
            elif isinstance(answer, Unanswered):
                held.append(ServiceHeld(service=service, available=False, message=str(answer)))
            else:
                raise answer
        return held

    async def erase(self, service: str, subject: str, category: str, record_id: str) -> bool:
        """Erase the record; False when the service no longer has it (erased by an earlier try of this answer)."""
        body = {"subject": subject, "category": category, "record_id": record_id}
        try:
            status, answer = await self._post(service, "subject-data-erasures", "erase", body)
        except Unanswered as error:
            raise ServiceUnavailable("{error}: nothing was erased; answer again later", error=error) from None
        if status == 200:
            return True
        if status == 404:
            return False
        if status == 409:
            raise Conflict(
                "{service} keeps the record: {reason}",
                resource=f"{category}/{record_id}",
                service=service,
                reason=answer.get("detail", ""),
            )
        raise ServiceUnavailable(
            "{service} answered {status}: nothing was erased; answer again later", service=service, status=status
        )
