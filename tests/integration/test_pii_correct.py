"""``shuangda pii correct`` on the real Postgres and key store (个人信息保护法 第四十六条, issue 12 §4): the
corrected field is sealed again under the complainant's own data key, its masked form follows, the
audit log records the field and the reason but never a value, the chain still verifies — and a later
erasure shreds the corrected value with the rest. A value intake would refuse is refused by name."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from shared import audit
from shared.config import REPO_ROOT
from shared.contracts.cases import CaseComplainantCorrected
from shared.db import connect
from shared.topics import priority_lane
from tests.support import stack
from tests.support.intake import IntakeWorld, running_intake

pytestmark = pytest.mark.stack
OLD_PHONE, NEW_PHONE = "13987654321", "13722223333"


def cli(*args: str, stdin: str | None = None, case_topic: str = "case.intake") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHUANGDA_DEV": "true", "PYTHONPATH": str(REPO_ROOT), "SHUANGDA_PG_DSN": stack.dsn(),
           "SHUANGDA_INTAKE_CASE_TOPIC": case_topic}
    return subprocess.run([sys.executable, "-m", "deploy.cli", "pii", *args], env=env, cwd=REPO_ROOT, input=stdin,
                          capture_output=True, text=True, timeout=120)


async def test_a_corrected_phone_is_sealed_again_under_the_person_s_key_audited_without_the_value_and_erased_with_them(
        unique: str) -> None:
    world = IntakeWorld(unique)
    await world.create()
    key = await world.add_client("hotline", "hotline", ["complaints:write"], topic=False)
    async with running_intake(world, consume=False) as svc:
        filed = await svc.http.post("/v1/complaints", headers={"X-API-Key": key}, json={
            "category": "cosmetics", "county": "610403", "suspect": {"name": f"杨陵{unique[:4]}化妆品店"},
            "description": "买到假冒化妆品", "complainant": {"name": "赵六", "phone": OLD_PHONE}})
        assert filed.status_code == 201, filed.text
    tracking = filed.json()["tracking_no"]

    refused = await asyncio.to_thread(cli, "correct", "--tracking-no", tracking, "--field", "phone", "--value", "1234",
                                      "--reason", "PIPL request 2026-010", "--schema", world.schema)
    assert refused.returncode == 2 and "complainant.phone" in refused.stderr and "1234" not in refused.stderr

    fixed = await asyncio.to_thread(cli, "correct", "--tracking-no", tracking, "--field", "phone", "--value", "-",
                                    "--reason", "PIPL request 2026-010", "--actor", "ops-1", "--schema", world.schema,
                                    stdin=NEW_PHONE + "\n", case_topic=world.case_topic)
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(fixed.stdout) == {"reports_found": 1, "reports_corrected": 1, "field": "phone", "not_held": 0}

    [row] = await world.fetch("SELECT report_id, complainant::text AS c FROM reports WHERE tracking_no = $1", tracking)
    complainant = json.loads(row["c"])
    assert complainant["phone"]["kid"] == complainant["name"]["kid"], "sealed again under the same person's key"
    assert complainant["phone_masked"].endswith(NEW_PHONE[-4:]) and NEW_PHONE not in row["c"]
    # announced in the same transaction, on the complaint's own lane, so notify's next texts go to the new number
    [announced] = await world.fetch("SELECT topic, record_key, convert_from(payload, 'UTF8') AS payload FROM outbox "
                                    "WHERE event_type = $1", CaseComplainantCorrected.EVENT_TYPE)
    event = CaseComplainantCorrected.model_validate_json(announced["payload"])
    assert announced["topic"] == priority_lane(world.case_topic) and announced["record_key"].decode() == event.case_id
    assert event.tracking_no == tracking and event.phone.model_dump() == complainant["phone"]
    assert event.phone_masked == complainant["phone_masked"] and NEW_PHONE not in announced["payload"]
    exported = await asyncio.to_thread(cli, "export", "--phone", NEW_PHONE, "--schema", world.schema)
    [report] = json.loads(exported.stdout)["reports"]
    assert report["phone"] == NEW_PHONE and report["name"] == "赵六", "found and opened by the corrected phone"

    conn = await connect(stack.dsn(), world.schema)
    try:
        entries = await audit.entries(conn, row["report_id"])
        [entry] = [e for e in entries if e.kind == "pii.corrected"]
        assert entry.actor == "ops-1" and entry.payload["field"] == "phone" and entry.payload["why"] == "PIPL request 2026-010"
        assert all(OLD_PHONE not in e.body and NEW_PHONE not in e.body for e in entries)
        assert await audit.verify(conn) is None, "the audit chain holds"
    finally:
        await conn.close()

    erased = await asyncio.to_thread(cli, "erase", "--tracking-no", tracking, "--reason", "PIPL request 2026-011",
                                     "--schema", world.schema)
    assert erased.returncode == 0 and json.loads(erased.stdout)["data_keys_destroyed"] == 1
    again = await asyncio.to_thread(cli, "correct", "--tracking-no", tracking, "--field", "name", "--value", "赵七",
                                    "--reason", "PIPL request 2026-012", "--schema", world.schema)
    assert again.returncode == 1 and json.loads(again.stdout)["reports_corrected"] == 0, "nothing left to correct"
