"""The case page's forms for seized goods and appraisals, read into the bodies custody's and
appraisal's APIs take (pure). Only the shape is the console's: custody and appraisal check every
value (a quantity that is no number, a negative value, an unknown provider) and their refusal,
naming the field, is what the person sees."""
from __future__ import annotations

import re
from typing import Any

#: custody's hazard classes (its RegisterLot.hazard), the form's choices in this order
HAZARDS = ("ordinary", "perishable", "toxic_harmful")
#: custody's hand-over purposes (its HandOver.purpose)
PURPOSES = ("warehouse", "appraisal", "police", "return_to_bureau")
#: appraisal's kinds (its RequestAppraisal.kind)
APPRAISAL_KINDS = ("authenticity", "quality", "value")
#: item rows on the registration form (blank rows are left out; the first is required)
ITEM_ROWS = 3
LOT_ID = re.compile(r"lot_[0-9a-f]{20}")
ITEM_FIELDS = ("description", "quantity", "unit", "value")


def lot_shaped(value: str) -> bool:
    return LOT_ID.fullmatch(value) is not None


def _text(fields: dict[str, str], name: str, limit: int) -> str:
    return (fields.get(name) or "").strip()[:limit]


def register_body(case_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """``POST /v1/lots``'s body: the case, hazard, storage location and the filled item rows (an item's
    quantity and declared value as typed: custody reads them as decimals and refuses what is not)."""
    items = []
    for n in range(ITEM_ROWS):
        row = {f: _text(fields, f"item{n}_{f}", 200) for f in ITEM_FIELDS}
        if not any(row.values()):
            continue
        items.append({"description": row["description"], "quantity": row["quantity"], "unit": row["unit"][:16],
                      "declared_value": row["value"] or "0"})
    return {"case_id": case_id, "hazard": _text(fields, "hazard", 32), "location": _text(fields, "location", 200),
            "items": items}


def handover_body(fields: dict[str, str]) -> dict[str, str]:
    return {"to": _text(fields, "to", 100), "purpose": _text(fields, "purpose", 32)}


def appraisal_body(case_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """``POST /v1/appraisals``'s body; the lot and the date wanted are optional."""
    body: dict[str, Any] = {"case_id": case_id, "kind": _text(fields, "kind", 32),
                            "provider": _text(fields, "provider", 100), "subject": _text(fields, "subject", 500)}
    lot_id = _text(fields, "lot_id", 24)
    if lot_id:
        body["lot_id"] = lot_id
    wanted = _text(fields, "wanted_by", 10)
    if wanted:
        body["wanted_by"] = wanted
    return body


def lot_actions(lot: dict[str, Any], party: str | None) -> dict[str, bool]:
    """Which of custody's commands the page offers `party` on `lot`: hand over when it holds the lot
    and nothing is in transit; receive when the last hand-over is to it and not yet received. Custody
    decides in the end (a stale page's command is refused with its reason)."""
    chain = lot.get("chain") or []
    pending = chain[-1] if chain and not chain[-1].get("received_at") else None
    open_lot = lot.get("disposed") is None
    return {"hand_over": open_lot and party is not None and lot.get("holder") == party and pending is None,
            "receive": open_lot and party is not None and pending is not None and pending.get("to") == party}
