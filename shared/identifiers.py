"""Pure validators and maskers for the identifiers the campaign handles.

Nothing here does I/O. Every ``parse_*`` function takes arbitrary text, returns
the identifier in its canonical form, and raises :class:`IdentifierError` (and
nothing else) when the text is not a valid identifier of that kind.

* Unified social credit code, USCC (GB 32100-2015): 18 characters from
  ``0123456789ABCDEFGHJKLMNPQRTUWXY``; position *i* (1–17) is weighted
  3^(i−1) mod 31; the check character (position 18) is ``(31 − Σ mod 31) mod 31``;
  positions 3–8 are the GB/T 2260 division code of the registering authority.
* Resident identity number (GB 11643-1999): 17 digits and an ISO 7064 MOD 11-2
  check character (``0``–``9`` or ``X``); positions 7–14 are the birth date.
* Mainland mobile phone numbers: 11 digits starting ``13``–``19``.

Input is normalised first (:func:`normalise_text`: Unicode NFKC, then strip), so
full-width digits and letters typed on Chinese keyboards are accepted, and
letters are upper-cased. Positions named in errors are 1-based and refer to the
normalised text.

The maskers implement what may be shown in public or logs: the phone's last 4
digits (DESIGN.md, Security), a name's first character, and an identity
number's last 4 characters.
"""
from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "CASE_ID_MAX_LENGTH",
    "CASE_ID_PATTERN",
    "TRACKING_NO_LENGTH",
    "TRACKING_NO_PATTERN",
    "IdentifierError",
    "canonical_tracking_no",
    "USCC_ALPHABET",
    "mask_name",
    "mask_phone",
    "mask_resident_id",
    "normalise_text",
    "parse_phone",
    "parse_resident_id",
    "parse_uscc",
    "resident_id_birth_date",
    "resident_id_check_character",
    "uscc_check_character",
    "uscc_division_code",
]


