"""Credit's input hygiene, applied at the edge to every text and date of an HTTP body, path or
query parameter and of every Kafka payload, before anything is stored or published:

- text: NFKC, then no control (Cc: NUL, ESC, DEL, C1, CR, LF, TAB) or format (Cf: U+202E, zero-width
  …) characters, no lone surrogates (nor U+FFFD, what undecodable bytes become), no noncharacters, and the length checked after
  normalisation (the field's own ``max_length``, else `DEFAULT_MAX`);
- dates between `EARLIEST` and `LATEST` (a year-9999 date would overflow the calendar sums);
- ids of a declared shape (`RECORD_ID`, `APPLICATION_ID`, `TARGET_ID`).

A refusal names the field and the reason, as intake's do. This is credit's own copy until the
shared strict string types (shared/text.py) land; then these checks become those types.
"""
from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any, Iterator

from annotated_types import MaxLen
from pydantic import BaseModel

DEFAULT_MAX = 1000
EARLIEST = dt.date(1990, 1, 1)
LATEST = dt.date(2100, 12, 31)
#: ids as credit issues them: a prefix and 20 hex digits
RECORD_ID = r"^rec-[0-9a-f]{20}$"
APPLICATION_ID = r"^app-[0-9a-f]{20}$"
TARGET_ID = r"^(rec|lst)-[0-9a-f]{20}$"


def text_problem(value: str, max_length: int | None = None) -> tuple[str, str] | None:
    """(reason, detail) when `value` is not clean text, else None."""
    for ch in value:
        if "\ud800" <= ch <= "\udfff":
            return "lone_surrogate", "contains a lone surrogate (not Unicode text)"
    normal = unicodedata.normalize("NFKC", value)
    for ch in normal:
        category = unicodedata.category(ch)
        if category == "Cc":
            return "control_character", f"contains the control character U+{ord(ch):04X}"
        if category == "Cf":
            return "format_character", f"contains the format character U+{ord(ch):04X}"
        if ch == "\ufffd":  # what a decoder puts for bytes that were not UTF-8 (a query string, a path)
            return "not_utf8", "contains U+FFFD: the request's bytes were not valid UTF-8"
        code = ord(ch)
        if 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE:
            return "noncharacter", f"contains the noncharacter U+{code:04X}"
    limit = max_length if max_length is not None else DEFAULT_MAX
    if len(normal) > limit:
        return "too_long", f"at most {limit} characters after NFKC normalisation, got {len(normal)}"
    return None


def date_problem(value: dt.date) -> tuple[str, str] | None:
    day = value.date() if isinstance(value, dt.datetime) else value
    if not EARLIEST <= day <= LATEST:
        return "date_out_of_range", f"must be between {EARLIEST} and {LATEST}"
    return None


def _max_length(model: BaseModel, name: str) -> int | None:
    info = type(model).model_fields.get(name)
    if info is None:
        return None
    for m in info.metadata:
        if isinstance(m, MaxLen):
            return m.max_length
    return None


def problems(value: Any, field: str = "", max_length: int | None = None) -> Iterator[tuple[str, str, str]]:
    """Every (field, reason, detail) of a payload that is not clean, depth first."""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            sub = f"{field}.{name}" if field else name
            yield from problems(getattr(value, name), sub, _max_length(value, name))
    elif isinstance(value, str):
        found = text_problem(value, max_length)
        if found:
            yield (field or "body", *found)
    elif isinstance(value, dt.date):
        found = date_problem(value)
        if found:
            yield (field or "body", *found)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            # a list field's max_length counts items; each item is text of the default bound
            yield from problems(item, f"{field}[{i}]", None)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from problems(str(key), f"{field}.<key>", 200)
            yield from problems(item, f"{field}.{key}" if isinstance(key, str) and key.isidentifier() else f"{field}[]", None)


def first_hostile_field(value: Any) -> tuple[str, str, str] | None:
    return next(problems(value), None)
