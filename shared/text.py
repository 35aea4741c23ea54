"""One input hygiene for every service: strict text, ids, paging and dates.

Every HTTP model and Kafka payload model that takes text from outside uses these
types, so the next service gets them for free:

- `Text(max_len)` / `Multiline(max_len)`: NFKC, trimmed, inner runs of spaces folded,
  format characters (zero-width, bidi overrides such as U+202E) removed; NUL and other
  control characters (C0, DEL, C1), lone surrogates and noncharacters refused; the length
  checked *after* normalisation. A multiline text keeps ``\\n`` and ``\\t`` (CRLF → LF).
- `Ident(pattern, max_len)`: an id with a declared shape (path parameters and fields alike).
- `PageOffset`, `PageLimit(max)`: bounded paging integers.
- `SaneDate`: a date between 1949-10-01 and 2100-12-31.

A refusal is a pydantic error whose type names the reason (``control_character``,
``invalid_character``, ``too_long``, ``empty``, ``bad_shape``), so the HTTP layer's problem
document and the consumer's dead letter name the field and the reason. Pure: no I/O.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
MIN_DATE = dt.date(1949, 10, 1)
MAX_DATE = dt.date(2100, 12, 31)


class TextRefused(ValueError):
    """Text that cannot be accepted; `reason` is a short machine-readable word."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _is_noncharacter(cp: int) -> bool:
    return 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE


def clean_text(value: str, *, max_len: int, multiline: bool = False, required: bool = True) -> str:
    """The normalised text, or `TextRefused` (see the module docstring). An empty result is
    refused when `required`, else returned as ''."""
    text = unicodedata.normalize("NFKC", value).replace("\r\n", "\n").replace("\r", "\n")
    drop: list[str] = []
    for ch in () if text.isprintable() else set(text):  # each distinct character once
        cp = ord(ch)
        if multiline and ch in "\n\t":
            continue
        if ch == " ":
            continue
        category = unicodedata.category(ch)
        if category == "Cs":
            raise TextRefused("invalid_character", "contains an unpaired surrogate code point")
        if category == "Cc" or (not multiline and ch in "\n\t"):
            raise TextRefused("control_character", f"contains the control character U+{cp:04X}")
        if category == "Cf":
            drop.append(ch)
        elif category in ("Zl", "Zp"):
            raise TextRefused("control_character", f"contains the line separator U+{cp:04X}")
        elif category == "Cn" and _is_noncharacter(cp):
            raise TextRefused("invalid_character", f"contains the noncharacter U+{cp:04X}")
    if drop:
        text = text.translate({ord(ch): None for ch in drop})
    if multiline:
        text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n")).strip()
        text = re.sub(r"\n{3,}", "\n\n", text)
    else:
        text = _SPACES.sub(" ", text).strip()
    if not text and required:
        raise TextRefused("empty", "must not be empty")
    if len(text) > max_len:
        raise TextRefused("too_long", f"at most {max_len} characters after normalisation, got {len(text)}")
    return text


def _pydantic(exc: TextRefused) -> PydanticCustomError:
    return PydanticCustomError(exc.reason, exc.detail)


def _text_validator(max_len: int, multiline: bool, required: bool) -> Any:
    def check(value: Any) -> Any:
        if not isinstance(value, str):
            return value  # the str type itself reports the wrong type
        try:
            return clean_text(value, max_len=max_len, multiline=multiline, required=required)
        except TextRefused as exc:
            raise _pydantic(exc) from None

    return check


def Text(max_len: int, *, required: bool = True) -> Any:  # noqa: N802 - a type factory
    """One line of text, at most `max_len` characters after NFKC."""
    # the raw bound stops a megabyte string before normalising it (NFKC can grow text up to 18×)
    return Annotated[str, Field(max_length=max_len * 4 + 16), BeforeValidator(_text_validator(max_len, False, required))]


def Multiline(max_len: int, *, required: bool = True) -> Any:  # noqa: N802
    """Free text that may span lines, at most `max_len` characters after NFKC."""
    return Annotated[str, Field(max_length=max_len * 4 + 16), BeforeValidator(_text_validator(max_len, True, required))]


def check_ident(value: str, pattern: re.Pattern[str], max_len: int, what: str) -> str:
    """An id with its declared shape, or `TextRefused('bad_shape')` (usable for path parameters)."""
    if not isinstance(value, str) or len(value) > max_len or not pattern.fullmatch(value):
        raise TextRefused("bad_shape", f"not a valid {what} (at most {max_len} characters of the form {pattern.pattern})")
    return value


def Ident(pattern: str, *, max_len: int = 64, what: str = "id") -> Any:  # noqa: N802
    """A str field that must match `pattern` in full and be at most `max_len` long."""
    compiled = re.compile(pattern)

    def check(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return check_ident(value, compiled, max_len, what)
        except TextRefused as exc:
            raise _pydantic(exc) from None

    return Annotated[str, Field(max_length=max_len), BeforeValidator(check)]


def _sane_date(value: dt.date) -> dt.date:
    if not MIN_DATE <= value <= MAX_DATE:
        raise PydanticCustomError("date_out_of_range", f"must lie between {MIN_DATE} and {MAX_DATE}")
    return value


#: paging: an offset up to 10 million rows (beyond it use a cursor), a limit the route bounds
PageOffset = Annotated[int, Field(ge=0, le=10_000_000)]


def PageLimit(maximum: int = 500) -> Any:  # noqa: N802
    return Annotated[int, Field(ge=1, le=maximum)]


SaneDate = Annotated[dt.date, AfterValidator(_sane_date)]
