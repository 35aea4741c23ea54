"""Photos and documents of seized goods and of a destruction record (issue 15) on the real database,
through the one blob store (shared/blobstore.py) and intake's file rules (shared/attachments.py):
the type sniffed from the bytes, photo metadata stripped before the file is kept, size and count
limits, the same content kept once; a destruction is recorded only with photos added to its plan."""
from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest

from shared import audit
from shared.db import connect
from tests.support import evidence
from tests.support.custody import CustodyWorld

pytestmark = pytest.mark.stack

ITEMS = [{"description": "假冒农药", "quantity": "30", "unit": "瓶", "declared_value": "900.00"}]


def refused(r: Any, status: int, reason: str, field: str = "file") -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (r.json()["errors"][0]["field"], r.json()["errors"][0]["reason"]) == (field, reason), r.json()


async def test_a_lots_photo_is_kept_without_its_exif_and_shown_only_to_who_may_see_the_lot(unique: str) -> None:
    world = CustodyWorld(unique)
    world.settings = world.settings.model_copy(update={"file_max_bytes": 4096, "file_max_count": 2})
    await world.create()
    bureau, other = await world.key("bureau", "market_regulation"), await world.key("bureau", "food_drug")
    async with world.running() as (http, _parts):
        case = await world.open_case(f"case-{unique}")
        lot = (await http.post("/v1/lots", headers=bureau, json={"case_id": case, "hazard": "toxic_harmful",
                                                                 "location": "危化品仓 1", "items": ITEMS})).json()
        lid = lot["lot_id"]
        photo = evidence.jpeg_with_exif()
        r = await http.post(f"/v1/lots/{lid}/files?kind=photo", headers=bureau | {"content-type": "application/pdf"},
                            content=photo)
        assert r.status_code == 201, r.text
        kept = r.json()
        assert kept["content_type"] == "image/jpeg" and "exif" in kept["removed"] and kept["kind"] == "photo"
        again = await http.post(f"/v1/lots/{lid}/files?kind=photo", headers=bureau, content=photo)
        assert again.status_code == 200 and again.json()["sha256"] == kept["sha256"], "the same content: kept once"

        got = await http.get(f"/v1/lots/{lid}/files/{kept['sha256']}", headers=bureau)
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
        assert evidence.GPS_MARK not in got.content and hashlib.sha256(got.content).hexdigest() == kept["sha256"]
        assert (await http.get(f"/v1/lots/{lid}/files/{kept['sha256']}", headers=other)).status_code == 404
        stored = list(world.settings.files_dir.rglob(kept["sha256"]))
        assert len(stored) == 1 and evidence.GPS_MARK not in stored[0].read_bytes()

        refused(await http.post(f"/v1/lots/{lid}/files?kind=photo", headers=bureau, content=evidence.pdf()),
                415, "not_a_photo")
        refused(await http.post(f"/v1/lots/{lid}/files?kind=document", headers=bureau, content=b"#!/bin/sh\nrm -rf /"),
                415, "unsupported_type")
        refused(await http.post(f"/v1/lots/{lid}/files?kind=document", headers=bureau, content=b"%PDF-" + b"x" * 5000),
                413, "too_large")
        assert (await http.post(f"/v1/lots/{lid}/files?kind=document", headers=bureau,
                                content=evidence.pdf())).status_code == 201
        refused(await http.post(f"/v1/lots/{lid}/files?kind=photo", headers=bureau, content=evidence.png_with_text()),
                409, "too_many")
        assert (await http.post(f"/v1/lots/{lid}/files?kind=photo", headers=other, content=photo)).status_code == 404
        bad = await http.post(f"/v1/lots/{lid}/files?kind=selfie", headers=bureau, content=photo)
        assert bad.status_code == 422 and "kind" in bad.text

        shown = (await http.get(f"/v1/lots/{lid}", headers=bureau)).json()["files"]
        assert [(f["kind"], f["content_type"]) for f in shown] == [("photo", "image/jpeg"), ("document", "application/pdf")]

    conn = await connect(world.settings.dsn, world.settings.schema)
    try:
        kinds = [e.kind for e in await audit.entries(conn, lid)]
        assert await audit.verify(conn) is None
    finally:
        await conn.close()
    assert kinds.count("custody.file_added") == 2


async def test_a_destruction_is_recorded_only_with_photos_added_to_its_approved_plan(unique: str) -> None:
    world = CustodyWorld(unique)
    await world.create()
    bureau, office = await world.key("bureau", "market_regulation"), await world.key("office", "office")
    async with world.running() as (http, _parts):
        case = await world.open_case(f"case-{unique}")
        lid = (await http.post("/v1/lots", headers=bureau, json={"case_id": case, "hazard": "toxic_harmful",
                                                                 "location": "危化品仓 1", "items": ITEMS})).json()["lot_id"]
        await http.post(f"/v1/lots/{lid}/decision", headers=bureau,
                        json={"outcome": "destroyed", "document_no": "咸市监罚〔2026〕9号", "decided_on": "2026-12-01"})
        tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
        pid = (await http.post("/v1/destruction-plans", headers=bureau, json={
            "lot_ids": [lid], "scheduled_on": tomorrow, "facility": "危废处置中心", "witnesses": ["甲", "乙"]})).json()["plan_id"]
        refused(await http.post(f"/v1/destruction-plans/{pid}/files", headers=bureau, content=evidence.png_with_text()),
                409, "not_approved", "plan")
        assert (await http.post(f"/v1/destruction-plans/{pid}:approve", headers=office)).status_code == 200
        photo = await http.post(f"/v1/destruction-plans/{pid}/files", headers=bureau, content=evidence.png_with_text())
        assert photo.status_code == 201 and set(photo.json()["removed"]) >= {"text", "exif"}, photo.text
        digest = photo.json()["sha256"]

        never = hashlib.sha256(b"elsewhere").hexdigest()
        refused(await http.post(f"/v1/destruction-plans/{pid}:record", headers=bureau,
                                json={"photos": [digest, never], "environmental_cost": "500.00"}),
                409, "not_uploaded", "photos.1")
        done = await http.post(f"/v1/destruction-plans/{pid}:record", headers=bureau,
                               json={"photos": [digest], "environmental_cost": "500.00"})
        assert done.status_code == 200 and done.json()["record_photos"] == [digest], done.text
        got = await http.get(f"/v1/destruction-plans/{pid}/files/{digest}", headers=office)
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"
