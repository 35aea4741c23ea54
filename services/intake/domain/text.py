"""Text normalisation: NFKC (full-width input), control characters, and
redaction of personal numbers typed into free text."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from services.intake.domain.errors import FieldError
from shared.identifiers import mask_name
from shared.text import TextRefused, clean_text

# Personal numbers typed into free text, however they are written: digits of any script
# (full-width and others are read as ASCII first), up to 3 separators between any two digits
# (spaces, dots, any dash, slashes, commas, brackets …), glued to letters or Chinese, and for a
# mobile number an optional +86 / 0086 / 86 prefix. Only a digit next to the number stops a match.
_SEP = r"[\s.\u00b7\u2022\u2027\u30fb_/\\,\uff0c\u3001\u3002:;~\uff5e'\"()\[\]{}<>" \
       r"\-\u2010-\u2015\u2212\u2043\u2e3a\u2e3b\u30fc\ufe58\ufe63\uff0d+*#]{0,3}"
_PHONE_IN_TEXT = re.compile(
    rf"(?<![0-9])(?:(?:\+{_SEP}|0{_SEP}0{_SEP})?8{_SEP}6{_SEP})?1{_SEP}[3-9](?:{_SEP}[0-9]){{9}}(?![0-9])")
# an 18-character resident identity number (17 digits and a check character 0-9 or X)
_ID_IN_TEXT = re.compile(rf"(?<![0-9])[0-9](?:{_SEP}[0-9]){{16}}{_SEP}[0-9Xx](?![0-9])")


def nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value)


def clean(value: str | None, field: str, errors: list[FieldError], *, max_len: int, multiline: bool = False,
          required: bool = False) -> str | None:
    """`shared.text.clean_text` (NFKC, trimmed, format characters removed; control characters,
    lone surrogates and noncharacters refused; the length checked after normalisation), with
    a refusal recorded as a `FieldError` on `field` instead of raised.

    Returns None (and records an error) when the value is unusable, or when it is absent/empty and not required."""
    if value is None:
        if required:
            errors.append(FieldError(field, "missing", "required"))
        return None
    try:
        text = clean_text(value, max_len=max_len, multiline=multiline, required=required)
    except TextRefused as exc:
        errors.append(FieldError(field, exc.reason, exc.detail))
        return None
    return text or None


def name_key(name: str) -> str:
    """The comparable form of a business name: NFKC, case-folded, without spaces or punctuation."""
    folded = nfkc(name).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] not in ("Z", "P", "S", "C"))


def _mask_phone_match(m: re.Match[str]) -> str:
    digits = re.sub(r"[^0-9]", "", m.group(0))
    return "*" * 7 + digits[-4:]


def ascii_digits(text: str) -> str:
    """`text` with every decimal digit of any script (full-width, Arabic-Indic, Devanagari …) as
    its ASCII digit, one character for one, so a number is found however it was typed."""
    if text.isascii():
        return text
    return "".join(str(unicodedata.digit(ch)) if not ch.isascii() and unicodedata.category(ch) == "Nd" else ch
                   for ch in text)


def redact(text: str, *, names: Iterable[str | None] = ()) -> str:
    """Free text with mobile numbers masked to their last 4 digits and identity numbers removed,
    whatever the separators, script of the digits, +86/0086/86 prefix or letters around them; and
    each of `names` (the complainant's own name, which no pattern can find) masked as `mask_name`
    shows it, wherever it is written (a name of one character is left: it would mask every word
    holding that character)."""
    text = ascii_digits(nfkc(text))
    for name in names:
        own = nfkc(name or "").strip()
        if len(own) >= 2:
            text = text.replace(own, mask_name(own))
    text = _ID_IN_TEXT.sub("[身份证号已隐去]", text)
    return _PHONE_IN_TEXT.sub(_mask_phone_match, text)
