"""The public disclosure feed: rows with the published fields only, persons masked.

Which fields of a party are shown, and how, is versioned data (rules/party_names.yaml, a
`PartyNameVersion`). Masking happens when a record is created (`public_party`): the feed and
the export read the stored public form and never see a clear identity number; when they read it,
the version in force then applies again (`published_party`), so a stricter later version
withholds what an older one let through.
"""
from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

# is_personal_name and SHOP_NAME_ENDINGS live in shared.identifiers (the console masks inspection results by them too)
from shared.identifiers import SHOP_NAME_ENDINGS, IdentifierError, is_personal_name, mask_name, mask_resident_id  # noqa: F401

from services.credit.rules import PartyNameVersion, PublishedField


def _shown_name(form: str, kind: str, name: str) -> str:
    if form == "surname" or (form == "surname_if_own_name" and is_personal_name(kind, name)):
        return mask_name(name)
    return name


def _shown_representative(form: str, name: str | None) -> str | None:
    if not name or form == "withheld":
        return None
    return mask_name(name) if form == "surname" else name


def public_party(*, kind: str, credit_code: str | None, name: str, legal_representative: str | None,
                 resident_id: str | None, rule: PartyNameVersion) -> dict[str, Any]:
    """The party as the publication rule in force (`rule`, rules/party_names.yaml) lets it be shown,
    made once when a record is created: a person's own name by its surname, the representative as the
    rule says, the ID number withheld (or its last 4 characters, if a version allowed that)."""
    form = rule.of(kind)
    masked_id = None
    if resident_id and form.resident_id == "last4":
        try:
            masked_id = mask_resident_id(resident_id)
        except IdentifierError:
            masked_id = "*" * 18
    return {
        "kind": kind,
        "credit_code": credit_code,
        "name": _shown_name(form.name, kind, name),
        "legal_representative": _shown_representative(form.legal_representative, legal_representative),
        "resident_id_masked": masked_id,
    }


def published_party(party: Mapping[str, Any], rule: PartyNameVersion) -> dict[str, Any]:
    """A stored public party (`public_party` of an earlier day) as the rule in force now shows it: a
    field the rule withholds is dropped, a name it masks is masked (masking is idempotent: 张** stays
    张**). What was stored masked is never unmasked by a later, looser version."""
    kind = str(party.get("kind") or "organisation")
    form = rule.of(kind) if kind in ("organisation", "individual_trader", "natural_person") else rule.of("natural_person")
    name = party.get("name")
    return {
        **party,
        "name": _shown_name(form.name, kind, name) if name else name,
        "legal_representative": _shown_representative(form.legal_representative, party.get("legal_representative")),
        "resident_id_masked": party.get("resident_id_masked") if form.resident_id == "last4" else None,
    }


def published_name(kind: str, name: str, rule: PartyNameVersion) -> str:
    """An entity's name as the rule in force shows it (a department's view of the registry)."""
    form = rule.of(kind) if kind in ("organisation", "individual_trader", "natural_person") else rule.of("natural_person")
    return _shown_name(form.name, kind, name)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (list, tuple)):
        return ";".join(_text(v) for v in value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def project(row: Mapping[str, Any], fields: Sequence[PublishedField]) -> dict[str, Any]:
    """Only the published fields of a row, in the rules' order."""
    return {f.key: row.get(f.key) for f in fields}


def to_csv(rows: Iterable[Mapping[str, Any]], fields: Sequence[PublishedField], *, labels: bool = False) -> str:
    """CSV (RFC 4180, UTF-8): a header of keys (or the Chinese labels), lists joined by ';'."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([f.label_zh if labels else f.key for f in fields])
    for row in rows:
        writer.writerow([_text(row.get(f.key)) for f in fields])
    return out.getvalue()
