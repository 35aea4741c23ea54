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
import functools
import re
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


def _suspect_characters() -> re.Pattern[str]:
    """Every character `text_problem` may refuse, as one class: controls (Cc), format characters
    (Cf), surrogates, U+FFFD and the noncharacters."""
    # no format character is assigned in planes 4-13 (the tags block is in plane 14)
    scan = [*range(0xD800), *range(0xE000, 0x40000), *range(0xE0000, 0xE1000)]
    cf = [chr(c) for c in scan if unicodedata.category(chr(c)) == "Cf"]
    nonchars = [chr(p * 0x10000 + low) for p in range(17) for low in (0xFFFE, 0xFFFF)]
    ranges = "\\x00-\\x1f\\x7f-\\x9f\\ud800-\\udfff\\ufdd0-\\ufdef\\ufffd"
    return re.compile("[" + ranges + "".join(re.escape(c) for c in cf + nonchars) + "]")


_SUSPECT = _suspect_characters()


def text_problem(value: str, max_length: int | None = None) -> tuple[str, str] | None:
    """(reason, detail) when `value` is not clean text, else None."""
    # the fast path (every clean text: one regex scan, NFKC only when the text is not NFKC already);
    # a suspect character anywhere takes the exact checks below, which name the first problem
    if _SUSPECT.search(value) is None:
        normal = value if value.isascii() or unicodedata.is_normalized("NFKC", value) else unicodedata.normalize("NFKC", value)
        if normal is value or _SUSPECT.search(normal) is None:
            limit = max_length if max_length is not None else DEFAULT_MAX
            if len(normal) <= limit:
                return None
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
    return _declared_max_length(type(model), name)


@functools.lru_cache(maxsize=4096)
def _declared_max_length(cls: type[BaseModel], name: str) -> int | None:
    info = cls.model_fields.get(name)
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


@functools.lru_cache(maxsize=1024)
def _fields(cls: type[BaseModel]) -> tuple[tuple[str, int | None], ...]:
    return tuple((name, _declared_max_length(cls, name)) for name in cls.model_fields)


#: short texts found clean, by bound: bulk decisions repeat their legal basis, violation and names
_CLEAN_TEXTS: dict[tuple[str, int | None], bool] = {}
_CLEAN_TEXTS_MAX = 20_000
_CLEAN_TEXT_LEN = 64


def _clean_text(value: str, max_length: int | None) -> bool:
    if len(value) > _CLEAN_TEXT_LEN:
        return text_problem(value, max_length) is None
    key = (value, max_length)
    if key in _CLEAN_TEXTS:
        return True
    if text_problem(value, max_length) is not None:
        return False
    if len(_CLEAN_TEXTS) >= _CLEAN_TEXTS_MAX:
        _CLEAN_TEXTS.clear()
    _CLEAN_TEXTS[key] = True
    return True


def _clean(value: Any, max_length: int | None = None) -> bool:
    """Whether `problems(value)` would find nothing — the same walk without naming fields, so the
    clean payloads of a consumer batch cost one pass each."""
    if isinstance(value, str):
        return _clean_text(value, max_length)
    if isinstance(value, BaseModel):
        for name, limit in _fields(type(value)):
            if not _clean(getattr(value, name), limit):
                return False
        return True
    if isinstance(value, dt.date):
        return date_problem(value) is None
    if isinstance(value, (list, tuple)):
        for item in value:
            if not _clean(item):
                return False
        return True
    if isinstance(value, dict):
        for key, item in value.items():
            if not (_clean(str(key), 200) and _clean(item)):
                return False
        return True
    return True


def first_hostile_field(value: Any) -> tuple[str, str, str] | None:
    if _clean(value):
        return None
    return next(problems(value), None)
