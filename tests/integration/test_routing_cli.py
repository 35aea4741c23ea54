"""Routing's CLI verbs against the real database: bureau keys, calendar coverage, recheck."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from shared.config import REPO_ROOT
from shared.workdays import WorkdayCalendar
from services.routing.__main__ import prepare
from services.routing.adapters import keys
from services.routing.testing import RoutingWorld
from tests.support import stack

pytestmark = pytest.mark.stack


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHUANGDA_DEV": "true", "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "deploy.cli", *args], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)


async def test_a_key_created_by_the_cli_authenticates_its_bureau_until_it_is_revoked() -> None:
    w = RoutingWorld(uuid.uuid4().hex[:10], bootstrap=stack.bootstrap(), dsn=stack.dsn())
    await prepare(w.settings())
    created = cli("bureaus", "--schema", w.schema, "keys", "create", "market_regulation@610402", "--label", "MR Qindu",
                  "--json", "--no-topics")
    assert created.returncode == 0, created.stderr
    issued = json.loads(created.stdout)
    async with w.db() as conn:
        assert await keys.authenticate(conn, issued["api_key"]) == "market_regulation@610402"
        stored = await conn.fetchval("SELECT secret_hash FROM bureau_keys WHERE key_id = $1", issued["key_id"])
    assert issued["api_key"].split("_")[-1].encode() not in bytes(stored), "only a hash is stored"

    listed = cli("bureaus", "--schema", w.schema, "keys", "list", "--json")
    assert [r["key_id"] for r in json.loads(listed.stdout)] == [issued["key_id"]]
    assert "api_key" not in listed.stdout and issued["api_key"] not in listed.stdout

    assert cli("bureaus", "--schema", w.schema, "keys", "revoke", issued["key_id"]).returncode == 0
    async with w.db() as conn:
        assert await keys.authenticate(conn, issued["api_key"]) is None
    again = cli("bureaus", "--schema", w.schema, "keys", "revoke", issued["key_id"])
    assert again.returncode == 1 and "no active key" in again.stderr


async def test_creating_a_key_also_creates_the_bureaus_ingress_and_egress_topics() -> None:
    w = RoutingWorld(uuid.uuid4().hex[:10], bootstrap=stack.bootstrap(), dsn=stack.dsn())
    await prepare(w.settings())
    env = {"SHUANGDA_ROUTING_INGRESS_PREFIX": w.ingress_prefix, "SHUANGDA_ROUTING_EGRESS_PREFIX": w.egress_prefix}
    created = subprocess.run(
        [sys.executable, "-m", "deploy.cli", "bureaus", "--schema", w.schema, "keys", "create", "postal@610400", "--json"],
        env={**os.environ, **env, "SHUANGDA_DEV": "true", "PYTHONPATH": str(REPO_ROOT)}, cwd=REPO_ROOT,
        capture_output=True, text=True, timeout=120,
    )
    assert created.returncode == 0, created.stderr
    topics = json.loads(created.stdout)["topics"]
    assert topics == [w.ingress_topic("postal@610400"), w.egress_topic("postal@610400")]
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    assert {*topics, topics[0] + ".dlq"} <= existing


def test_a_malformed_bureau_id_is_refused_by_the_cli() -> None:
    result = cli("bureaus", "keys", "create", "Market Regulation")
    assert result.returncode == 1 and "bureau id" in result.stderr


async def test_the_calendar_verb_shows_how_far_the_holiday_data_reaches_and_recheck_runs() -> None:
    w = RoutingWorld(uuid.uuid4().hex[:10], bootstrap=stack.bootstrap(), dsn=stack.dsn())
    await prepare(w.settings())
    shown = cli("calendar", "--schema", w.schema, "--json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["covered_until"] == WorkdayCalendar().covered_until().isoformat()
    assert report["provisional_open_deadlines"] == 0
    recheck = cli("deadlines", "--schema", w.schema, "recheck")
    assert recheck.returncode == 0 and "0 provisional deadline(s) revised" in recheck.stdout, recheck.stderr
