"""A complainant's correction request (个人信息保护法 第四十六条: a person may ask for their inaccurate
or incomplete personal information to be corrected): the corrected value of one field, checked as a
complaint's field is checked, and the masked forms that change with it. Pure: ``shuangda pii
correct`` seals the value under the person's own data key and records the correction."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from services.intake.domain.errors import FieldError
from services.intake.domain.text import clean
from shared.identifiers import IdentifierError, mask_name, mask_phone, parse_phone, parse_resident_id

Field = Literal["name", "phone", "id_number"]
FIELDS: tuple[Field, ...] = ("name", "phone", "id_number")


@dataclass(frozen=True)
class Correction:
    field: Field
    #: the corrected value in clear (only in memory: sealed before it is stored)
    value: str
    #: the complainant's masked forms that follow the value (name_masked, phone_masked)
    masked: dict[str, str]

    def __repr__(self) -> str:  # never show the value
        return f"Correction(field={self.field!r}, masked={self.masked!r})"


def correction(field: str, raw: str, *, today: dt.date) -> Correction | FieldError:
    """The corrected `field`, or the refusal naming the field and the reason (never the value)."""
    where = f"complainant.{field}"
    if field == "name":
        errors: list[FieldError] = []
        name = clean(raw, where, errors, max_len=64, required=True)
        if name is None:
            return errors[0] if errors else FieldError(where, "empty", "a name is required")
        return Correction("name", name, {"name_masked": mask_name(name)})
    try:
        if field == "phone":
            phone = parse_phone(raw)
            return Correction("phone", phone, {"phone_masked": mask_phone(phone)})
        if field == "id_number":
            return Correction("id_number", parse_resident_id(raw, today=today), {})
    except IdentifierError as exc:
        return FieldError(where, exc.reason, exc.message.replace(f"{exc.field}: ", "", 1))
    return FieldError("field", "unknown_field", f"one of {', '.join(FIELDS)}")
