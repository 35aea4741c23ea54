"""Intake's HTTP API: the complainant's satisfaction survey (``POST /v1/complaints/{tracking_no}/survey``),
sent with the console's own survey principal (``console.survey``: ``complaints:write`` to record an
answer, ``clients:relay`` so intake limits the failed second-factor checks per citizen's address,
named in X-Client-Address, not per the console's). The tracking number is one quoted path segment."""
from __future__ import annotations

from typing import Any

from shared.ratelimit import CLIENT_ADDRESS_HEADER

from services.console.adapters.api import Answer, ApiClient, path_part


class IntakeClient(ApiClient):
    name = "intake"

    async def answer_survey(self, key: str, tracking_no: str, answer: dict[str, Any],
                            client_address: str | None = None) -> Answer:
        """The second factor (``last4``) travels in the body, never in the URL."""
        headers = {CLIENT_ADDRESS_HEADER: client_address} if client_address else {}
        return await self._call("POST", f"/v1/complaints/{path_part(tracking_no)}/survey", key, json=answer,
                                headers=headers)
