"""The one storage interface for files (issue 15 §4–5): put bytes under their SHA-256, get them
back, delete them. Intake's evidence files and custody's photos and documents of seized goods both
go through it; what a file may be (sniffed type, size, metadata stripped) is `shared.attachments`.

Backends (``SHUANGDA_BLOB_STORE``, `open_blobstore`):

- ``local`` (the default): `LocalBlobStore`, ``<root>/<aa>/<sha256>`` files under the state dir,
  written to a temporary name and renamed, so a reader never sees half a file and two writers of
  the same content leave one.
- ``s3``: `S3BlobStore`, any S3-compatible store through aiobotocore (``SHUANGDA_BLOB_S3_ENDPOINT``,
  ``…_BUCKET``, ``…_REGION``, ``…_ACCESS_KEY_ID``, ``…_SECRET_ACCESS_KEY``); objects are
  ``<prefix>/<aa>/<sha256>`` (the prefix names the service, so two services share a bucket and
  never each other's objects).

`SealedBlobStore` wraps either: every file is sealed (AES-GCM, `shared.pii`, field ``attachment``)
before it leaves the process, so a copy of the store is unreadable without the service's PII keys
(intake: a reporter's files are personal data). The sealed form on disk is what intake always wrote.
"""
from __future__ import annotations

import asyncio
import base64
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from shared.contracts.cases import Sealed

if TYPE_CHECKING:
    from shared.pii import Keyring

_SHA = re.compile(r"^[0-9a-f]{64}$")
FIELD = "attachment"
Backend = Literal["local", "s3"]


class BlobStore(Protocol):
    async def put(self, sha256: str, data: bytes) -> None: ...

    async def get(self, sha256: str) -> bytes | None: ...

    async def delete(self, sha256: str) -> bool: ...


def _checked(sha256: str) -> str:
    if not _SHA.match(sha256):
        raise ValueError("not a sha256 hex digest")
    return sha256


class LocalBlobStore:
    """Files under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / _checked(sha256)[:2] / sha256

    async def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    async def put(self, sha256: str, data: bytes) -> None:
        target = self.path(sha256)
        if target.exists():  # content-addressed: the same bytes are kept once
            return
        await asyncio.to_thread(_write, target, data)

    async def get(self, sha256: str) -> bytes | None:
        try:
            return await asyncio.to_thread(self.path(sha256).read_bytes)
        except FileNotFoundError:
            return None

    async def delete(self, sha256: str) -> bool:
        try:
            self.path(sha256).unlink()
            return True
        except FileNotFoundError:
            return False


class S3BlobStore:
    """Objects ``<prefix>/<aa>/<sha256>`` in `bucket` of an S3-compatible store (aiobotocore). One
    client for the store's life (`close` ends it); the bucket must exist (`ensure_bucket` makes it)."""

    def __init__(self, *, endpoint: str | None, bucket: str, region: str, access_key_id: str | None,
                 secret_access_key: str | None, prefix: str) -> None:
        self.endpoint, self.bucket, self.region, self.prefix = endpoint, bucket, region, prefix.strip("/")
        self._credentials = (access_key_id, secret_access_key)
        self._client: Any = None
        self._exit: Any = None
        self._lock = asyncio.Lock()

    def key(self, sha256: str) -> str:
        return f"{self.prefix}/{_checked(sha256)[:2]}/{sha256}" if self.prefix else f"{sha256[:2]}/{sha256}"

    async def _s3(self) -> Any:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    from aiobotocore.config import AioConfig
                    from aiobotocore.session import get_session

                    key_id, secret = self._credentials
                    context = get_session().create_client(
                        "s3", endpoint_url=self.endpoint, region_name=self.region, aws_access_key_id=key_id,
                        aws_secret_access_key=secret,
                        # path-style addressing and checksums only where required: what S3-compatible
                        # stores other than AWS understand (newer clients add checksum headers otherwise)
                        config=AioConfig(s3={"addressing_style": "path"}, retries={"max_attempts": 3},
                                         request_checksum_calculation="when_required",
                                         response_checksum_validation="when_required"))
                    self._client = await context.__aenter__()
                    self._exit = context.__aexit__
        return self._client

    async def close(self) -> None:
        if self._exit is not None:
            exit_, self._client, self._exit = self._exit, None, None
            await exit_(None, None, None)

    async def ensure_bucket(self) -> None:
        s3 = await self._s3()
        try:
            await s3.head_bucket(Bucket=self.bucket)
        except Exception as exc:  # botocore's ClientError: 404/NoSuchBucket → create it
            if _code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
                raise
            await s3.create_bucket(Bucket=self.bucket)

    async def exists(self, sha256: str) -> bool:
        s3 = await self._s3()
        try:
            await s3.head_object(Bucket=self.bucket, Key=self.key(sha256))
            return True
        except Exception as exc:
            if _code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise

    async def put(self, sha256: str, data: bytes) -> None:
        if await self.exists(sha256):  # content-addressed: the same bytes are kept once
            return
        await (await self._s3()).put_object(Bucket=self.bucket, Key=self.key(sha256), Body=data)

    async def get(self, sha256: str) -> bytes | None:
        s3 = await self._s3()
        try:
            answer = await s3.get_object(Bucket=self.bucket, Key=self.key(sha256))
        except Exception as exc:
            if _code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        async with answer["Body"] as body:
            return bytes(await body.read())

    async def delete(self, sha256: str) -> bool:
        if not await self.exists(sha256):
            return False
        await (await self._s3()).delete_object(Bucket=self.bucket, Key=self.key(sha256))
        return True


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


