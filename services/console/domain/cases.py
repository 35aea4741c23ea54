"""What the console computes over the services' read-outs: the next legal deadline of a case, its
urgency, the worklist's order, and whether a public lookup's second factor matches. Pure."""
from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Literal, Mapping

Urgency = Literal["breached", "due_soon", "ok", "none"]
#: a deadline due within this is "due soon"
DUE_SOON = timedelta(hours=24)
_TRACKING = re.compile(r"^SD(\d{2})(\d{2})(\d{2})-[0-9A-HJKMNP-TV-Z]{8}$")
_LAST4 = re.compile(r"^\d{4}$")


@dataclass(frozen=True)
class NextDeadline:
    kind: str
    due_at: datetime
    citation: str | None
    rule_id: str | None


def as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def next_deadline(deadlines: Iterable[Mapping[str, Any]]) -> NextDeadline | None:
    """The earliest open deadline of a case (routing's case read-out), or None."""
    open_ = [d for d in deadlines if d.get("state") == "open" and d.get("due_at")]
    if not open_:
        return None
    d = min(open_, key=lambda d: as_datetime(d["due_at"]))  # type: ignore[arg-type, return-value]
    return NextDeadline(str(d.get("kind", "")), as_datetime(d["due_at"]), d.get("citation"), d.get("rule_id"))  # type: ignore[arg-type]


def urgency(due_at: datetime | None, now: datetime) -> Urgency:
    if due_at is None:
        return "none"
    if due_at <= now:
        return "breached"
    return "due_soon" if due_at - now <= DUE_SOON else "ok"


def worklist_order(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cases by their next legal deadline, earliest first; cases without one last (newest first)."""
    with_due = sorted((i for i in items if i.get("next_due_at")), key=lambda i: (i["next_due_at"], i["case_id"]))
    without = [i for i in items if not i.get("next_due_at")]
    return with_due + without


def canonical_tracking_no(text: str) -> str | None:
    """A tracking number as intake issues it (``SD250601-7KQ3M9XW``), upper-cased and trimmed, or None."""
    compact = "".join(text.split()).upper()
    return compact if len(compact) <= 32 and _TRACKING.match(compact) else None


def tracking_date(tracking_no: str) -> date | None:
    """The Shanghai date a tracking number was issued on (encoded in it)."""
    m = _TRACKING.match(tracking_no)
    if not m:
        return None
    try:
        return date(2000 + int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def second_factor_matches(phone_masked: str | None, last4: str) -> bool:
    """Whether the last 4 digits typed match the complaint's phone (routing keeps only its masked form,
    whose last 4 digits are in clear). No phone on record → never."""
    if not phone_masked or not _LAST4.match(last4):
        return False
    return hmac.compare_digest(phone_masked[-4:], last4)


def valid_last4(text: str) -> bool:
    return bool(_LAST4.match(text))
