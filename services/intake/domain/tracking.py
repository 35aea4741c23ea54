"""Tracking numbers a caller can read out over the phone: ``SD250601-7KQ3M9XW``.

``SD`` + the date in Asia/Shanghai (YYMMDD) + ``-`` + 8 characters of
Crockford base32 (no I, L, O, U: nothing to mishear), 40 random bits.
"""
from __future__ import annotations

from datetime import datetime

from shared.identifiers import canonical_tracking_no as parse_tracking_no
from services.intake.domain.validation import SHANGHAI

__all__ = ["CROCKFORD", "new_tracking_no", "parse_tracking_no"]

#: the shape and the reading of what a caller typed are shared (shared.identifiers): the console and
#: routing read tracking numbers too
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_tracking_no(now: datetime, random_bytes: bytes) -> str:
    if len(random_bytes) < 5:
        raise ValueError("need 5 random bytes")
    n = int.from_bytes(random_bytes[:5], "big")
    chars = "".join(CROCKFORD[(n >> shift) & 31] for shift in range(35, -1, -5))
    return f"SD{now.astimezone(SHANGHAI):%y%m%d}-{chars}"

