"""What the console computes over the services' read-outs: the next legal deadline of a case, its
urgency, the worklist's order, the shape of a tracking number and of its second factor, and a
case's timeline. Pure. (Whether a second factor matches is routing's check: POST /v1/status.)"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Literal, Mapping, get_args

from shared import identifiers
from shared.contracts.bureau_actions import RecordOutcome

Urgency = Literal["breached", "due_soon", "ok", "none"]
#: a deadline due within this is "due soon"
DUE_SOON = timedelta(hours=24)
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
    """A tracking number as intake issues it (``SD250601-7KQ3M9XW``) read from what a citizen typed, or
    None (the one reader: shared.identifiers)."""
    return identifiers.canonical_tracking_no(text)


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


# -- the workbench's forms, as the bodies routing's and credit's APIs take (they validate them) --

#: what a bureau may record as a case's outcome: the values routing's RecordOutcome accepts, read
#: from the contract so the form offers no value routing would refuse and misses none it takes
OUTCOMES: tuple[str, ...] = get_args(RecordOutcome.model_fields["outcome"].annotation)
#: the penalty types the form offers (shared.contracts.penalty.PenaltyType; the commonest ones)
PENALTY_TYPES = ("warning", "fine", "confiscation_of_gains", "confiscation_of_property")


def _doc(value: str | None) -> dict[str, str] | None:
    value = (value or "").strip()[:100]
    return {"doc_no": value} if value else None


def transfer_package(fields: Mapping[str, str]) -> dict[str, Any]:
    """The transfer package (Order 310 art. 6) from the form: each document by its number; the test
    or appraisal reports one per line (or comma-separated). A missing document is left out, and
    routing refuses an incomplete package with its reason."""
    package: dict[str, Any] = {}
    for name in ("transfer_letter", "investigation_report", "seized_goods_list"):
        doc = _doc(fields.get(name))
        if doc is not None:
            package[name] = doc
    reports = [r.strip()[:100] for r in (fields.get("test_reports") or "").replace(",", "\n").splitlines() if r.strip()]
    if reports:
        package["test_reports"] = [{"doc_no": r} for r in reports[:50]]
    return package


def outcome_body(fields: Mapping[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {"outcome": fields.get("outcome") or ""}
    if (fields.get("decision_no") or "").strip():
        body["decision_no"] = fields["decision_no"].strip()[:100]
    if (fields.get("penalty_amount") or "").strip():
        body["penalty_amount"] = fields["penalty_amount"].strip()[:20]
    if (fields.get("detail") or "").strip():
        body["detail"] = fields["detail"].strip()[:4000]
    return body


def penalty_decision(fields: Mapping[str, str], case: Mapping[str, Any]) -> dict[str, Any]:
    """A penalty decision (shared.contracts.penalty.PenaltyDecided) from the form and its case: the
    case's category and figures go with it, so credit can check them against the criminal thresholds."""
    code = (fields.get("credit_code") or "").strip()[:40]
    resident_id = (fields.get("resident_id") or "").strip()[:18]  # a natural person has no credit code, only this
    body: dict[str, Any] = {
        "decision_no": (fields.get("decision_no") or "").strip()[:100],
        "party": {"kind": fields.get("party_kind") or "organisation", "name": (fields.get("party_name") or "").strip()[:200],
                  **({"credit_code": code} if code else {}), **({"resident_id": resident_id} if resident_id else {})},
        "category": case.get("category") or "",
        "violation": (fields.get("violation") or "").strip()[:4000],
        "legal_basis": [b.strip()[:500] for b in (fields.get("legal_basis") or "").splitlines() if b.strip()][:20],
        "penalty_types": [t for t in PENALTY_TYPES if fields.get(f"pt_{t}")],
        "content": (fields.get("content") or "").strip()[:4000],
        "decided_on": (fields.get("decided_on") or "").strip()[:10],
        "case_id": case.get("case_id"),
        "figures": dict(case.get("figures") or {}),
    }
    if (fields.get("fine_amount") or "").strip():
        body["fine_amount"] = fields["fine_amount"].strip()[:20]
    return body
