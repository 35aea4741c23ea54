"""Field-level encryption of personal data (DESIGN.md, Security).

Complainants' names, phone numbers and identity numbers are sealed with
AES-GCM before they are stored or published; only holders of the keys can
open them (intake seals, notify opens phones to send messages). A sealed
value is a `shared.contracts.cases.Sealed`: the key id, a fresh 96-bit nonce
and the ciphertext with its tag, both base64url.

Keys come from configuration as ``kid1:base64key,kid0:base64key`` — the
first is the current key (used to seal), the others are kept to open values
sealed before a rotation. Keys are 16, 24 or 32 bytes (AES-128/192/256);
`generate_key()` makes a 32-byte one. In dev mode only, a fixed development
key is used when none is configured (`keyring_from_config`).

Each value is bound to its field (``name``, ``phone``, ``id_number`` …) as
associated data, so a ciphertext cannot be moved to another field. Nothing
here logs, and no error message contains a plaintext.

    ring = Keyring.parse("k2:" + generate_key() + ",k1:" + old_key)
    sealed = ring.seal("13800138000", field="phone")
    ring.open(sealed, field="phone")          # '13800138000'

Personal data keys (crypto-shredding, issue 12 §4). A complainant's fields are sealed with a data key
of that person (`DataKey`, AES-256-GCM), not with the service key; the data key is kept only wrapped
by the service keyring (envelope encryption) in the key store (`shared.vault`). A value sealed with a
data key carries the data key's id as its ``kid`` (``pk_`` + 24 hex digits), so the `Sealed` shape is
unchanged and values sealed under the service key (before data keys) still open with the keyring.
Destroying the data key (``shuangda pii erase``) makes every copy unreadable at once — on Kafka, in
every service's tables — and `Opener.open` then raises `Erased`; `Opener.reveal` gives `ERASED`.

    key, wrapped = new_data_key(ring)          # store (key.id, wrapped) in the vault
    sealed = key.seal("13800138000", field="phone")
    Opener(ring, {key.id: wrapped}).open(sealed, field="phone")   # '13800138000'
    Opener(ring, {key.id: None}).reveal(sealed, field="phone")   # '[erased]'
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from typing import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.contracts.cases import Sealed

__all__ = ["DATA_KEY_PREFIX", "DEV_KEY_ID", "ERASED", "DataKey", "Erased", "Keyring", "Opener", "PiiError", "Sealed",
           "data_key_ids", "generate_key", "is_data_key_id", "keyring_from_config", "new_data_key"]

_AAD_PREFIX = b"shuangda/pii/v1/"
_NONCE_BYTES = 12
_KID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_FIELD = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
#: the kid of a value sealed with a person's data key starts with this (service key ids may not)
DATA_KEY_PREFIX = "pk_"
_DATA_KEY_ID = re.compile(r"^pk_[0-9a-f]{24}$")
#: what `Opener.reveal` shows for a field whose data key was destroyed
ERASED = "[erased]"

#: The key id of the development key; a value sealed with it is not protected.
DEV_KEY_ID = "dev0"
_DEV_KEY = hashlib.sha256(b"shuangda development PII key - never use outside dev mode").digest()


class PiiError(Exception):
    """A key specification is malformed, or a sealed value cannot be opened.

    The message names the problem (unknown key id, tampered or wrong field)
    and never includes key material or plaintext."""


def generate_key() -> str:
    """A new random 256-bit key, base64 (standard alphabet), for the key spec."""
    return base64.b64encode(os.urandom(32)).decode("ascii")


def _b64decode(text: str) -> bytes:
    """Standard or URL-safe base64, padding optional."""
    padded = text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise PiiError("not valid base64") from None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _aad(field: str) -> bytes:
    if not _FIELD.match(field):
        raise PiiError(f"field name {field!r}: lower-case letters, digits and '_' only")
    return _AAD_PREFIX + field.encode("ascii")


class Keyring:
    """The current sealing key and older keys kept for opening."""

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        if current not in keys:
            raise PiiError(f"current key id {current!r} has no key")
        self._ciphers: dict[str, AESGCM] = {}
        for kid, key in keys.items():
            if not _KID.match(kid):
                raise PiiError(f"key id {kid!r}: use 1-32 of A-Z, a-z, 0-9, '_', '.', '-'")
            if kid.startswith(DATA_KEY_PREFIX):
                raise PiiError(f"key id {kid!r}: the prefix {DATA_KEY_PREFIX!r} is reserved for personal data keys")
            if len(key) not in (16, 24, 32):
                raise PiiError(f"key {kid!r}: must be 16, 24 or 32 bytes, got {len(key)}")
            self._ciphers[kid] = AESGCM(key)
        self.current = current

    @classmethod
    def parse(cls, spec: str) -> "Keyring":
        """Parse ``kid1:base64key,kid0:base64key`` (first = current)."""
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for n, part in enumerate(p.strip() for p in spec.split(",")):
            if not part:
                continue
            kid, sep, encoded = part.partition(":")
            kid = kid.strip()
            if not sep or not kid or not encoded.strip():
                raise PiiError(f"key entry {n + 1}: expected kid:base64key")
            if kid in keys:
                raise PiiError(f"key id {kid!r} appears twice")
            try:
                keys[kid] = _b64decode(encoded.strip())
            except PiiError:
                raise PiiError(f"key {kid!r}: not valid base64") from None
            order.append(kid)
        if not order:
            raise PiiError("no keys given (expected kid:base64key[,kid:base64key…])")
        return cls(keys, order[0])

    @classmethod
    def development(cls) -> "Keyring":
        """The fixed development keyring (dev mode only: it protects nothing)."""
        return cls({DEV_KEY_ID: _DEV_KEY}, DEV_KEY_ID)

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._ciphers)

    def seal(self, plaintext: str, *, field: str) -> Sealed:
        """Encrypt `plaintext` for `field` with the current key."""
        nonce = os.urandom(_NONCE_BYTES)
        ciphertext = self._ciphers[self.current].encrypt(nonce, plaintext.encode("utf-8"), _aad(field))
        return Sealed(kid=self.current, nonce=_b64url(nonce), ciphertext=_b64url(ciphertext))

    def open(self, sealed: Sealed, *, field: str) -> str:
        """Decrypt a value sealed for `field`; `PiiError` if the key is unknown or the value was altered.
        A value sealed with a person's data key needs an `Opener` (its key is in the vault)."""
        if is_data_key_id(sealed.kid):
            raise PiiError(f"sealed {field} is under a personal data key: open it through shared.vault")
        cipher = self._ciphers.get(sealed.kid)
        if cipher is None:
            raise PiiError(f"no key with id {sealed.kid!r} in the keyring")
        nonce = _b64decode(sealed.nonce)
        if len(nonce) != _NONCE_BYTES:
            raise PiiError("nonce must be 12 bytes")
        try:
            return cipher.decrypt(nonce, _b64decode(sealed.ciphertext), _aad(field)).decode("utf-8")
        except InvalidTag:
            raise PiiError(f"sealed {field} does not open: altered, or sealed for another field or key") from None

    def reseal(self, sealed: Sealed, *, field: str) -> Sealed:
        """Open with whichever key sealed it and seal again with the current key (rotation)."""
        if sealed.kid == self.current:
            return sealed
        return self.seal(self.open(sealed, field=field), field=field)

    def __repr__(self) -> str:  # never show key material
        return f"Keyring(current={self.current!r}, key_ids={list(self._ciphers)!r})"


