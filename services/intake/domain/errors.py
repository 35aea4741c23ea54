"""Validation errors that name each bad field and why."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from pydantic import ValidationError


@dataclass(frozen=True)
class FieldError:
    """One rejected field: dotted path (``suspect.credit_code``), a bounded reason code, and a message.

    The message never repeats personal data that was submitted."""

    field: str
    reason: str
    detail: str

    def prefixed(self, prefix: str) -> "FieldError":
        return FieldError(f"{prefix}.{self.field}" if prefix else self.field, self.reason, self.detail)

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason, "detail": self.detail}


class IntakeValidationError(ValueError):
    """A complaint or lead that cannot be accepted; `errors` lists every bad field."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        if not self.errors:
            raise ValueError("an IntakeValidationError needs at least one FieldError")
        super().__init__("; ".join(f"{e.field}: {e.detail}" for e in self.errors))

    @property
    def first_field(self) -> str:
        return self.errors[0].field


def from_pydantic(exc: ValidationError, prefix: str = "") -> IntakeValidationError:
    """The pydantic errors as field errors (the submitted values are left out)."""
    errors = []
    for err in exc.errors(include_input=False, include_url=False):
        path = ".".join(str(p) for p in err.get("loc", ()))
        field = ".".join(p for p in (prefix, path) if p) or "body"
        errors.append(FieldError(field, err.get("type", "invalid"), err.get("msg", "invalid")))
    return IntakeValidationError(errors or [FieldError(prefix or "body", "invalid", "invalid")])


def metric_field(error: FieldError) -> str:
    """A bounded label for the field: list indexes folded, caller-chosen unknown keys hidden."""
    parts = error.field.split(".")
    if error.reason == "extra_forbidden" and parts:
        parts[-1] = "*"
    return ".".join("[]" if p.isdigit() else p for p in parts)[:80] or "body"
