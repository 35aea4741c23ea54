"""The one storage interface for evidence files (issue 15 §4): put bytes under their SHA-256,
get them back, delete them. Every file is personal data, so it is sealed (AES-GCM, `shared.pii`,
field ``attachment``) before it leaves the process: a copy of the store is unreadable without
intake's PII keys.

`LocalBlobStore` (the default) keeps ``<state dir>/attachments/<aa>/<sha256>`` files, written to a
temporary name and renamed, so a reader never sees half a file and two writers of the same content
leave one. A production store (any S3-compatible one) implements the same three methods; it is
not built here (see docs/reporter.md)."""
from __future__ import annotations

import asyncio
import base64
import os
import re
from pathlib import Path
from typing import Protocol

from shared.contracts.cases import Sealed
from shared.pii import Keyring

_SHA = re.compile(r"^[0-9a-f]{64}$")
FIELD = "attachment"


class BlobStore(Protocol):
    async def put(self, sha256: str, data: bytes) -> None: ...

    async def get(self, sha256: str) -> bytes | None: ...

    async def delete(self, sha256: str) -> bool: ...


class LocalBlobStore:
    def __init__(self, root: Path, keyring: Keyring) -> None:
        self.root = root
        self.keyring = keyring

    def path(self, sha256: str) -> Path:
        if not _SHA.match(sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256

    async def put(self, sha256: str, data: bytes) -> None:
        target = self.path(sha256)
        if target.exists():  # content-addressed: the same bytes are kept once
            return
        sealed = self.keyring.seal(base64.b64encode(data).decode("ascii"), field=FIELD).model_dump_json()
        await asyncio.to_thread(_write, target, sealed.encode("ascii"))

    async def get(self, sha256: str) -> bytes | None:
        target = self.path(sha256)
        try:
            raw = await asyncio.to_thread(target.read_bytes)
        except FileNotFoundError:
            return None
        return base64.b64decode(self.keyring.open(Sealed.model_validate_json(raw), field=FIELD))

    async def delete(self, sha256: str) -> bool:
        try:
            self.path(sha256).unlink()
            return True
        except FileNotFoundError:
            return False


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}")
    with open(tmp, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
