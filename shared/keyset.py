"""Opaque keyset cursors: a page's position as a few short texts, base64url-encoded JSON.

A cursor is not a secret and not signed: it only names a position in an order (the SQL compares it
as parameters), so a forged one can at worst start a page elsewhere in what the caller may see
anyway. What comes back from a client is hostile until checked: `decode` accepts only a list of
`arity` ASCII texts without control characters, each at most `max_part` long, and raises
`BadCursor` (the caller answers 400 naming its field) for anything else."""
from __future__ import annotations

import base64
import binascii
import json

MAX_CURSOR = 512


class BadCursor(ValueError):
    """Not a cursor this service issued."""


def encode(*parts: str) -> str:
    raw = json.dumps(list(parts), separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(text: str, arity: int, *, max_part: int = 64) -> tuple[str, ...]:
    if not text or len(text) > MAX_CURSOR or not text.isascii():
        raise BadCursor("not a cursor returned by this list")
    try:
        parts = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("not a cursor returned by this list") from None
    if (not isinstance(parts, list) or len(parts) != arity
            or not all(isinstance(p, str) and p.isascii() and p.isprintable() and len(p) <= max_part
                       for p in parts)):
        raise BadCursor("not a cursor returned by this list")
    return tuple(parts)


def after(args: list, columns: tuple[str, str], key: tuple, *, ascending: bool) -> str:
    """The SQL condition for the rows after `key` in ``ORDER BY columns[0], columns[1]`` (ascending or
    descending), with the key's two values appended to `args` as parameters. The plain bound on the
    first column lets an index range-scan; the row comparison breaks its ties by the second."""
    args += [key[0], key[1]]
    first, second = f"${len(args) - 1}", f"${len(args)}"
    bound, strict = (">=", ">") if ascending else ("<=", "<")
    return f"{columns[0]} {bound} {first} AND ({columns[0]}, {columns[1]}) {strict} ({first}, {second})"
