"""Password hashes (argon2id, argon2-cffi) and the sealing of the principals' API keys at rest."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

_HASHER = PasswordHasher()
#: verified when the username is unknown, so an unknown name takes as long as a wrong password
_DUMMY = _HASHER.hash(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return _HASHER.verify(password_hash or _DUMMY, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


class KeySeal:
    """Encrypts the API keys the console holds for its accounts (Fernet, key derived from the secret)."""

    def __init__(self, secret: bytes) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"shuangda-console-keys:" + secret).digest()))

    def seal(self, token: str) -> bytes:
        return self._fernet.encrypt(token.encode("utf-8"))

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(sealed)).decode("utf-8")
        except InvalidToken:
            raise RuntimeError("the console's secret_key changed: its stored API keys cannot be read") from None


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()
