"""The blob store's S3 backend (shared/blobstore.py) against a real S3-compatible server, S3Proxy on
its filesystem backend (tests/support/s3.py), through the same settings a service reads
(``SHUANGDA_BLOB_STORE=s3``): content-addressed put, get, delete; a sealed file is unreadable in
the bucket's own files; a missing object is None. Skipped only outside CI when no Java or Maven is
there to run the server."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterator

import pytest

from shared.blobstore import S3BlobStore, SealedBlobStore, open_blobstore
from shared.pii import keyring_from_config
from tests.support import s3

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[s3.S3Server]:
    try:
        with s3.s3_server(tmp_path_factory.mktemp("s3proxy")) as running:
            yield running
    except s3.Unavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no S3-compatible server here (outside CI only): {exc}")


def settings(server: s3.S3Server, bucket: str) -> object:
    from services.custody.settings import CustodySettings

    return CustodySettings(blob_store="s3", blob_s3_endpoint=server.endpoint, blob_s3_bucket=bucket,
                           blob_s3_access_key_id=server.access_key_id,
                           blob_s3_secret_access_key=server.secret_access_key)


async def test_files_are_put_once_by_content_read_back_and_deleted_on_a_real_s3_server(
        server: s3.S3Server, unique: str, tmp_path: Path) -> None:
    store = open_blobstore(settings(server, f"b{unique}"), root=tmp_path, prefix="custody")
    assert isinstance(store, S3BlobStore)
    try:
        await store.ensure_bucket()
        data = b"%PDF-1.4 seized goods list " + unique.encode()
        digest = hashlib.sha256(data).hexdigest()
        assert await store.get(digest) is None
        await store.put(digest, data)
        await store.put(digest, data)  # the same content again: kept once
        assert await store.get(digest) == data
        kept = list(server.basedir.rglob(digest))
        assert len(kept) == 1 and "custody" in str(kept[0]), "an object <prefix>/<aa>/<sha256> in the bucket"
        assert await store.delete(digest) is True and await store.get(digest) is None
        assert await store.delete(digest) is False
        assert not list(server.basedir.rglob(digest))
        assert not list(tmp_path.iterdir()), "nothing in the local directory"
    finally:
        await store.close()


async def test_a_sealed_file_on_s3_is_unreadable_in_the_buckets_own_files(server: s3.S3Server, unique: str,
                                                                         tmp_path: Path) -> None:
    keyring = keyring_from_config(None, dev=True)
    store = open_blobstore(settings(server, f"s{unique}"), root=tmp_path, prefix="intake", keyring=keyring)
    assert isinstance(store, SealedBlobStore)
    try:
        assert isinstance(store.inner, S3BlobStore)
        await store.inner.ensure_bucket()
        data = b"\xff\xd8\xff photo of a receipt " + unique.encode()
        digest = hashlib.sha256(data).hexdigest()
        await store.put(digest, data)
        assert await store.get(digest) == data
        (raw,) = [p.read_bytes() for p in server.basedir.rglob(digest)]
        assert unique.encode() not in raw and b"receipt" not in raw
    finally:
        await store.close()
