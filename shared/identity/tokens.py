"""API key tokens: one format for every key issued from now on, and the three
formats of the stores this one replaced, so a key issued before keeps working.

    sd1_<key id>_<secret>     key id: 16 of a-z2-7 (public: finds the key row)
                              secret: 43 URL-safe characters (256 random bits)

Only a SHA-256 of the secret is stored (256 random bits make a slow hash
pointless); comparison is constant-time. The legacy formats:

    intake-v0   sdk_<12 of intake's alphabet>_<secret>   stored: sha256(whole token)
    routing-v0  sdk_<16 hex>_<secret>                     stored: sha256(secret)
    credit-v0   <client id>.<secret>                      stored: sha256(secret)

Pure: no I/O.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "sd1"
_KEY_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_KEY_ID_LEN = 16
_MAX_TOKEN = 300

_V1 = re.compile(rf"^{PREFIX}_([a-z2-7]{{{_KEY_ID_LEN}}})_([A-Za-z0-9_-]{{43}})$")
_INTAKE_V0 = re.compile(r"^sdk_([abcdefghijkmnpqrstuvwxyz23456789]{12})_([A-Za-z0-9_-]{1,100})$")
_ROUTING_V0 = re.compile(r"^sdk_([0-9a-f]{16})_([A-Za-z0-9_-]{32,64})$")
_CREDIT_V0 = re.compile(r"^([a-z0-9][a-z0-9_@-]{0,99})\.([A-Za-z0-9_-]{20,100})$")


@dataclass(frozen=True)
class Presented:
    """A token as presented: which key row to look up and what to compare with its hash."""

    key_id: str
    scheme: str
    digest: bytes


@dataclass(frozen=True)
class NewKey:
    key_id: str
    token: str  # shown once, never stored
    secret_hash: bytes


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def new_key() -> NewKey:
    key_id = "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(_KEY_ID_LEN))
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, f"{PREFIX}_{key_id}_{secret}", digest(secret))


def parse(token: str) -> Presented | None:
    """The key row and digest a presented token stands for, or None if it is shaped like no key of ours."""
    if not token or len(token) > _MAX_TOKEN or not token.isascii():
        return None
    if m := _V1.match(token):
        return Presented(m.group(1), "v1", digest(m.group(2)))
    if m := _ROUTING_V0.match(token):
        return Presented(f"routing:{m.group(1)}", "routing-v0", digest(m.group(2)))
    if m := _INTAKE_V0.match(token):
        return Presented(f"intake:{m.group(1)}", "intake-v0", digest(token))
    if m := _CREDIT_V0.match(token):
        return Presented(f"credit:{m.group(1)}", "credit-v0", digest(m.group(2)))
    return None


def matches(presented: Presented, scheme: str, stored: bytes) -> bool:
    """Constant-time check of a presented token against a stored key row."""
    same = hmac.compare_digest(presented.digest, bytes(stored))
    return same and presented.scheme == scheme


def bearer_token(authorization: str | None, api_key: str | None) -> str | None:
    """The token from ``Authorization: Bearer <token>`` or ``X-API-Key: <token>``."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    if api_key and api_key.strip():
        return api_key.strip()
    return None
