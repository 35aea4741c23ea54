"""Published random-inspection results as the public sees them on the console (pure): a party's
name as credit's publication rule shows its kind (rules/party_names.yaml there: an organisation's
registered name in clear; a 个体工商户 known by its operator's own name masked to the surname — the
same `shared.identifiers.is_personal_name` credit uses), and the search by name or credit code, which
matches the shown name only, so a person's clear name finds nothing."""
from __future__ import annotations

import unicodedata
from typing import Any

from shared.identifiers import IdentifierError, is_personal_name, mask_name, parse_uscc, uscc_party_kind

#: inspection's result kinds, the page's labels (i18n ``inspection_result_<kind>``)
RESULTS = ("no_problem", "problems_found", "referred_to_case")


def shown_name(credit_code: str, name: str) -> str:
    kind = uscc_party_kind(credit_code or "")
    return mask_name(name) if is_personal_name(kind, name or "") else name


def credit_code_of(query: str) -> str | None:
    """The query as a unified social credit code, when it is one."""
    try:
        return parse_uscc(query)
    except (IdentifierError, ValueError, TypeError):
        return None


def public_result(r: dict[str, Any]) -> dict[str, Any]:
    """One published result with the fields the page shows (the findings are not: credit's disclosure
    of these results leaves them out, and they are free text that may name a person)."""
    return {"plan_id": r.get("plan_id"), "bureau": r.get("bureau"), "title": r.get("title"),
            "credit_code": r.get("credit_code"), "name": shown_name(r.get("credit_code") or "", r.get("name") or ""),
            "county": r.get("county"), "category": r.get("category"), "result": r.get("result"),
            "published_at": str(r.get("published_at") or "")[:16].replace("T", " ")}


def public_commitment(e: dict[str, Any]) -> dict[str, Any]:
    commitment = e.get("commitment") or {}
    return {"credit_code": e.get("credit_code"), "name": shown_name(e.get("credit_code") or "", e.get("name") or ""),
            "county": e.get("county"), "category": e.get("category"),
            "committed_on": commitment.get("committed_on"), "commitment": commitment.get("text"),
            "results": [{"result": x.get("result"), "plan_id": x.get("plan_id"),
                         "published_at": str(x.get("published_at") or "")[:10]} for x in e.get("results") or []]}


def _fold(text: Any) -> str:
    return unicodedata.normalize("NFKC", str(text or "")).casefold()


def matches(item: dict[str, Any], query: str) -> bool:
    """The shown (masked) name contains the words, or the credit code is the one asked."""
    q = _fold(query).strip()
    return not q or q == _fold(item.get("credit_code")) or q in _fold(item.get("name"))
