"""The public search of published random-inspection results (一公开) and of a bureau's quality
commitments, from inspection's public part. A credit code is asked of inspection directly
(its ``credit_code`` filter); a name is matched in the newest results, read page by page — at most
`SCAN_PAGES` × `PAGE`, reused for `REUSE_SECONDS` per bureau — since inspection's feed has no name
search (the page says when the feed was longer than what was read)."""
from __future__ import annotations

import time
from typing import Any

from services.console.adapters.api import ServiceDown
from services.console.adapters.inspection import InspectionClient
from services.console.domain import inspections as rules

PAGE = 200
SCAN_PAGES = 10
REUSE_SECONDS = 30.0
SHOWN = 50


class PublicInspections:
    def __init__(self, inspection: InspectionClient) -> None:
        self.inspection = inspection
        self._feeds: dict[str, tuple[float, list[dict[str, Any]], bool]] = {}

    async def _newest(self, key: str | None, bureau: str | None, address: str | None) -> tuple[list[dict[str, Any]], bool]:
        now = time.monotonic()
        kept = self._feeds.get(bureau or "")
        if kept is not None and now - kept[0] < REUSE_SECONDS:
            return kept[1], kept[2]
        items: list[dict[str, Any]] = []
        more = False
        for page in range(SCAN_PAGES):
            answer = await self.inspection.results(key, bureau=bureau, limit=PAGE, offset=page * PAGE,
                                                   client_address=address)
            if answer.status == 429:
                raise ServiceDown("inspection's public part is rate-limited")
            if not answer.ok or not isinstance(answer.body, dict):
                break
            got = [rules.public_result(r) for r in answer.body.get("results") or []]
            items.extend(got)
            more = len(got) == PAGE
            if not more:
                break
        self._feeds[bureau or ""] = (now, items, more)
        if len(self._feeds) > 200:  # bounded: the oldest reuse goes first
            self._feeds.pop(next(iter(self._feeds)))
        return items, more

    async def search(self, key: str | None, query: str, bureau: str | None, address: str | None) -> dict[str, Any]:
        """The matching results (newest first, at most SHOWN), their count, whether the feed was longer
        than what was read, and a bad bureau's refusal (``bad_bureau``)."""
        code = rules.credit_code_of(query) if query else None
        if code is not None:
            answer = await self.inspection.results(key, bureau=bureau, credit_code=code, limit=SHOWN,
                                                   client_address=address)
            if answer.status == 429:
                raise ServiceDown("inspection's public part is rate-limited")
            if answer.status == 422:
                return {"items": [], "total": 0, "truncated": False, "refusal": "bad_bureau"}
            if not answer.ok or not isinstance(answer.body, dict):
                raise ServiceDown(f"inspection answered {answer.status}")
            items = [rules.public_result(r) for r in answer.body.get("results") or []]
            return {"items": items, "total": len(items), "truncated": False, "refusal": None}
        items, more = await self._newest(key, bureau, address)
        found = [i for i in items if rules.matches(i, query)]
        return {"items": found[:SHOWN], "total": len(found), "truncated": more, "refusal": None}

    async def commitments(self, key: str | None, bureau: str, address: str | None) -> list[dict[str, Any]] | None:
        """The bureau's enterprises with a quality commitment and their published results; None for a
        bureau id inspection refuses."""
        answer = await self.inspection.commitments(key, bureau, address)
        if answer.status == 429:
            raise ServiceDown("inspection's public part is rate-limited")
        if answer.status == 422:
            return None
        if not answer.ok or not isinstance(answer.body, dict):
            raise ServiceDown(f"inspection answered {answer.status}")
        return [rules.public_commitment(e) for e in answer.body.get("enterprises") or []]
