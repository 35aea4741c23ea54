"""The public disclosure feed: rows with the published fields only, persons masked.

Masking happens once, when a record is created (`public_party`): the feed and
the export read the stored public form and never see a clear identity number.
"""
from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from shared.identifiers import IdentifierError, mask_name, mask_resident_id

from services.credit.rules import PublishedField


def public_party(*, kind: str, credit_code: str | None, name: str, legal_representative: str | None,
                 resident_id: str | None) -> dict[str, Any]:
    """The party as the rules let it be published: a person's own name and ID number masked."""
    masked_id = None
    if resident_id:
        try:
            masked_id = mask_resident_id(resident_id)
        except IdentifierError:
            masked_id = "*" * 18
    return {
        "kind": kind,
        "credit_code": credit_code,
        "name": mask_name(name) if kind == "natural_person" else name,
        "legal_representative": mask_name(legal_representative) if legal_representative else None,
        "resident_id_masked": masked_id,
    }


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
