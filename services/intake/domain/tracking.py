"""Tracking numbers a caller can read out over the phone: ``SD250601-7KQ3M9XW``.

``SD`` + the date in Asia/Shanghai (YYMMDD) + ``-`` + 8 characters of
Crockford base32 (no I, L, O, U: nothing to mishear), 40 random bits.
"""
from __future__ import annotations

import re
from datetime import datetime

from services.intake.domain.text import nfkc
from services.intake.domain.validation import SHANGHAI

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PATTERN = re.compile(r"^SD[0-9]{6}-[0-9A-HJKMNP-TV-Z]{8}$")
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_tracking_no(now: datetime, random_bytes: bytes) -> str:
    if len(random_bytes) < 5:
        raise ValueError("need 5 random bytes")
    n = int.from_bytes(random_bytes[:5], "big")
    chars = "".join(CROCKFORD[(n >> shift) & 31] for shift in range(35, -1, -5))
    return f"SD{now.astimezone(SHANGHAI):%y%m%d}-{chars}"


def parse_tracking_no(text: str) -> str | None:
    """The canonical tracking number for what a caller typed (full-width, lower case,
    O for 0 and I/L for 1 forgiven, spaces ignored), or None if it cannot be one."""
    if len(text) > 64:
        return None
    compact = "".join(nfkc(text).split()).upper()
    if len(compact) == 17 and compact[:2] == "SD" and compact[8] == "-":
        compact = compact[:9] + compact[9:].translate(_READ_AS)
    return compact if _PATTERN.match(compact) else None
