"""What the console computes over the services' read-outs: the next legal deadline of a case, its
urgency, the worklist's order, the shape of a tracking number and of its second factor, and a
case's timeline. Pure. (Whether a second factor matches is routing's check: POST /v1/status.)"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Literal, Mapping

Urgency = Literal["breached", "due_soon", "ok", "none"]
#: a deadline due within this is "due soon"
DUE_SOON = timedelta(hours=24)
_TRACKING = re.compile(r"^SD\d{6}-[0-9A-HJKMNP-TV-Z]{8}$")
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


def valid_last4(text: str) -> bool:
    return bool(_LAST4.match(text))


def timeline(case: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A case's steps in time order from routing's read-out: opened (intake), assigned, answered,
    each deadline at its due time with its state and legal basis, the referral's steps, closed.
    Each entry: ``at`` (datetime), ``what`` (a text key), ``detail``, ``citation``."""
    out: list[dict[str, Any]] = []

    def add(at: Any, what: str, detail: str = "", citation: str | None = None) -> None:
        when = as_datetime(at)
        if when is not None:
            out.append({"at": when, "what": what, "detail": detail, "citation": citation})

    add(case.get("opened_at"), "ev_opened", f"{case.get('origin', '')} · {case.get('channel', '')}".strip(" ·"))
    reasons = ", ".join(case.get("reasons") or [])
    add(case.get("assigned_at"), "ev_assigned", f"{case.get('bureau', '')} ({case.get('level', '')}"
        + (f"; {reasons}" if reasons else "") + ")" + (f" · transfers: {case['transfers']}" if case.get("transfers") else ""))
    add(case.get("acknowledged_at"), "ev_refused" if case.get("state") == "not_accepted" else "ev_accepted",
        case.get("bureau", ""))
    for d in case.get("deadlines") or []:
        add(d.get("due_at"), f"ev_deadline_{d.get('state', 'open')}", f"{d.get('kind', '')} · {d.get('bureau', '')}",
            " ".join(x for x in (d.get("citation") or "", f"{d.get('rule_id', '')} v{d.get('rule_version', '')}") if x))
    ref = case.get("referral")
    if ref:
        add(ref.get("created_at"), "ev_referral_proposed", f"{ref.get('agency', '')} → {ref.get('police', '')}")
        if ref.get("updated_at") != ref.get("created_at") or ref.get("state") != "proposed":
            add(ref.get("updated_at"), "ev_referral_state", str(ref.get("state", "")))
    add(case.get("closed_at"), "ev_closed", str(case.get("outcome") or ""))
    order = {"ev_opened": 0, "ev_assigned": 1}
    return sorted(out, key=lambda e: (e["at"], order.get(e["what"], 2)))


#: an unmasking's stated reason: at least this many characters (after trimming)
UNMASK_REASON_MIN = 4
UNMASK_REASON_MAX = 500


def unmask_reason(text: str | None) -> str | None:
    """The stated reason for unmasking a complainant's personal data, or None when it is not one."""
    reason = " ".join((text or "").split())
    return reason if UNMASK_REASON_MIN <= len(reason) <= UNMASK_REASON_MAX else None
