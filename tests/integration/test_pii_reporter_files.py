"""``shuangda pii export|erase`` reach the reporter's evidence files (issue 15 §4 with issue 12 §4):
the access request returns them, the erasure deletes their rows and blobs, audited."""
from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.attachments import strip_jpeg
from shared.config import REPO_ROOT
from tests.support import stack
from tests.support.evidence import jpeg_with_exif
from tests.support.intake import IntakeWorld, running_intake

pytestmark = pytest.mark.stack


def cli(blobs: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHUANGDA_DEV": "true", "PYTHONPATH": str(REPO_ROOT), "SHUANGDA_PG_DSN": stack.dsn(),
           "SHUANGDA_INTAKE_ATTACHMENTS_DIR": str(blobs)}
    return subprocess.run([sys.executable, "-m", "deploy.cli", "pii", *args], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


async def test_a_complainant_s_photo_is_in_the_export_and_gone_with_its_blob_after_the_erasure(
        unique: str, tmp_path: Path) -> None:
    world = IntakeWorld(unique, attachments_dir=tmp_path)
    await world.create()
    key = await world.add_client("hotline", "hotline", ["complaints:write"], topic=False)
    async with running_intake(world, consume=False) as svc:
        filed = await svc.http.post("/v1/complaints", headers={"X-API-Key": key}, json={
            "category": "cosmetics", "county": "610403", "suspect": {"name": f"杨陵{unique[:4]}化妆品店"},
            "description": "买到假冒化妆品", "complainant": {"name": "赵六", "phone": "13987654321"}})
        tracking = filed.json()["tracking_no"]
        up = await svc.http.post(f"/v1/complaints/{tracking}/attachments", content=jpeg_with_exif(),
                                 headers={"X-API-Key": key})
        assert up.status_code == 201, up.text
    digest = up.json()["sha256"]
    assert (tmp_path / digest[:2] / digest).exists()

    exported = await asyncio.to_thread(cli, tmp_path, "export", "--tracking-no", tracking, "--schema", world.schema)
    assert exported.returncode == 0, exported.stderr
    [photo] = json.loads(exported.stdout)["attachments"]
    assert base64.b64decode(photo["content_base64"]) == strip_jpeg(jpeg_with_exif())[0]

    erased = await asyncio.to_thread(cli, tmp_path, "erase", "--tracking-no", tracking, "--schema", world.schema,
                                     "--reason", "PIPL request 2026-003", "--actor", "ops-1")
    assert erased.returncode == 0, erased.stderr
    out = json.loads(erased.stdout)
    assert (out["files_erased"], out["blobs_deleted"]) == (1, 1)
    assert not (tmp_path / digest[:2] / digest).exists()
    assert await world.fetch("SELECT 1 FROM attachments") == []
    kinds = [r["kind"] for r in await world.fetch("SELECT kind FROM audit_log ORDER BY seq")]
    assert "pii.files-erased" in kinds
