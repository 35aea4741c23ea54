"""Evidence attachments on intake's real HTTP app, database and broker (issue 15 §4)."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from services.intake.adapters.http_attachments import LAST4_HEADER
from shared.attachments import strip_jpeg
from shared.contracts.cases import Suspect
from shared.contracts.routing import CaseAssigned
from tests.support import identity, stack
from tests.support.evidence import GPS_MARK, jpeg_with_exif, pdf, png_with_text
from tests.support.intake import IntakeWorld, running_intake

pytestmark = pytest.mark.stack


def complaint() -> dict[str, Any]:
    return {"category": "trademarks", "county": "610402", "description": "在秦都区某店买到假冒名牌运动鞋",
            "suspect": {"name": "咸阳某某鞋店"}, "complainant": {"name": "李四", "phone": "13912345678"}}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assigned(case_id: str, bureau: str, n: int) -> CaseAssigned:
    import datetime as dt

    return CaseAssigned(case_id=case_id, assignment_no=n, assigned_at=dt.datetime.now(dt.timezone.utc), bureau=bureau,
                        bureau_type=bureau.split("@")[0], jurisdiction=bureau.split("@")[1], level="county",
                        category="trademarks", county="610402", counties=["610402"], origin="complaint",
                        suspect=Suspect(name="咸阳某某鞋店"), directory_version="t", rules_version="t")


async def test_a_photo_is_kept_without_its_exif_sealed_and_content_addressed_and_only_the_assigned_bureau_reads_it(
        unique: str, tmp_path: Path) -> None:
    routing_topic = f"test.case.routing.{unique}"
    world = IntakeWorld(unique, routing_topic=routing_topic, attachments_dir=tmp_path / "blobs")
    await world.create()
    hotline = await world.add_client("hot", "hotline", ["complaints:write", "complaints:read"], topic=False)
    portal = await world.add_client("web", "hotline", ["complaints:write"], topic=False)
    bureau = await world.add_client("amr", "bureau", ["cases:read"], topic=False)  # market_regulation@610402
    other = await identity.issue_key(world.identity_schema, f"{world.prefix}-other", "bureau",
                                     scopes=("cases:read",), bureau="market_regulation@610403")
    async with running_intake(world) as intake:
        receipt = (await intake.http.post("/v1/complaints", json=complaint(), headers=auth(hotline))).json()
        url = f"/v1/complaints/{receipt['tracking_no']}/attachments"

        photo = jpeg_with_exif()
        first = await intake.http.post(url, content=photo, headers={**auth(hotline), "Content-Type": "image/png"})
        assert first.status_code == 201, first.text
        body = first.json()
        kept, _ = strip_jpeg(photo)
        assert body["content_type"] == "image/jpeg", "sniffed from the bytes, not the header's image/png"
        assert set(body["removed"]) == {"exif", "comment"}
        assert body["sha256"] == hashlib.sha256(kept).hexdigest() and GPS_MARK not in kept
        blob = (tmp_path / "blobs" / body["sha256"][:2] / body["sha256"]).read_bytes()
        assert b"pixels" not in blob and b"JFIF" not in blob, "the stored file is sealed"

        again = await intake.http.post(url, content=photo, headers=auth(hotline))
        assert again.status_code == 200 and again.json()["attachment_id"] == body["attachment_id"]

        script = await intake.http.post(url, content=b"<script>alert(1)</script>",
                                        headers={**auth(hotline), "Content-Type": "image/png"})
        assert script.status_code == 415
        assert script.headers["content-type"].startswith("application/problem+json")
        assert script.json()["errors"][0]["field"] == "file"
        assert script.json()["errors"][0]["reason"] == "unsupported_type"

        # another channel: the tracking number is not enough, the phone's last 4 digits are needed
        assert (await intake.http.post(url, content=pdf(), headers=auth(portal))).status_code == 404
        wrong = await intake.http.post(url, content=pdf(), headers={**auth(portal), "X-Reporter-Last4": "0000"})
        assert wrong.status_code == 404
        later = await intake.http.post(url, content=png_with_text(), headers={**auth(portal), "X-Reporter-Last4": "5678"})
        assert later.status_code == 201 and set(later.json()["removed"]) == {"text", "exif"}

        case_id = receipt["case_id"]
        listing = f"/v1/cases/{case_id}/attachments"
        assert (await intake.http.get(listing, headers=auth(bureau))).status_code == 404, "not assigned yet"

        await stack.produce(routing_topic, [stack.event_record(assigned(case_id, "market_regulation@610402", 1),
                                                               type=CaseAssigned.EVENT_TYPE, key=case_id)])

        async def seen() -> int:
            return (await intake.http.get(listing, headers=auth(bureau))).status_code

        await stack.eventually(seen, until=lambda s: s == 200, what="the assignee sees the files")
        files = (await intake.http.get(listing, headers=auth(bureau))).json()
        assert [f["content_type"] for f in files] == ["image/jpeg", "image/png"]
        got = await intake.http.get(f"{listing}/{body['attachment_id']}", headers=auth(bureau))
        assert got.status_code == 200 and got.content == kept and got.headers["content-type"] == "image/jpeg"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert (await intake.http.get(listing, headers=auth(other))).status_code == 404, "another bureau"
        audit = await world.fetch("SELECT kind, subject, actor FROM audit_log WHERE kind = 'attachment.read'")
        assert [(r["subject"], r["actor"]) for r in audit] == [(case_id, world.client_id("amr"))]


async def test_files_over_the_size_or_count_limit_and_broken_images_are_refused_with_a_problem_naming_the_file(
        unique: str, tmp_path: Path) -> None:
    world = IntakeWorld(unique, routing_topic=f"test.case.routing.{unique}", attachments_dir=tmp_path,
                        attachment_max_bytes=2048, attachment_max_count=2)
    await world.create()
    hotline = await world.add_client("hot", "hotline", ["complaints:write"], topic=False)
    async with running_intake(world) as intake:
        receipt = (await intake.http.post("/v1/complaints", json=complaint(), headers=auth(hotline))).json()
        url = f"/v1/complaints/{receipt['tracking_no']}/attachments"
        big = await intake.http.post(url, content=b"%PDF-" + b"x" * 2100 + b"%%EOF", headers=auth(hotline))
        assert big.status_code == 413 and big.json()["errors"][0] == {
            "field": "file", "reason": "too_large", "detail": "at most 2048 bytes per file, got 2110"}
        broken = await intake.http.post(url, content=jpeg_with_exif()[:40], headers=auth(hotline))
        assert broken.status_code == 422 and broken.json()["errors"][0]["reason"] == "malformed"
        assert (await intake.http.post(url, content=b"", headers=auth(hotline))).status_code == 422
        assert (await intake.http.post(url, content=pdf(), headers=auth(hotline))).status_code == 201
        assert (await intake.http.post(url, content=png_with_text(), headers=auth(hotline))).status_code == 201
        third = await intake.http.post(url, content=jpeg_with_exif(), headers=auth(hotline))
        assert third.status_code == 409 and third.json()["errors"][0]["reason"] == "too_many"
        unknown = await intake.http.post("/v1/complaints/SD261207-ABCDEFGH/attachments", content=pdf(),
                                         headers=auth(hotline))
        assert unknown.status_code == 404


async def test_the_reporters_digits_are_limited_per_tracking_number_for_the_survey_and_another_clients_upload(
        unique: str, tmp_path: Path) -> None:
    world = IntakeWorld(unique, routing_topic=f"test.case.routing.{unique}", attachments_dir=tmp_path / "blobs")
    await world.create()
    hotline = await world.add_client("hot", "hotline", ["complaints:write", "complaints:read"], topic=False)
    portal = await world.add_client("web", "hotline", ["complaints:write"], topic=False)
    async with running_intake(world, second_factor_max_failures=3) as intake:
        tracking = (await intake.http.post("/v1/complaints", json=complaint(), headers=auth(hotline))).json()["tracking_no"]
        wrong = {"last4": "0000", "score": 1, "resolved": False, "reopen": True}
        survey = [await intake.http.post(f"/v1/complaints/{tracking}/survey", json=wrong, headers=auth(portal))
                  for _ in range(2)]
        upload = await intake.http.post(f"/v1/complaints/{tracking}/attachments", content=jpeg_with_exif(),
                                        headers={**auth(portal), LAST4_HEADER: "1111"})
        assert [r.status_code for r in (*survey, upload)] == [404, 404, 404], "three failures, by either route"
        # the tracking number is at its limit for both routes, even with the right digits
        limited = await intake.http.post(f"/v1/complaints/{tracking}/survey", json={**wrong, "last4": "5678"},
                                         headers=auth(portal))
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1, limited.text
        assert limited.json()["errors"][0]["reason"] == "too_many_attempts"
        again = await intake.http.post(f"/v1/complaints/{tracking}/attachments", content=jpeg_with_exif(),
                                       headers={**auth(portal), LAST4_HEADER: "5678"})
        assert again.status_code == 429
        # the client that filed it needs no digits, so it is not limited
        own = await intake.http.post(f"/v1/complaints/{tracking}/attachments", content=jpeg_with_exif(),
                                     headers=auth(hotline))
        assert own.status_code == 201, own.text
    assert len(await world.fetch("SELECT 1 FROM second_factor_failures")) == 3 * 2