class IdentifierError(ValueError):
    """An identifier failed validation.

    Attributes:
        field: which identifier — ``"uscc"``, ``"resident_id"`` or ``"phone"``
            (or the caller's field name when one was passed).
        reason: a short, stable machine code, e.g. ``"wrong_length"``,
            ``"illegal_character"``, ``"bad_check_character"``,
            ``"bad_birth_date"``, ``"bad_prefix"``, ``"bad_division_code"``,
            ``"empty"``, ``"not_a_string"``.
        message: the human-readable explanation (also ``str(error)``).
        details: extra facts for the caller, e.g. ``{"position": 5}`` or
            ``{"expected": "L", "got": "M"}``. Never contains the full input.
    """

    def __init__(self, field: str, reason: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason
        self.message = message
        self.details: Mapping[str, Any] = dict(details)

    def __repr__(self) -> str:
        return f"IdentifierError(field={self.field!r}, reason={self.reason!r}, message={self.message!r})"


def normalise_text(s: str) -> str:
    """Return *s* in Unicode NFKC form with surrounding whitespace stripped.

    NFKC folds full-width digits, letters and spaces (``９１ＡＢ``, U+3000) into
    their ASCII forms. Case is not changed here.
    """
    return unicodedata.normalize("NFKC", s).strip()


def _text(s: object, field: str) -> str:
    if not isinstance(s, str):
        raise IdentifierError(field, "not_a_string", f"{field}: expected text, got {type(s).__name__}")
    text = normalise_text(s)
    if not text:
        raise IdentifierError(field, "empty", f"{field}: empty")
    return text


def _show(ch: str) -> str:
    """A printable rendering of one character for messages."""
    return ch if ch.isprintable() and not ch.isspace() else f"U+{ord(ch):04X}"


# --- Case ids and tracking numbers ---------------------------------------------------------

#: a case id as intake issues it (a UUID today) and routing, credit, custody, appraisal, notify and the
#: console pass on: visible ASCII, no space, no slash, 1-64 characters — so a NUL or a path never
#: reaches SQL or a URL. Every HTTP and Kafka model takes it as `shared.text.CaseId`.
CASE_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$"
CASE_ID_MAX_LENGTH: Final = 64
#: a tracking number as intake issues it for a caller to read out: ``SD`` + the Asia/Shanghai date
#: (YYMMDD) + ``-`` + 8 characters of Crockford base32 (no I, L, O, U). Models: `shared.text.TrackingNo`.
TRACKING_NO_PATTERN: Final = r"^SD[0-9]{6}-[0-9A-HJKMNP-TV-Z]{8}$"
TRACKING_NO_LENGTH: Final = 17
_TRACKING_NO: Final = re.compile(TRACKING_NO_PATTERN)
_READ_AS: Final = str.maketrans({"O": "0", "I": "1", "L": "1"})


def canonical_tracking_no(text: str) -> str | None:
    """The canonical tracking number for what a caller typed or said (full-width, lower case, spaces
    anywhere, O for 0 and I/L for 1 forgiven), or None if it cannot be one.

    >>> canonical_tracking_no(" sd250602-7kq3m9xw ")
    'SD250602-7KQ3M9XW'
    """
    if not isinstance(text, str) or len(text) > 64:
        return None
    compact = "".join(unicodedata.normalize("NFKC", text).split()).upper()
    if len(compact) == TRACKING_NO_LENGTH and compact[:2] == "SD" and compact[8] == "-":
        compact = compact[:9] + compact[9:].translate(_READ_AS)
    return compact if _TRACKING_NO.match(compact) else None


# --- Unified social credit code (GB 32100-2015) -----------------------------------------

#: The 31 characters a USCC may contain, in value order (I, O, Z, S and V are excluded).
USCC_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE: Final = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS: Final = tuple(pow(3, i, 31) for i in range(17))  # 1, 3, 9, 27, 19, 26, …, 28
_DIGITS: Final = frozenset("0123456789")


def uscc_check_character(first17: str) -> str:
    """Return the check character for the first 17 characters of a USCC.

    *first17* must already be upper-case characters of :data:`USCC_ALPHABET`
    (raises :class:`IdentifierError` otherwise). Useful to build valid codes
    for simulations.
    """
    if len(first17) != 17:
        raise IdentifierError("uscc", "wrong_length", f"uscc: need 17 characters to compute a check, got {len(first17)}")
    total = 0
    for pos, (ch, weight) in enumerate(zip(first17, _USCC_WEIGHTS), start=1):
        value = _USCC_VALUE.get(ch)
        if value is None:
            raise IdentifierError(
                "uscc", "illegal_character", f"uscc: illegal character {_show(ch)!r} at position {pos}", position=pos
            )
        total += value * weight
    return USCC_ALPHABET[(31 - total % 31) % 31]


def parse_uscc(s: str) -> str:
    """Validate a unified social credit code and return it normalised.

    Accepts full-width and lower-case input. Raises :class:`IdentifierError`
    with ``field="uscc"`` and one of the reasons ``empty``, ``wrong_length``,
    ``illegal_character`` (details: ``position``), ``bad_division_code``
    (positions 3–8 must be digits) or ``bad_check_character`` (details:
    ``expected``, ``got``).

    >>> parse_uscc("９１１１００００６０００３７３４１ｌ")
    '91110000600037341L'
    """
    code = _text(s, "uscc").upper()
    if len(code) != 18:
        raise IdentifierError(
            "uscc", "wrong_length", f"uscc: must be 18 characters, got {len(code)}", length=len(code)
        )
    for pos, ch in enumerate(code, start=1):
        if ch not in _USCC_VALUE:
            raise IdentifierError(
                "uscc",
                "illegal_character",
                f"uscc: illegal character {_show(ch)!r} at position {pos} "
                f"(allowed: {USCC_ALPHABET})",
                position=pos,
            )
    division = code[2:8]
    if not set(division) <= _DIGITS:
        raise IdentifierError(
            "uscc",
            "bad_division_code",
            "uscc: positions 3-8 must be the 6-digit GB/T 2260 division code",
        )
    expected = uscc_check_character(code[:17])
    if code[17] != expected:
        raise IdentifierError(
            "uscc",
            "bad_check_character",
            f"uscc: bad check character — expected {expected}, got {code[17]}",
            expected=expected,
            got=code[17],
        )
    return code


def uscc_division_code(code: str) -> str:
    """Return the GB/T 2260 division code (positions 3–8) of a valid USCC.

    The code may be a historical one (e.g. ``610427`` for 彬县); resolve it with
    :func:`shared.reference.resolve_county`.
    """
    return parse_uscc(code)[2:8]


# --- Resident identity number (GB 11643-1999) ----------------------------------------------

_ID_WEIGHTS: Final = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2
_ID_CHECK: Final = "10X98765432"
#: Earliest birth year accepted. Identity numbers were issued from 1984 to people
#: alive then; a birth year before 1880 is a typing error.
_ID_MIN_BIRTH_YEAR: Final = 1880


def resident_id_check_character(first17: str) -> str:
    """Return the ISO 7064 MOD 11-2 check character for 17 ASCII digits."""
    if len(first17) != 17 or not set(first17) <= _DIGITS:
        raise IdentifierError("resident_id", "illegal_character", "resident_id: need 17 digits to compute a check")
    total = sum(int(ch) * w for ch, w in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK[total % 11]


def parse_resident_id(s: str, *, today: _dt.date | None = None) -> str:
    """Validate an 18-character resident identity number and return it normalised.

    Accepts full-width input and a lower-case ``x``. The birth date (positions
    7–14) must be a real date, not before 1880 and not after *today* (default:
    the local date of the machine; pass it for reproducible results). Raises
    :class:`IdentifierError` with ``field="resident_id"`` and one of the
    reasons ``empty``, ``wrong_length``, ``illegal_character`` (details:
    ``position``), ``bad_birth_date`` or ``bad_check_character`` (details:
    ``expected``, ``got``). 15-digit first-generation numbers are rejected as
    ``wrong_length``.
    """
    rid = _text(s, "resident_id").upper()
    if len(rid) != 18:
        raise IdentifierError(
            "resident_id", "wrong_length", f"resident_id: must be 18 characters, got {len(rid)}", length=len(rid)
        )
    for pos, ch in enumerate(rid, start=1):
        if ch not in _DIGITS and not (pos == 18 and ch == "X"):
            raise IdentifierError(
                "resident_id",
                "illegal_character",
                f"resident_id: illegal character {_show(ch)!r} at position {pos} "
                "(positions 1-17 are digits, 18 is a digit or X)",
                position=pos,
            )
    try:
        born = _dt.date(int(rid[6:10]), int(rid[10:12]), int(rid[12:14]))
    except ValueError:
        raise IdentifierError("resident_id", "bad_birth_date", "resident_id: positions 7-14 are not a valid date") from None
    latest = today if today is not None else _dt.date.today()
    if born.year < _ID_MIN_BIRTH_YEAR or born > latest:
        raise IdentifierError("resident_id", "bad_birth_date", "resident_id: birth date out of range")
    expected = resident_id_check_character(rid[:17])
    if rid[17] != expected:
        raise IdentifierError(
            "resident_id",
            "bad_check_character",
            f"resident_id: bad check character — expected {expected}, got {rid[17]}",
            expected=expected,
            got=rid[17],
        )
    return rid


def resident_id_birth_date(rid: str) -> _dt.date:
    """Return the birth date encoded in a valid resident identity number."""
    norm = parse_resident_id(rid)
    return _dt.date(int(norm[6:10]), int(norm[10:12]), int(norm[12:14]))


# --- Mainland mobile phone -------------------------------------------------------------------

_SEPARATORS: Final = frozenset("-‐‑‒–—―−")


def parse_phone(s: str) -> str:
    """Validate a mainland-China mobile number and return its 11 digits.

    Accepts a ``+86`` or ``0086`` country prefix, spaces and dashes anywhere,
    and full-width characters. The number must be 11 digits starting with
    ``1`` followed by ``3``–``9``. Raises :class:`IdentifierError` with
    ``field="phone"`` and one of the reasons ``empty``, ``illegal_character``
    (details: ``position`` in the text once spaces and dashes are removed),
    ``wrong_length`` or ``bad_prefix``. Landlines are rejected.

    >>> parse_phone("+86 138-0013-8000")
    '13800138000'
    """
    text = _text(s, "phone")
    compact = "".join(ch for ch in text if not ch.isspace() and ch not in _SEPARATORS)
    if compact.startswith("+86"):
        number, offset = compact[3:], 3
    elif compact.startswith("0086"):
        number, offset = compact[4:], 4
    else:
        number, offset = compact, 0
    for pos, ch in enumerate(number, start=1 + offset):
        if ch not in _DIGITS:
            raise IdentifierError(
                "phone",
                "illegal_character",
                f"phone: illegal character {_show(ch)!r} at position {pos} (after removing spaces and dashes)",
                position=pos,
            )
    if len(number) != 11:
        raise IdentifierError(
            "phone", "wrong_length", f"phone: a mobile number has 11 digits, got {len(number)}", length=len(number)
        )
    if number[0] != "1" or number[1] not in "3456789":
        raise IdentifierError("phone", "bad_prefix", "phone: a mainland mobile number starts with 13-19")
    return number


def mask_phone(phone: str) -> str:
    """Mask a mobile number for public display: ``*******5678`` (last 4 digits).

    The input is parsed with :func:`parse_phone` first, so any accepted form
    works; invalid input raises :class:`IdentifierError` rather than risk
    showing more than the rules allow.
    """
    number = parse_phone(phone)
    return "*" * 7 + number[-4:]


def mask_name(name: str) -> str:
    """Keep the first character of a name and mask the rest: ``张三丰`` → ``张**``.

    A one-character name still gets one ``*`` so the output never equals the
    input. An empty (or all-whitespace) name returns ``""``.
    """
    text = normalise_text(name)
    if not text:
        return ""
    return text[0] + "*" * max(1, len(text) - 1)


#: how a 个体工商户's name with a 字号 ends (行业 or 组织形式): such a name is the shop's, not a person's
SHOP_NAME_ENDINGS: Final = ("店", "部", "行", "厂", "馆", "坊", "社", "铺", "场", "站", "室", "所", "园", "庄", "院", "吧",
                            "屋", "阁", "居", "堂", "城", "中心", "门市", "摊", "号", "超市", "商贸", "经营", "工作室")
_CJK_NAME = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff·]+$")


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
    if not _CJK_NAME.match(text) or text.endswith(SHOP_NAME_ENDINGS):
        return False
    return 2 <= len(text) <= 4 or ("·" in text and len(text) <= 16)


def uscc_party_kind(code: str) -> str:
    """``individual_trader`` for a unified social credit code of a 个体工商户 (registration authority 9,
    market regulation; organisation type 2: GB 32100-2015), else ``organisation``."""
    return "individual_trader" if normalise_text(code).upper().startswith("92") else "organisation"


def mask_resident_id(rid: str, *, keep_last: int = 4) -> str:
    """Mask an identity number, keeping only its last *keep_last* characters.

    ``610402199001011234`` → ``**************1234``. The birth date (positions
    7–14) is always hidden. The input is validated with
    :func:`parse_resident_id` first; invalid input raises
    :class:`IdentifierError`.
    """
    if not 0 <= keep_last <= 4:
        raise ValueError("keep_last must be between 0 and 4")
    norm = parse_resident_id(rid)
    return "*" * (18 - keep_last) + (norm[18 - keep_last :] if keep_last else "")
