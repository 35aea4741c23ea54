"""Standard Webhooks signing and verification (DESIGN.md, Security).

A signed request carries three headers:

``webhook-id``
    the message id, unique per message and the SAME on every retry (receivers
    deduplicate on it);
``webhook-timestamp``
    integer seconds since the epoch at the time of this attempt;
``webhook-signature``
    ``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``; several
    space-separated signatures are allowed (key rotation), one is enough.

The secret is written ``whsec_<base64 key>``; the HMAC key is the decoded
bytes. Generic: nothing here knows about notifications, so any service may
sign what it sends and any receiver may verify with it.

    secret = generate_secret()
    headers = sign_headers(secret, "msg_1", body)            # to send
    verify(secret, headers, body)                             # raises WebhookVerificationError
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from typing import Mapping

__all__ = [
    "SECRET_PREFIX",
    "WebhookVerificationError",
    "generate_secret",
    "parse_secret",
    "sign",
    "sign_headers",
    "verify",
]

SECRET_PREFIX = "whsec_"
#: how far a timestamp may be from the receiver's clock (replay protection)
DEFAULT_TOLERANCE_SECONDS = 5 * 60
_MIN_KEY_BYTES = 16
_MAX_KEY_BYTES = 64


class WebhookVerificationError(ValueError):
    """A request that does not carry a valid signature; the message says what is wrong."""


def generate_secret(num_bytes: int = 32) -> str:
    """A new random signing secret, ``whsec_<base64>``."""
    if not _MIN_KEY_BYTES <= num_bytes <= _MAX_KEY_BYTES:
        raise ValueError(f"a secret has {_MIN_KEY_BYTES} to {_MAX_KEY_BYTES} bytes")
    return SECRET_PREFIX + base64.b64encode(os.urandom(num_bytes)).decode("ascii")


def parse_secret(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (the prefix is optional, as in the reference libraries)."""
    text = secret.strip()
    if text.startswith(SECRET_PREFIX):
        text = text[len(SECRET_PREFIX):]
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook secret: expected whsec_<base64>") from None
    if len(key) < _MIN_KEY_BYTES:
        raise ValueError(f"webhook secret: the key must have at least {_MIN_KEY_BYTES} bytes, got {len(key)}")
    return key


def _check_id(msg_id: str) -> None:
    if not msg_id or "." in msg_id or any(c.isspace() for c in msg_id):
        raise ValueError("webhook id: non-empty, without '.' or whitespace")


def sign(secret: str | bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256("<id>.<timestamp>.<body>")>``."""
    _check_id(msg_id)
    key = secret if isinstance(secret, bytes) else parse_secret(secret)
    signed = f"{msg_id}.{int(timestamp)}.".encode("utf-8") + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def sign_headers(secret: str | bytes, msg_id: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt (timestamp: now unless given)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sign(secret, msg_id, ts, body)}


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookVerificationError(f"missing header {name}")


def verify(
    secret: str | bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> str:
    """Check a received request; return its ``webhook-id``.

    Raises `WebhookVerificationError` when a header is missing, the timestamp
    is outside ``tolerance_seconds`` of `now`, or no ``v1`` signature matches
    (compared in constant time).
    """
    msg_id = _header(headers, "webhook-id")
    ts_text = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    try:
        ts = int(ts_text)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_seconds:
        raise WebhookVerificationError("webhook-timestamp is too old or too far in the future")
    try:
        expected = sign(secret, msg_id, ts, body).encode("ascii")
    except ValueError as exc:
        raise WebhookVerificationError(str(exc)) from None
    for candidate in signatures.split():
        version, _, _ = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(candidate.encode("ascii", "replace"), expected):
            return msg_id
    raise WebhookVerificationError("no matching v1 signature")
