"""The errors credit's use cases raise for a request that cannot be taken. They say what is
wrong (`reason`, `detail`); the HTTP adapter maps each kind to a status and a problem document."""
from __future__ import annotations


class CreditError(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class NotFound(CreditError):
    """No such record, listing or application."""


class NotAllowed(CreditError):
    """The caller may not do this to this record or application (another bureau decides it)."""


class Conflict(CreditError):
    """The state does not allow it (already pending, no longer active, not disclosable)."""


class Invalid(CreditError):
    """The request itself is malformed in a way the request model cannot tell (too many codes, a bad cursor)."""

    def __init__(self, reason: str, detail: str, field: str) -> None:
        super().__init__(reason, detail)
        self.field = field
