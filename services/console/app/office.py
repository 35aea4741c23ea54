"""The office's live overview, county map and assessment (考核), and its decisions on proposed
joint meetings (联席会议).

Everything comes from the services' APIs with the office person's key — routing's
``/v1/overview``, ``/v1/overview/assessment`` and ``/v1/joint-meetings``, credit's public
disclosure feed for the blacklistings — and from the dead-letter topics (offsets only). No schema
of theirs is read; routing decides every joint meeting (the office only, once per case)."""
from __future__ import annotations

import asyncio
import copy
import datetime as dt
import hashlib
import time
from typing import Any, Awaitable, Callable, Mapping

from services.console.adapters.alerts import SubstitutionAlerts
from services.console.adapters.credit import CreditClient
from services.console.adapters.dlq import DeadLetters
from services.console.adapters.routing import Answer, RoutingClient, ServiceDown
from services.console.domain import office as rules

#: the newest blacklistings listed on the overview
LISTINGS_SHOWN = 10


class _Recent:
    """Answers reused for `seconds` (per caller and question; monotonic time: infrastructure, not
    business time). Only successful answers are kept; at most `size`, oldest dropped first."""

    def __init__(self, seconds: float, size: int = 256) -> None:
        self.seconds = seconds
        self.size = size
        self._kept: dict[tuple[Any, ...], tuple[float, Answer]] = {}

    async def get(self, key: tuple[Any, ...], make: Callable[[], Awaitable[Answer]]) -> Answer:
        now = time.monotonic()
        hit = self._kept.get(key)
        if hit is not None and now - hit[0] < self.seconds:
            return copy.deepcopy(hit[1])
        answer = await make()
        if answer.ok and self.seconds > 0:
            if len(self._kept) >= self.size:
                self._kept.pop(next(iter(self._kept)))
            self._kept[key] = (now, copy.deepcopy(answer))
        return answer


class Office:
    def __init__(self, routing: RoutingClient, credit: CreditClient | None, dead_letters: DeadLetters,
                 county_names: Mapping[str, Mapping[str, str]], *, cache_seconds: float = 0.0,
                 alerts: SubstitutionAlerts | None = None) -> None:
        self.routing = routing
        self.alerts = alerts
        self.credit = credit
        self.dead_letters = dead_letters
        #: lang → code → name
        self.county_names = county_names
        #: the overview and each period's assessment are this many seconds old at most (their "as of" says)
        self._recent = _Recent(cache_seconds)

    def names(self, lang: str) -> Mapping[str, str]:
        return self.county_names.get(lang) or self.county_names.get("zh", {})

    async def overview(self, key: str) -> Answer:
        """Routing's overview with the blacklistings and the dead letters added (either may be None:
        that source did not answer, and the page says so)."""
        return await self._recent.get(("overview", _digest(key)), lambda: self._overview(key))

    async def _overview(self, key: str) -> Answer:
        routing, listings, letters = await asyncio.gather(self.routing.overview(key), self._listings(),
                                                          self._letters())
        if routing.ok:
            routing.body["listings"] = listings
            routing.body["dead_letters"] = letters
            routing.body["substitution_alerts"] = self.alerts.summary() if self.alerts is not None else None
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
        answer = await self._recent.get(("assessment", _digest(key), start, end),
                                        lambda: self.routing.assessment(key, start.isoformat(), end.isoformat()))
        if answer.ok:
            names = self.names(lang)
            answer.body["by_county"] = rules.assessed(answer.body["by_county"], names)
            answer.body["by_bureau"] = rules.assessed(answer.body["by_bureau"], {})
        return answer

    async def joint_meetings(self, key: str) -> Answer:
        """The proposals, undecided first (never cached: the office acts on this list)."""
        return await self.routing.joint_meetings(key)

    async def decide_joint_meeting(self, key: str, case_id: str, *, decision: str, reason: str | None,
                                   idempotency_key: str | None) -> Answer:
        return await self.routing.decide_joint_meeting(key, case_id, decision=decision, reason=reason,
                                                       idempotency_key=idempotency_key)

    def county_map(self, overview: Mapping[str, Any], figure: rules.Figure, lang: str,
                   scores: Mapping[str, float | None] | None = None) -> list[rules.Tile]:
        return rules.county_map(rules.county_figures(overview, figure, scores), self.names(lang))


def _digest(key: str) -> str:
    """A cache key for an API key (the key itself is not kept in memory twice)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
