"""One JSON HTTP API of a service, called with a person's principal's key (or none, for a public
feed): the answer's status and body, or `ServiceDown` when the service did not answer or answered 5xx.
Routing's, credit's and notify's clients are this with their own paths; every id they put into a path
goes through `path_part`, so an id typed into the console's address bar reaches the service as one
path segment — never as another path, a query or a fragment."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx


def path_part(value: str) -> str:
    """One path segment, percent-encoded whole (``/``, ``?``, ``#``, ``:``, ``%``, ``..`` and NUL included)."""
    part = quote(value, safe="")
    # "." and ".." are left alone by quote() but are path steps to any URL resolver: encode them too
    return part.replace(".", "%2E") if part in (".", "..") else part


class ServiceDown(Exception):
    """The service did not answer (or answered 5xx)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    #: the service replayed the answer it gave before to this Idempotency-Key (nothing was done again)
    replayed: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def refusal(self) -> str:
        """A problem document's reason, for people (with the fields it names, when it lists errors)."""
        if isinstance(self.body, dict):
            detail = str(self.body.get("detail") or self.body.get("title") or self.status)
            errors = self.body.get("errors")
            if isinstance(errors, list) and errors:
                named = "; ".join(f"{e.get('field') or ''}: {e.get('detail') or e.get('reason') or ''}"
                                  for e in errors[:5] if isinstance(e, dict))
                return f"{detail} ({named})" if named else detail
            return detail
        return str(self.status)


class ApiClient:
    #: the service's name, in a `ServiceDown`'s message
    name = "service"

    def __init__(self, base_url: str, *, timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, key: str | None, **kwargs: Any) -> Answer:
        headers = dict(kwargs.pop("headers", {}))
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        try:
            r = await self._http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceDown(f"{self.name}: {type(exc).__name__}") from None
        if r.status_code >= 500:
            raise ServiceDown(f"{self.name} answered {r.status_code}")
        try:
            body = r.json()
        except ValueError:
            body = None
        return Answer(r.status_code, body, r.headers.get("Idempotent-Replayed") == "true")

    async def _post(self, path: str, key: str, body: dict[str, Any], idempotency_key: str | None) -> Answer:
        return await self._call("POST", path, key, json=body,
                                headers={"Idempotency-Key": idempotency_key or str(uuid.uuid4())})
