"""Early warnings for the leading-group office (topic `alert.hotspot`, key: the
watched key, e.g. ``610402|trademarks`` or ``suspect|<key>``), emitted by
routing's early-warning worker.

A hotspot is a surge of new cases in a hopping window: per (county, category)
or per suspect. One alert per key and window start; a re-sent alert keeps its
id (it is derived from the key and the window).
"""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.contracts import EventModel, contract
from shared.topics import ALERT


@contract(topic=ALERT.name, key="county|category, or suspect|<suspect key>")
class HotspotDetected(EventModel):
    """Cases surged for one (county, category) or one suspect within a window."""

    EVENT_TYPE: ClassVar[str] = "shuangda.alert.hotspot-detected.v1"
    alert_id: str
    kind: Literal["county_category", "suspect"]
    key: str
    county: str | None = None
    category: str | None = None
    suspect_key: str | None = None
    count: int = Field(description="cases in the window when the threshold was reached")
    threshold: int
    window_seconds: float
    window_start: datetime
    window_end: datetime
    case_ids: list[str] = Field(default_factory=list, description="the most recent cases in the window (up to 20)")
    office: str
    detected_at: datetime
