"""`shuangda demo` at a small size, as a user runs it (the CLI, the launcher, real
services), in its own namespace: the shared Kafka and Postgres, its own state
directory, ports, schemas, topics and Prometheus — stopped again afterwards."""
from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import pytest_asyncio

from shared.config import REPO_ROOT
from sim.stackenv import Isolated, cleanup, free_port, new_unique
from tests.support import stack

pytestmark = pytest.mark.stack


def cli(env: dict[str, str], *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deploy.cli", *args], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout)


@pytest_asyncio.fixture(scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    unique = new_unique("d")
    iso = Isolated.make(unique)
    state = tmp_path_factory.mktemp("demo-state")
    env = {**os.environ, **iso.env(), "PYTHONPATH": str(REPO_ROOT), "SHUANGDA_STATE_DIR": str(state),
           "SHUANGDA_KAFKA_BOOTSTRAP": stack.bootstrap(), "SHUANGDA_PG_DSN": stack.dsn(),
           "SHUANGDA_PROMETHEUS_PORT": str(free_port()), "SHUANGDA_DEMO_NAMESPACE": unique}
    try:
        try:
            run = await asyncio.to_thread(cli, env, "demo", "--complaints", "40", "--speed", "8000", "--follow-days", "3",
                                          "--lead-in", "20", "--keep-demo-services", timeout=600)
        finally:
            down = await asyncio.to_thread(cli, env, "down", timeout=120)
        yield {"run": run, "down": down, "iso": iso, "state": state}
    finally:
        await cleanup(iso, stack.dsn(), stack.bootstrap())


def report_path(stdout: str) -> Path:
    match = re.search(r"assessment report: (\S+\.html)", stdout)
    assert match, stdout[-3000:]
    return Path(match.group(1))


def test_a_small_demo_runs_to_completion_without_a_terminal(demo: dict[str, Any]) -> None:
    run = demo["run"]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    progress = [line for line in run.stdout.splitlines() if line.startswith("[20")]
    assert progress, "plain progress lines when stdout is not a terminal"
    assert "\x1b[" not in run.stdout
    assert demo["down"].returncode == 0
    assert "prometheus" in demo["down"].stdout and "intake" in demo["down"].stdout


def test_the_demo_writes_a_non_empty_html_report_under_the_state_directory(demo: dict[str, Any]) -> None:
    path = report_path(demo["run"].stdout)
    assert path.is_relative_to(demo["state"] / "reports")
    html = path.read_text(encoding="utf-8")
    assert len(html) > 10_000 and html.count("<svg") >= 5
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)


async def test_the_reports_figures_match_the_database(demo: dict[str, Any]) -> None:
    figures = json.loads(report_path(demo["run"].stdout).with_suffix(".json").read_text(encoding="utf-8"))
    s = demo["iso"].schemas
    like = figures["run_id"] + "-%"
    run = f'SELECT DISTINCT case_id FROM "{s.intake}".reports WHERE source_id LIKE $1'
    import asyncpg

    conn = await asyncpg.connect(stack.dsn())
    try:
        reports = await conn.fetchval(f'SELECT count(*) FROM "{s.intake}".reports WHERE source_id LIKE $1', like)
        intake_cases = await conn.fetchval(f"SELECT count(*) FROM ({run}) r", like)
        routed = await conn.fetchval(f'SELECT count(*) FROM "{s.routing}".cases WHERE case_id IN ({run})', like)
        penalties = await conn.fetchval(
            f"""SELECT count(*) FROM "{s.credit}".records WHERE kind = 'penalty' AND case_id IN ({run})""", like)
        closed = await conn.fetchval(
            f"""SELECT count(*) FROM "{s.routing}".cases WHERE state = 'closed' AND case_id IN ({run})""", like)
    finally:
        await conn.close()
    t = figures["totals"]
    assert reports > 30 and t["reports"] == reports
    assert t["cases"] == routed == intake_cases, "every case intake opened was routed, and the report counts each once"
    assert sum(c["cases"] for c in figures["counties"]) == t["cases"]
    assert sum(b["cases"] for b in figures["bureaus"]) == t["cases"]
    assert t["penalties"] == penalties
    assert t["cases_by_state"].get("closed", 0) == closed
    assert t["deadlines_on_time"] > 0


async def test_the_reports_custody_appraisal_and_inspection_sections_are_filled_from_the_run(demo: dict[str, Any]) -> None:
    figures = json.loads(report_path(demo["run"].stdout).with_suffix(".json").read_text(encoding="utf-8"))
    sections, s, like = figures["sections"], demo["iso"].schemas, figures["run_id"] + "-%"
    import asyncpg

    conn = await asyncpg.connect(stack.dsn())
    try:
        run = f'SELECT DISTINCT case_id FROM "{s.intake}".reports WHERE source_id LIKE $1'
        lots = await conn.fetchval(f'SELECT count(*) FROM "{s.custody}".lots WHERE case_id IN ({run})', like)
        appraisals = await conn.fetchval(f'SELECT count(*) FROM "{s.appraisal}".appraisals WHERE case_id IN ({run})', like)
        targets = await conn.fetchval(f'SELECT count(*) FROM "{s.inspection}".tasks')
    finally:
        await conn.close()
    custody, appraisal, inspections = sections["custody"], sections["appraisal"], sections["inspections"]
    assert custody["ran"] and custody["lots"] == lots > 0, custody
    assert appraisal["ran"] and sum(r["requested"] for r in appraisal["by_provider_kind"].values()) == appraisals > 0
    assert inspections["ran"] and inspections["targets"] == targets > 0 and inspections["inspected"] > 0, inspections
