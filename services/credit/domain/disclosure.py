"""The public disclosure feed: rows with the published fields only, persons masked.

Masking happens once, when a record is created (`public_party`): the feed and
the export read the stored public form and never see a clear identity number.
"""
from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from shared.identifiers import IdentifierError, mask_name, mask_resident_id, normalise_text

from services.credit.rules import PublishedField


#: how a 个体工商户's name with a 字号 ends (行业 or 组织形式): such a name is the shop's, not a person's
SHOP_NAME_ENDINGS = ("店", "部", "行", "厂", "馆", "坊", "社", "铺", "场", "站", "室", "所", "园", "庄", "院", "吧",
                     "屋", "阁", "居", "堂", "城", "中心", "门市", "摊", "号", "超市", "商贸", "经营", "工作室")
_CJK = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff·]+$")


def is_personal_name(kind: str, name: str) -> bool:
    """Whether a party's name is a natural person's own name, which the public may see only masked:
    always for a natural person; for a 个体工商户 (individual trader) registered without a 字号 — a
    trader may use no name of its own (《个体工商户条例》), and then it is known by its operator's
    name — i.e. a name of 2–4 Chinese characters (or a minority name with '·') not ending like a shop's."""
    if kind == "natural_person":
        return True
    if kind != "individual_trader":
        return False
    text = normalise_text(name)
    if not _CJK.match(text) or text.endswith(SHOP_NAME_ENDINGS):
        return False
    return 2 <= len(text) <= 4 or ("·" in text and len(text) <= 16)


def public_party(*, kind: str, credit_code: str | None, name: str, legal_representative: str | None,
                 resident_id: str | None) -> dict[str, Any]:
    """The party as the rules let it be published: a person's own name (a natural person's, or an
    individual trader's known by its operator's name) and ID number masked, the representative masked."""
    masked_id = None
    if resident_id:
        try:
            masked_id = mask_resident_id(resident_id)
        except IdentifierError:
            masked_id = "*" * 18
    return {
        "kind": kind,
        "credit_code": credit_code,
        "name": mask_name(name) if is_personal_name(kind, name) else name,
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
