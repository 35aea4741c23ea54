"""A survey comment and the evidence files are the complainant's personal data too (issue 12 §4 with
issue 15 §4), on intake's real HTTP app, broker and database: the comment is sealed under the
complainant's own data key (only its masked copy is readable), and the retention rule's erasure
destroys that key and removes the files and their blobs — after it nothing of the comment or the photo
can be read, while the case, its figures and the survey's score remain."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shared import vault
from shared.config import REPO_ROOT
from shared.contracts.cases import CaseSurveyAnswered, Sealed, Suspect
from shared.contracts.routing import CaseAssigned, CaseOutcomeRecorded
from shared.db import connect
from shared.identifiers import mask_name
from shared.pii import ERASED, Keyring
from tests.support import stack
from tests.support.evidence import jpeg_with_exif
from tests.support.intake import IntakeWorld, running_intake

pytestmark = pytest.mark.stack
BUREAU = "market_regulation@610402"
PHONE = "13987650123"
COMMENT = "店铺还在卖假货，店主王小明的电话13911112222。投诉人赵六"


def cli(blobs: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHUANGDA_DEV": "true", "PYTHONPATH": str(REPO_ROOT), "SHUANGDA_PG_DSN": stack.dsn(),
           "SHUANGDA_INTAKE_ATTACHMENTS_DIR": str(blobs)}
    return subprocess.run([sys.executable, "-m", "deploy.cli", "pii", *args], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def routing_events(case_id: str) -> list[Any]:
    now = dt.datetime.now(dt.timezone.utc)
    suspect = Suspect(name="咸阳某某鞋店")
    assigned = CaseAssigned(case_id=case_id, assignment_no=1, assigned_at=now, bureau=BUREAU,
                            bureau_type="market_regulation", jurisdiction="610402", level="county",
                            category="trademarks", county="610402", counties=["610402"], origin="complaint",
                            suspect=suspect, directory_version="t", rules_version="t")
    closed = CaseOutcomeRecorded(case_id=case_id, bureau=BUREAU, outcome="no_violation", category="trademarks",
                                 suspect=suspect, recorded_at=now + dt.timedelta(seconds=1))
    return [stack.event_record(assigned, type=CaseAssigned.EVENT_TYPE, key=case_id),
            stack.event_record(closed, type=CaseOutcomeRecorded.EVENT_TYPE, key=case_id)]


async def test_a_survey_comment_is_sealed_under_the_complainant_s_key_and_retention_shreds_it_with_the_photo_while_the_case_stays(
        unique: str, tmp_path: Path) -> None:
    routing_topic = f"test.case.routing.{unique}"
    world = IntakeWorld(unique, routing_topic=routing_topic, attachments_dir=tmp_path)
    await world.create()
    hotline = await world.add_client("hot", "hotline", ["complaints:write", "complaints:read"], topic=False)
    bureau = await world.add_client("amr", "bureau", ["cases:read"], topic=False)  # market_regulation@610402
    async with running_intake(world) as intake:
        filed = await intake.http.post("/v1/complaints", headers=auth(hotline), json={
            "category": "trademarks", "county": "610402", "description": "在秦都区某店买到假冒名牌运动鞋",
            "suspect": {"name": f"咸阳某某鞋店{unique}"}, "figures": {"sales": "300.00", "pieces": 3},
            "complainant": {"name": "赵六", "phone": PHONE}})
        assert filed.status_code == 201, filed.text
        tracking, case_id = filed.json()["tracking_no"], filed.json()["case_id"]
        photo = await intake.http.post(f"/v1/complaints/{tracking}/attachments", content=jpeg_with_exif(),
                                       headers=auth(hotline))
        assert photo.status_code == 201, photo.text
        attachment_id, digest = photo.json()["attachment_id"], photo.json()["sha256"]
        await stack.produce(routing_topic, routing_events(case_id))

        async def answer() -> Any:
            return await intake.http.post(f"/v1/complaints/{tracking}/survey", headers=auth(hotline), json={
                "last4": PHONE[-4:], "score": 2, "resolved": False, "comment": COMMENT})

        answered = await stack.eventually(answer, until=lambda r: r.status_code != 409, what="intake sees the closing")
        assert answered.status_code == 201, answered.text
        listing = f"/v1/cases/{case_id}/attachments"
        seen = await intake.http.get(f"{listing}/{attachment_id}", headers=auth(bureau))
        assert seen.status_code == 200, "the assignee reads the photo before the erasure"

        [stored] = await world.fetch("SELECT s.comment_sealed::text AS comment, r.complainant::text AS complainant "
                                     "FROM surveys s JOIN reports r USING (report_id)")
        kept_copy = json.loads(stored["comment"])
        person_key = json.loads(stored["complainant"])["phone"]["kid"]
        assert kept_copy["kid"] == person_key and person_key.startswith("pk_"), "sealed under the complainant's key"
        assert "13911112222" not in stored["comment"] and "王小明" not in stored["comment"]
        events = await stack.read_lanes(world.case_topic)
        answered_event = [json.loads(e.value) for e in events if stack.header(e, "ce_type") == CaseSurveyAnswered.EVENT_TYPE]
        assert len(answered_event) == 1 and "13911112222" not in answered_event[0]["comment"], "only the masked copy travels"
        assert "赵六" not in answered_event[0]["comment"] and mask_name("赵六") in answered_event[0]["comment"], \
            "the complainant's own name, typed into the comment, is masked in the copy that travels"

        exported = await asyncio.to_thread(cli, tmp_path, "export", "--tracking-no", tracking, "--schema", world.schema)
        assert exported.returncode == 0, exported.stderr
        assert [s["comment"] for s in json.loads(exported.stdout)["surveys"]] == [COMMENT], "the access request opens it"

        conn = await connect(stack.dsn(), world.schema)
        try:  # the complaint was received four years ago: past the retention rule
            await conn.execute("UPDATE reports SET received_at = received_at - interval '4 years' WHERE tracking_no = $1",
                               tracking)
        finally:
            await conn.close()
        applied = await asyncio.to_thread(cli, tmp_path, "retention", "--apply", "--schema", world.schema)
        assert applied.returncode == 0, applied.stderr
        out = json.loads(applied.stdout)
        assert (out["erased"], out["files_erased"], out["blobs_deleted"], out["survey_comments_erased"]) == (1, 1, 1, 1)

        gone = await intake.http.get(f"{listing}/{attachment_id}", headers=auth(bureau))
        assert gone.status_code == 404, "the photo cannot be read any more"
        assert not (tmp_path / digest[:2] / digest).exists(), "its blob is deleted"

    conn = await connect(stack.dsn(), world.schema)
    try:
        opener = await vault.opener(conn, Keyring.development(), [kept_copy])
        assert opener.reveal(Sealed.model_validate(kept_copy), field="survey_comment") == ERASED, \
            "a copy of the sealed comment kept anywhere no longer opens: its key is destroyed"
    finally:
        await conn.close()
    [survey] = await world.fetch("SELECT score, comment_sealed FROM surveys")
    assert survey["comment_sealed"] is None and survey["score"] == 2, "the score stays for the assessment"
    assert await world.fetch("SELECT 1 FROM attachments") == []
    [case] = await world.fetch("SELECT reports_count, figures::text AS figures FROM cases WHERE case_id = $1", case_id)
    assert case["reports_count"] == 1 and "300" in case["figures"], "the case and its figures remain"
    again = await asyncio.to_thread(cli, tmp_path, "export", "--tracking-no", tracking, "--schema", world.schema)
    assert json.loads(again.stdout)["surveys"][0]["comment"] is None
    kinds = [r["kind"] for r in await world.fetch("SELECT kind FROM audit_log ORDER BY seq")]
    assert "pii.retention-erased" in kinds and "pii.files-erased" in kinds