class Erased(PiiError):
    """The value was sealed with a person's data key that has been destroyed (erasure): it can never be
    opened again. Not an error of the caller or of the data: show `ERASED`, skip the delivery."""


def is_data_key_id(kid: str) -> bool:
    return bool(_DATA_KEY_ID.match(kid))


def _data_aad(key_id: str, field: str) -> bytes:
    return _aad(field) + b"/" + key_id.encode("ascii")


def _wrap_field(key_id: str) -> str:
    return "dk_" + key_id[len(DATA_KEY_PREFIX):]  # the wrapped key is bound to its id


class DataKey:
    """One person's data key: seals that person's fields (AES-256-GCM, bound to field and key id)."""

    def __init__(self, key_id: str, key: bytes) -> None:
        if not is_data_key_id(key_id) or len(key) != 32:
            raise PiiError("a data key is 'pk_' + 24 hex digits with 32 bytes of key")
        self.id = key_id
        self._cipher = AESGCM(key)

    def seal(self, plaintext: str, *, field: str) -> Sealed:
        nonce = os.urandom(_NONCE_BYTES)
        ciphertext = self._cipher.encrypt(nonce, plaintext.encode("utf-8"), _data_aad(self.id, field))
        return Sealed(kid=self.id, nonce=_b64url(nonce), ciphertext=_b64url(ciphertext))

    def open(self, sealed: Sealed, *, field: str) -> str:
        if sealed.kid != self.id:
            raise PiiError("sealed with another data key")
        nonce = _b64decode(sealed.nonce)
        if len(nonce) != _NONCE_BYTES:
            raise PiiError("nonce must be 12 bytes")
        try:
            return self._cipher.decrypt(nonce, _b64decode(sealed.ciphertext), _data_aad(self.id, field)).decode("utf-8")
        except InvalidTag:
            raise PiiError(f"sealed {field} does not open: altered, or sealed for another field") from None

    def __repr__(self) -> str:
        return f"DataKey({self.id!r})"