class SealedBlobStore:
    """`inner` with every file sealed under `keyring` (field ``attachment``) before it is stored."""

    def __init__(self, inner: LocalBlobStore | S3BlobStore, keyring: "Keyring") -> None:
        self.inner, self.keyring = inner, keyring

    def path(self, sha256: str) -> Path:  # the local backend's file (tests, the PII tools)
        return self.inner.path(sha256)  # type: ignore[union-attr]

    async def put(self, sha256: str, data: bytes) -> None:
        if await self.inner.exists(sha256):
            return
        sealed = self.keyring.seal(base64.b64encode(data).decode("ascii"), field=FIELD).model_dump_json()
        await self.inner.put(sha256, sealed.encode("ascii"))

    async def get(self, sha256: str) -> bytes | None:
        raw = await self.inner.get(sha256)
        if raw is None:
            return None
        return base64.b64decode(self.keyring.open(Sealed.model_validate_json(raw), field=FIELD))

    async def delete(self, sha256: str) -> bool:
        return await self.inner.delete(sha256)

    async def close(self) -> None:
        if isinstance(self.inner, S3BlobStore):
            await self.inner.close()


def open_blobstore(settings: Any, *, root: Path, prefix: str, keyring: "Keyring | None" = None) -> BlobStore:
    """The store `settings` choose (``blob_store``: local under `root`, or s3 with objects under
    `prefix`), sealed under `keyring` when given."""
    store: LocalBlobStore | S3BlobStore
    if settings.blob_store == "s3":
        if not settings.blob_s3_bucket:
            raise ValueError("SHUANGDA_BLOB_STORE=s3 needs SHUANGDA_BLOB_S3_BUCKET")
        secret = settings.blob_s3_secret_access_key
        store = S3BlobStore(endpoint=settings.blob_s3_endpoint, bucket=settings.blob_s3_bucket,
                            region=settings.blob_s3_region, access_key_id=settings.blob_s3_access_key_id,
                            secret_access_key=secret.get_secret_value() if secret else None, prefix=prefix)
    else:
        store = LocalBlobStore(root)
    return SealedBlobStore(store, keyring) if keyring is not None else store


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}")
    with open(tmp, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)


async def prepare(settings: Any, *, prefix: str) -> None:
    """At ``shuangda migrate``: the S3 bucket exists (created when missing); nothing for a local store."""
    if settings.blob_store != "s3":
        return
    store = open_blobstore(settings, root=Path("."), prefix=prefix)
    assert isinstance(store, S3BlobStore)
    try:
        await store.ensure_bucket()
    finally:
        await store.close()
