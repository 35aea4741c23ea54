"""One input hygiene for every service: strict text, ids, paging and dates.

Every HTTP model and Kafka payload model that takes text from outside uses these
types, so the next service gets them for free:

- `Text(max_len)` / `Multiline(max_len)`: NFKC, trimmed, inner runs of spaces folded,
  format characters (zero-width, bidi overrides such as U+202E) removed; NUL and other
  control characters (C0, DEL, C1), lone surrogates and noncharacters refused; the length
  checked *after* normalisation. A multiline text keeps ``\\n`` and ``\\t`` (CRLF → LF).
- `Ident(pattern, max_len)`: an id with a declared shape (path parameters and fields alike);
  `CaseId` and `TrackingNo` are the two every service shares (shapes in shared/identifiers.py).
- `PageOffset`, `PageLimit(max)`: bounded paging integers.
- `SaneDate`: a date between 1949-10-01 and 2100-12-31.
- `Hygiene(default_max=…)`: the edge check of an already parsed payload (a model, lists, dicts):
  every (field, reason, detail) that is not clean, for a 422 or a dead letter.

A refusal is a pydantic error whose type names the reason (``control_character``,
``invalid_character``, ``too_long``, ``empty``, ``bad_shape``), so the HTTP layer's problem
document and the consumer's dead letter name the field and the reason. Pure: no I/O.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from typing import Annotated, Any, Iterator

from annotated_types import MaxLen
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from shared.identifiers import CASE_ID_MAX_LENGTH, CASE_ID_PATTERN, TRACKING_NO_LENGTH, TRACKING_NO_PATTERN


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


#: the one case id type of every HTTP and Kafka model (shape: shared.identifiers.CASE_ID_PATTERN)
CaseId = Annotated[Ident(CASE_ID_PATTERN, max_len=CASE_ID_MAX_LENGTH, what="case id"),
                   Field(json_schema_extra={"pattern": CASE_ID_PATTERN})]
#: the one tracking number type (as intake issues it: shared.identifiers.TRACKING_NO_PATTERN); what a
#: caller typed is read with shared.identifiers.canonical_tracking_no first
TrackingNo = Annotated[Ident(TRACKING_NO_PATTERN, max_len=TRACKING_NO_LENGTH, what="tracking number"),
                       Field(json_schema_extra={"pattern": TRACKING_NO_PATTERN})]


def _sane_date(value: dt.date) -> dt.date:
    if not MIN_DATE <= value <= MAX_DATE:
        raise PydanticCustomError("date_out_of_range", f"must lie between {MIN_DATE} and {MAX_DATE}")
    return value


#: paging: an offset up to 10 million rows (beyond it use a cursor), a limit the route bounds
PageOffset = Annotated[int, Field(ge=0, le=10_000_000)]


def PageLimit(maximum: int = 500) -> Any:  # noqa: N802
    return Annotated[int, Field(ge=1, le=maximum)]


SaneDate = Annotated[dt.date, AfterValidator(_sane_date)]


# -- checking a parsed payload at the edge -------------------------------------------------------
#
# What routing's and credit's edges run over a parsed request or Kafka payload (a pydantic model,
# lists, dicts, texts, dates) to refuse a hostile value by field and reason without rewriting it:
# NFKC, then no control (Cc) or format (Cf) characters, no lone surrogates, no U+FFFD (what
# undecodable bytes become), no noncharacters, and the length checked after normalisation (the
# field's own ``max_length``, else the checker's `default_max`); dates within a window.

def _suspect_characters() -> re.Pattern[str]:
    """Every character `Hygiene.text_problem` may refuse, as one class: controls (Cc), format
    characters (Cf), surrogates, U+FFFD and the noncharacters."""
    # no format character is assigned in planes 4-13 (the tags block is in plane 14)
    scan = [*range(0xD800), *range(0xE000, 0x40000), *range(0xE0000, 0xE1000)]
    cf = [chr(c) for c in scan if unicodedata.category(chr(c)) == "Cf"]
    nonchars = [chr(p * 0x10000 + low) for p in range(17) for low in (0xFFFE, 0xFFFF)]
    ranges = "\\x00-\\x1f\\x7f-\\x9f\\ud800-\\udfff\\ufdd0-\\ufdef\\ufffd"
    return re.compile("[" + ranges + "".join(re.escape(c) for c in cf + nonchars) + "]")


_SUSPECT = _suspect_characters()


@functools.lru_cache(maxsize=4096)
def _declared_max_length(cls: type[BaseModel], name: str) -> int | None:
    info = cls.model_fields.get(name)
    if info is None:
        return None
    for m in info.metadata:
        if isinstance(m, MaxLen):
            return m.max_length
    return None


@functools.lru_cache(maxsize=1024)
def _fields(cls: type[BaseModel]) -> tuple[tuple[str, int | None], ...]:
    return tuple((name, _declared_max_length(cls, name)) for name in cls.model_fields)


class Hygiene:
    """One edge checker: `problems(value)` yields every (field, reason, detail), depth first;
    `first_problem(value)` the first or None, with a fast path for clean payloads (a consumer
    batch's clean records cost one pass each, and short texts found clean are remembered).

    `default_max`: the bound of a text without its own ``max_length``; `earliest`/`latest`: the
    date window; `item`: how a list item's field is named (``"{field}.{i}"`` as pydantic names it,
    or ``"{field}[{i}]"``) and `any_key` the name of a dict value under a non-identifier key."""

    _CLEAN_TEXTS_MAX = 20_000
    _CLEAN_TEXT_LEN = 64

    def __init__(self, *, default_max: int, earliest: dt.date = dt.date(1990, 1, 1),
                 latest: dt.date = MAX_DATE, item: str = "{field}.{i}", any_key: str = "{field}.*") -> None:
        self.default_max, self.earliest, self.latest = default_max, earliest, latest
        self.item, self.any_key = item, any_key
        self._clean_texts: dict[tuple[str, int | None], bool] = {}

    def text_problem(self, value: str, max_length: int | None = None) -> tuple[str, str] | None:
        """(reason, detail) when `value` is not clean text, else None."""
        limit = max_length if max_length is not None else self.default_max
        # the fast path (every clean text: one regex scan, NFKC only when the text is not NFKC already);
        # a suspect character anywhere takes the exact checks below, which name the first problem
        if _SUSPECT.search(value) is None:
            normal = value if value.isascii() or unicodedata.is_normalized("NFKC", value) else unicodedata.normalize("NFKC", value)
            if (normal is value or _SUSPECT.search(normal) is None) and len(normal) <= limit:
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
        if len(normal) > limit:
            return "too_long", f"at most {limit} characters after NFKC normalisation, got {len(normal)}"
        return None

    def date_problem(self, value: dt.date) -> tuple[str, str] | None:
        day = value.date() if isinstance(value, dt.datetime) else value
        if not self.earliest <= day <= self.latest:
            return "date_out_of_range", f"must be between {self.earliest} and {self.latest}"
        return None

    def problems(self, value: Any, field: str = "", max_length: int | None = None) -> Iterator[tuple[str, str, str]]:
        """Every (field, reason, detail) of a value that is not clean, depth first."""
        if isinstance(value, BaseModel):
            for name, limit in _fields(type(value)):
                yield from self.problems(getattr(value, name), f"{field}.{name}" if field else name, limit)
        elif isinstance(value, str):
            found = self.text_problem(value, max_length)
            if found:
                yield (field or "body", *found)
        elif isinstance(value, dt.date):
            found = self.date_problem(value)
            if found:
                yield (field or "body", *found)
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                # a list field's max_length counts items; each item is text of the default bound
                yield from self.problems(item, self.item.format(field=field, i=i), None)
        elif isinstance(value, dict):
            for key, item in value.items():
                yield from self.problems(str(key), f"{field}.<key>", 200)
                sub = f"{field}.{key}" if isinstance(key, str) and key.isidentifier() else self.any_key.format(field=field)
                yield from self.problems(item, sub, None)

    def first_problem(self, value: Any) -> tuple[str, str, str] | None:
        """The first (field, reason, detail) of `value` that is not clean, or None."""
        if self.clean(value):
            return None
        return next(self.problems(value), None)

    def _clean_text(self, value: str, max_length: int | None) -> bool:
        if len(value) > self._CLEAN_TEXT_LEN:
            return self.text_problem(value, max_length) is None
        key = (value, max_length)
        if key in self._clean_texts:
            return True
        if self.text_problem(value, max_length) is not None:
            return False
        if len(self._clean_texts) >= self._CLEAN_TEXTS_MAX:
            self._clean_texts.clear()
        self._clean_texts[key] = True
        return True

    def clean(self, value: Any, max_length: int | None = None) -> bool:
        """Whether `problems(value)` would find nothing — the same walk without naming fields."""
        if isinstance(value, str):
            return self._clean_text(value, max_length)
        if isinstance(value, BaseModel):
            return all(self.clean(getattr(value, name), limit) for name, limit in _fields(type(value)))
        if isinstance(value, dt.date):
            return self.date_problem(value) is None
        if isinstance(value, (list, tuple)):
            return all(self.clean(item) for item in value)
        if isinstance(value, dict):
            return all(self.clean(str(key), 200) and self.clean(item) for key, item in value.items())
        return True
