"""The public search of credit's published penalties and blacklist, by name or credit code.

Credit's public feed (``GET /v1/disclosures``, masked as its publication rules say) has no search
parameter, so the console reads it page by page — at most `SCAN_PAGES` × `PAGE` items, oldest first,
reused for `REUSE_SECONDS` — and keeps the items whose name contains the words, or whose credit code
is the one asked (case and width folded). The page says when the feed was longer than what was read.
A ``q`` filter on credit's feed would answer this without the scan (docs/console.md, gaps)."""
from __future__ import annotations

import time
import unicodedata
from typing import Any

from services.console.adapters.credit import CreditClient

PAGE = 1000
SCAN_PAGES = 10
REUSE_SECONDS = 30.0
SHOWN = 50


def _fold(text: Any) -> str:
    return unicodedata.normalize("NFKC", str(text or "")).casefold()


def matches(item: dict[str, Any], query: str) -> bool:
    """The item names the party (a part of its name) or has exactly this credit code."""
    q = _fold(query).strip()
    if not q:
        return True
    return q == _fold(item.get("credit_code")) or q in _fold(item.get("party_name"))


class Disclosures:
    def __init__(self, credit: CreditClient) -> None:
        self.credit = credit
        self._feeds: dict[str, tuple[float, list[dict[str, Any]], list[dict[str, Any]], bool]] = {}

    async def _feed(self, kind: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
        now = time.monotonic()
        kept = self._feeds.get(kind)
        if kept is not None and now - kept[0] < REUSE_SECONDS:
            return kept[1], kept[2], kept[3]
        items: list[dict[str, Any]] = []
        fields: list[dict[str, Any]] = []
        after: str | None = None
        more = False
        for _ in range(SCAN_PAGES):
            answer = await self.credit.disclosures(kind, after=after, limit=PAGE)
            if not answer.ok or not isinstance(answer.body, dict):
                break
            fields = answer.body.get("fields") or fields
            items.extend(answer.body.get("items") or [])
            after = answer.body.get("next")
            more = bool(after)
            if not after:
                break
        self._feeds[kind] = (now, items, fields, more)
        return items, fields, more

    async def search(self, kind: str, query: str) -> dict[str, Any]:
        """The newest matching items first (at most SHOWN), the feed's fields (key, Chinese label), and
        whether the feed was longer than what was read."""
        items, fields, more = await self._feed(kind)
        found = [i for i in reversed(items) if matches(i, query)]
        return {"items": found[:SHOWN], "total": len(found), "fields": fields, "truncated": more}
