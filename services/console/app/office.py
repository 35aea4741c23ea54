"""The office's live overview, county map and assessment (考核).

Everything comes from the services' APIs with the office person's key — routing's
``/v1/overview`` and ``/v1/overview/assessment``, credit's public disclosure feed for the
blacklistings — and from the dead-letter topics (offsets only). No schema of theirs is read."""
from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, Mapping

from services.console.adapters.credit import CreditClient
from services.console.adapters.dlq import DeadLetters
from services.console.adapters.routing import Answer, RoutingClient, ServiceDown
from services.console.domain import office as rules

#: the newest blacklistings listed on the overview
LISTINGS_SHOWN = 10


class Office:
    def __init__(self, routing: RoutingClient, credit: CreditClient | None, dead_letters: DeadLetters,
                 county_names: Mapping[str, Mapping[str, str]]) -> None:
        self.routing = routing
        self.credit = credit
        self.dead_letters = dead_letters
        #: lang → code → name
        self.county_names = county_names

    def names(self, lang: str) -> Mapping[str, str]:
        return self.county_names.get(lang) or self.county_names.get("zh", {})

    async def overview(self, key: str) -> Answer:
        """Routing's overview with the blacklistings and the dead letters added (either may be None:
        that source did not answer, and the page says so)."""
        routing, listings, letters = await asyncio.gather(self.routing.overview(key), self._listings(),
                                                          self._letters())
        if routing.ok:
            routing.body["listings"] = listings
            routing.body["dead_letters"] = letters
        return routing

    async def _listings(self) -> dict[str, Any] | None:
        if self.credit is None:
            return None
        try:
            answer = await self.credit.listings()
        except ServiceDown:
            return None
        if not answer.ok or not isinstance(answer.body, dict):
            return None
        items = answer.body.get("items") or []
        newest = [" · ".join(str(v) for v in list(i.values())[:4] if v not in (None, "")) for i in items[-LISTINGS_SHOWN:]]
        return {"count": len(items), "more": bool(answer.body.get("next")), "newest": newest[::-1]}

    async def _letters(self) -> dict[str, int] | None:
        try:
            return await self.dead_letters.counts()
        except Exception:  # noqa: BLE001 - the broker is down: the overview says "unknown", it does not fail
            return None

    async def assessment(self, key: str, start: dt.date, end: dt.date, lang: str) -> Answer:
        answer = await self.routing.assessment(key, start.isoformat(), end.isoformat())
        if answer.ok:
            names = self.names(lang)
            answer.body["by_county"] = rules.assessed(answer.body["by_county"], names)
            answer.body["by_bureau"] = rules.assessed(answer.body["by_bureau"], {})
        return answer

    def county_map(self, overview: Mapping[str, Any], figure: rules.Figure, lang: str,
                   scores: Mapping[str, float | None] | None = None) -> list[rules.Tile]:
        return rules.county_map(rules.county_figures(overview, figure, scores), self.names(lang))
