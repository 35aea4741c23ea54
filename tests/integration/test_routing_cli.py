"""Routing's CLI verbs against the real database: calendar coverage and recheck; the former
bureau key verbs now point to ``shuangda keys`` (tested with the identity store)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from shared.config import REPO_ROOT
from shared.workdays import WorkdayCalendar
from services.routing.wiring import prepare
from tests.support.routing import RoutingWorld
from tests.support import stack

pytestmark = pytest.mark.stack


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHUANGDA_DEV": "true", "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "deploy.cli", *args], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)


def test_the_bureau_key_verbs_point_to_the_one_identity_store_and_help_still_works() -> None:
    # bureau API keys moved to `shuangda keys` (shared.identity); the old verb says where, and fails
    moved = cli("bureaus", "keys", "create", "market_regulation@610402", "--label", "MR Qindu")
    assert moved.returncode == 1
    assert "shuangda keys create market_regulation@610402 --kind bureau" in moved.stderr
    assert moved.stdout == "", "no key is printed: none was issued"
    helped = cli("bureaus", "--help")
    assert helped.returncode == 0 and "shuangda keys create" in helped.stdout and "directory" in helped.stdout
    assert cli("bureaus", "keys", "--help").returncode == 0


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
