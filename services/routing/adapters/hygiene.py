"""Routing's input hygiene, in one place, applied at the edge to every text, id, paging value
and date of an HTTP request and of a bureau's command from its ingress topic:

- text: NFKC, then no control (Cc: NUL, ESC, DEL, C1, CR, LF, TAB) or format (Cf: U+202E,
  zero-width …) characters, no lone surrogates, no U+FFFD (what undecodable bytes become), no
  noncharacters, and the length checked after normalisation (the field's own ``max_length``,
  else `DEFAULT_MAX`); Postgres refuses NUL in text, so unchecked it was a 500;
- path ids (`CaseIdPath`): a declared shape, 1–64 visible ASCII characters;
- paging (`Limit`, `Offset`): bounded integers (an offset past a bigint was a 500);
- dates between `EARLIEST` and `LATEST` (year 9999 overflows any deadline sum).

A refusal is a 422 problem document naming the field and the reason, as intake's are.
This is routing's own copy until the shared strict types (``shared/text.py``, issue 12 §1)
land; then `text_problem` and the Annotated types below become those.
"""
from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Annotated, Any, Iterator

from annotated_types import MaxLen
from fastapi import Path, Query
from pydantic import BaseModel

from shared.http import ProblemError

DEFAULT_MAX = 4000
EARLIEST = dt.date(1990, 1, 1)
LATEST = dt.date(2100, 12, 31)
VALIDATION = "https://shuangda.example/problems/validation"
#: case ids as intake issues them (and tests make them): visible ASCII, no space, no slash
CASE_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$"
#: the largest offset a listing accepts (far beyond any real number of cases, far below a bigint)
MAX_OFFSET = 1_000_000

CaseIdPath = Annotated[str, Path(pattern=CASE_ID, min_length=1, max_length=64,
                                 description="the case id (1-64 of A-Z a-z 0-9 . _ : @ -)")]
Limit = Annotated[int, Query(ge=1, le=10_000, description="page size (capped at the service's list_limit_max)")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"cases to skip (0-{MAX_OFFSET})")]
CaseState = Annotated[str | None, Query(pattern="^(assigned|accepted|closed|not_accepted)$", max_length=20)]


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
        if ch == "\ufffd":
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
    for m in (info.metadata if info is not None else ()):
        if isinstance(m, MaxLen):
            return m.max_length
    return None


def problems(value: Any, field: str = "", max_length: int | None = None) -> Iterator[tuple[str, str, str]]:
    """Every (field, reason, detail) of a value that is not clean, depth first."""
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
            yield from problems(item, f"{field}.{i}", None)  # named as pydantic names it: files.0.title
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from problems(str(key), f"{field}.<key>", 200)
            yield from problems(item, f"{field}.{key}" if isinstance(key, str) and key.isidentifier() else f"{field}.*")


def first_problem(value: Any) -> tuple[str, str, str] | None:
    """The first (field, reason, detail) of `value` that is not clean, or None."""
    return next(problems(value), None)


def require_clean(value: Any, field: str = "") -> None:
    """Refuse (a 422 problem naming every field) a value that is not clean."""
    errors = [{"field": f, "reason": reason, "detail": detail} for f, reason, detail in problems(value, field)]
    if errors:
        raise ProblemError(422, "Request failed validation", f"{len(errors)} invalid field(s)", errors=errors,
                           type_=VALIDATION)
