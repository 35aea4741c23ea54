"""Personal-information requests and retention on the real Postgres (issue 12 §4, `shuangda pii`):
an access request returns what intake holds about the complainant, opened; an erasure removes it
— nothing of the person can be read from intake's tables afterwards — while the case, its figures
and the masked summary remain; retention erases what is past the versioned rule; every step is in
the hash-chained audit log, which still verifies."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from shared import audit
from shared.config import REPO_ROOT
from shared.db import connect
from tests.support import stack
from tests.support.intake import IntakeWorld, running_intake

pytestmark = pytest.mark.stack


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHUANGDA_DEV": "true", "PYTHONPATH": str(REPO_ROOT), "SHUANGDA_PG_DSN": stack.dsn()}
    return subprocess.run([sys.executable, "-m", "deploy.cli", "pii", *args], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


def complaint(source_id: str, name: str, phone: str, description: str) -> dict:
    return {"source_id": source_id, "category": "cosmetics", "county": "610403",
            "suspect": {"name": f"杨陵{source_id[-4:]}化妆品店"}, "description": description,
            "complainant": {"name": name, "phone": phone}, "figures": {"sales": "120.00", "pieces": 2}}


async def test_a_complainant_s_data_is_exported_then_erased_everywhere_in_intake_while_the_case_remains(unique: str) -> None:
    world = IntakeWorld(unique)
    await world.create()
    key = await world.add_client("hotline", "hotline", ["complaints:write", "complaints:read"], topic=False)
    phone, other = "13987654321", "13712345678"
    async with running_intake(world, consume=False) as svc:
        first = await svc.http.post("/v1/complaints", headers={"X-API-Key": key}, json=complaint(
            f"pii-{unique}-a", "赵六", phone, f"请打 139 8765 4321 联系我，住杨陵区康乐路12号。" + "经过" * 300))
        kept = await svc.http.post("/v1/complaints", headers={"X-API-Key": key}, json=complaint(
            f"pii-{unique}-b", "钱七", other, "买到假冒化妆品"))
        assert first.status_code == 201 and kept.status_code == 201, (first.text, kept.text)
    tracking_no, case_id = first.json()["tracking_no"], first.json()["case_id"]

    exported = await asyncio.to_thread(cli, "export", "--phone", phone, "--schema", world.schema, "--actor", "ops-1",
                                       "--reason", "PIPL request 2026-001")
    assert exported.returncode == 0, exported.stderr
    [report] = json.loads(exported.stdout)["reports"]
    assert report["tracking_no"] == tracking_no and report["name"] == "赵六" and report["phone"] == phone
    assert "康乐路" in report["description"], "the access request includes the original description, opened"

    erased = await asyncio.to_thread(cli, "erase", "--tracking-no", tracking_no, "--schema", world.schema,
                                     "--reason", "PIPL request 2026-002", "--actor", "ops-1")
    assert erased.returncode == 0, erased.stderr
    assert json.loads(erased.stdout) == {"reports_found": 1, "reports_erased": 1, "data_keys_destroyed": 1,
                                         "files_erased": 0, "blobs_deleted": 0,
                                         "survey_comments_erased": 0}

    rows = {r["source_id"]: r for r in await world.fetch(
        "SELECT source_id, case_id, summary, complainant, description_sealed, pii_erased_why,"
        " row_to_json(reports)::text AS whole FROM reports")}
    gone = rows[f"pii-{unique}-a"]
    assert gone["complainant"] is None and gone["description_sealed"] is None
    assert gone["pii_erased_why"] == "PIPL request 2026-002"
    assert phone not in gone["whole"] and "赵六" not in gone["whole"]
    assert gone["summary"] and gone["case_id"] == case_id, "the case and the masked summary remain"
    assert rows[f"pii-{unique}-b"]["complainant"] is not None, "nobody else's data is touched"
    [case] = await world.fetch("SELECT reports_count, figures FROM cases WHERE case_id = $1", case_id)
    assert case["reports_count"] == 1 and "sales" in str(case["figures"]), "the case's figures remain"

    again = await asyncio.to_thread(cli, "export", "--tracking-no", tracking_no, "--schema", world.schema)
    [after] = json.loads(again.stdout)["reports"]
    assert "name" not in after and "phone" not in after and "description" not in after
    assert after["erased_why"] == "PIPL request 2026-002"
    by_phone = await asyncio.to_thread(cli, "export", "--phone", phone, "--schema", world.schema)
    assert by_phone.returncode == 1 and json.loads(by_phone.stdout)["reports"] == [], "the phone finds nothing now"

    conn = await connect(stack.dsn(), world.schema)
    try:
        report_id = (await conn.fetchval("SELECT report_id FROM reports WHERE tracking_no = $1", tracking_no))
        kinds = [e.kind for e in await audit.entries(conn, report_id)]
        assert kinds == ["pii.exported", "pii.erased", "pii.exported"]
        assert all(phone not in e.body and "赵六" not in e.body for e in await audit.entries(conn, report_id))
        assert await audit.verify(conn) is None, "the audit chain holds"
    finally:
        await conn.close()


async def test_retention_erases_only_what_is_past_the_versioned_rule_and_says_which_rule(unique: str) -> None:
    world = IntakeWorld(unique)
    await world.create()
    key = await world.add_client("hotline", "hotline", ["complaints:write", "complaints:read"], topic=False)
    async with running_intake(world, consume=False) as svc:
        for suffix in ("old", "new"):
            answer = await svc.http.post("/v1/complaints", headers={"X-API-Key": key}, json=complaint(
                f"ret-{unique}-{suffix}", "孙八", "13600001111", "买到假冒化妆品"))
            assert answer.status_code == 201, answer.text
    conn = await connect(stack.dsn(), world.schema)
    try:  # the old report was received four years ago
        await conn.execute("UPDATE reports SET received_at = received_at - interval '4 years' WHERE source_id = $1",
                           f"ret-{unique}-old")
    finally:
        await conn.close()
    listed = await asyncio.to_thread(cli, "retention", "--schema", world.schema)
    assert listed.returncode == 0, listed.stderr
    report = json.loads(listed.stdout)
    assert report["past_retention"] == 1 and report["erased"] == 0 and report["reports"][0]["rule"] == "2026-1"
    applied = json.loads((await asyncio.to_thread(cli, "retention", "--schema", world.schema, "--apply")).stdout)
    assert applied["erased"] == 1
    rows = {r["source_id"]: r for r in await world.fetch("SELECT source_id, complainant, pii_erased_why FROM reports")}
    assert rows[f"ret-{unique}-old"]["complainant"] is None
    assert rows[f"ret-{unique}-old"]["pii_erased_why"] == "retention rule 2026-1"
    assert rows[f"ret-{unique}-new"]["complainant"] is not None
    rules = await asyncio.to_thread(cli, "rules")
    assert "个人信息保护法" in rules.stdout and "第十九条" in rules.stdout


async def test_retention_reads_and_erases_chunk_by_chunk_when_there_are_more_reports_than_one_chunk(unique: str) -> None:
    world = IntakeWorld(unique)
    await world.create()
    key = await world.add_client("hotline", "hotline", ["complaints:write", "complaints:read"], topic=False)
    old = [f"chunk-{unique}-{n}" for n in range(5)]
    async with running_intake(world, consume=False) as svc:
        for source_id in [*old, f"chunk-{unique}-new"]:
            answer = await svc.http.post("/v1/complaints", headers={"X-API-Key": key}, json=complaint(
                source_id, "周九", "13600002222", "买到假冒化妆品"))
            assert answer.status_code == 201, answer.text
    conn = await connect(stack.dsn(), world.schema)
    try:
        await conn.execute("UPDATE reports SET received_at = received_at - interval '4 years' WHERE source_id = ANY($1)", old)
    finally:
        await conn.close()
    applied = await asyncio.to_thread(cli, "retention", "--schema", world.schema, "--apply", "--chunk", "2")
    assert applied.returncode == 0, applied.stderr
    report = json.loads(applied.stdout)
    assert report["past_retention"] == 5 and report["erased"] == 5, "three chunks of 2, 2 and 1 all erased"
    rows = {r["source_id"]: r for r in await world.fetch("SELECT source_id, complainant FROM reports")}
    assert all(rows[s]["complainant"] is None for s in old)
    assert rows[f"chunk-{unique}-new"]["complainant"] is not None


def test_the_retention_rule_keeps_three_years_from_receipt_with_29_february_ending_on_28() -> None:
    from services.intake.domain.retention import keep_until, past_retention, rule_for

    assert rule_for(dt.date(2024, 2, 29)).version == "2026-1"
    assert keep_until(dt.date(2024, 2, 29)) == dt.date(2027, 2, 28)
    assert not past_retention(dt.date(2023, 12, 7), dt.date(2026, 12, 7))
    assert past_retention(dt.date(2023, 12, 6), dt.date(2026, 12, 7))