def new_data_key(keyring: Keyring) -> tuple[DataKey, Sealed]:
    """A fresh data key and the same key wrapped (sealed) by the keyring's current key, for the vault."""
    key_id = DATA_KEY_PREFIX + os.urandom(12).hex()
    key = os.urandom(32)
    return DataKey(key_id, key), keyring.seal(base64.b64encode(key).decode("ascii"), field=_wrap_field(key_id))


def unwrap(keyring: Keyring, key_id: str, wrapped: Sealed) -> DataKey:
    """The data key `key_id` from its wrapped form (`PiiError` if the keyring cannot open it)."""
    return DataKey(key_id, _b64decode(keyring.open(wrapped, field=_wrap_field(key_id))))


def data_key_ids(values: object) -> set[str]:
    """The data key ids of every `Sealed` (or its JSON dict) found in `values` (nested dicts/lists)."""
    found: set[str] = set()
    stack = [values]
    while stack:
        v = stack.pop()
        if isinstance(v, Sealed):
            if is_data_key_id(v.kid):
                found.add(v.kid)
        elif isinstance(v, dict):
            kid = v.get("kid")
            if isinstance(kid, str) and is_data_key_id(kid) and "ciphertext" in v:
                found.add(kid)
            else:
                stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
    return found


class Opener:
    """Opens sealed values of both kinds: under the service keyring (values sealed before data keys, kept
    readable) and under persons' data keys, given those keys as the vault returned them: ``{key id:
    wrapped key}``, ``None`` for a destroyed key. The one way consumers open personal data."""

    def __init__(self, keyring: Keyring, wrapped: Mapping[str, Sealed | None]) -> None:
        self.keyring = keyring
        self._wrapped = dict(wrapped)
        self._keys: dict[str, DataKey] = {}

    def open(self, sealed: Sealed, *, field: str) -> str:
        """The clear value; `Erased` if its person's key was destroyed, `PiiError` if it cannot be opened."""
        if not is_data_key_id(sealed.kid):
            return self.keyring.open(sealed, field=field)
        try:
            key = self.data_key(sealed.kid)
        except Erased:
            raise Erased(f"the {field} was erased (its data key is destroyed)") from None
        return key.open(sealed, field=field)

    def data_key(self, key_id: str) -> DataKey:
        """The data key `key_id` itself (to seal more of that person's data under it); `Erased` if it was
        destroyed, `PiiError` if the key store does not hold it."""
        key = self._keys.get(key_id)
        if key is None:
            if key_id not in self._wrapped:
                raise PiiError("the data key of this value is not in the key store")
            wrapped = self._wrapped[key_id]
            if wrapped is None:
                raise Erased("the data key is destroyed (erased)")
            key = self._keys[key_id] = unwrap(self.keyring, key_id, wrapped)
        return key

    def sealer(self, values: object) -> "Keyring | DataKey":
        """What seals more personal data of the person whose sealed `values` these are (a record's
        complainant): their data key, or the service keyring when the values predate data keys (or
        hold no sealed value). `Erased` if the key was destroyed; `PiiError` if `values` name two keys."""
        ids = data_key_ids(values)
        if not ids:
            return self.keyring
        if len(ids) > 1:
            raise PiiError("these values are sealed under more than one data key")
        return self.data_key(next(iter(ids)))

    def reveal(self, sealed: Sealed, *, field: str) -> str:
        """Like `open`, but a destroyed key gives the `ERASED` marker instead of an exception."""
        try:
            return self.open(sealed, field=field)
        except Erased:
            return ERASED

    def erased(self, sealed: Sealed) -> bool:
        return is_data_key_id(sealed.kid) and sealed.kid in self._wrapped and self._wrapped[sealed.kid] is None


def keyring_from_config(spec: str | None, *, dev: bool) -> Keyring:
    """The keyring for a service: the configured spec, the development key in dev mode, or an error."""
    if spec:
        return Keyring.parse(spec)
    if dev:
        return Keyring.development()
    raise PiiError("PII keys are required outside dev mode (set SHUANGDA_<SERVICE>_PII_KEYS or SHUANGDA_PII_KEYS)")
