"""API keys: ``sdk_<key id>_<secret>``. The key id (public) finds the client;
only a SHA-256 of the whole key is stored, compared in constant time. 256
random bits make a plain hash as strong as a slow one."""
from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX = "sdk"
_KEY_ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
_KEY_ID_LEN = 12


def new_api_key() -> tuple[str, str]:
    """A new (key id, key) pair; the key is shown once and never stored."""
    key_id = "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(_KEY_ID_LEN))
    return key_id, f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def key_id_of(presented: str) -> str | None:
    """The key id inside a presented key, or None if it is not shaped like one of ours."""
    if len(presented) > 200 or not presented.isascii():
        return None
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != _KEY_ID_LEN or not parts[2]:
        return None
    if any(ch not in _KEY_ID_ALPHABET for ch in parts[1]):
        return None
    return parts[1]


def verify(presented: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(key_hash(presented), stored_hash)
