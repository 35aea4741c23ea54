"""`shuangda demo` at a small size, as a user runs it (the CLI, the launcher, real
services), in its own namespace: the shared Kafka and Postgres, its own state
directory, ports, schemas, topics and Prometheus — stopped again afterwards.
The console the demo leaves running is signed in to with each sign-in the demo printed."""
from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, AsyncIterator

import asyncpg
import httpx
import pytest
import pytest_asyncio

from shared.config import REPO_ROOT
from sim.stackenv import Isolated, cleanup, free_port, new_unique
from tests.support import stack

pytestmark = pytest.mark.stack

#: the launcher's components that need ports of their own when Isolated gives them none (``SHUANGDA_<NAME>_PORT``)
OTHER_COMPONENTS = ("console", "custody", "appraisal", "inspection", "intake_worker")
#: each role's main page (the console's HOME)
HOME = {"office": "/office", "bureau": "/cases", "police": "/referrals", "procuratorate": "/supervision", "ops": "/ops"}


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
           "SHUANGDA_PROMETHEUS_PORT": str(free_port()), "SHUANGDA_DEMO_NAMESPACE": unique,
           # the launcher's other processes on ports of their own too, and the console on a schema of its own
           **{f"SHUANGDA_{name.upper()}_PORT": str(free_port()) for name in OTHER_COMPONENTS if name not in iso.ports},
           "SHUANGDA_CONSOLE_SCHEMA": f"console_{unique}",
           # ops' dead letters: the demo's monitor's only (the shared broker holds every test's)
           "SHUANGDA_CONSOLE_DLQ_TOPIC_PREFIX": f"ingress.monitor-bigdata-{unique}"}
    try:
        # seven follow-up days: enough for cases to close (an investigation takes days of office hours) and for
        # the complainants to answer the closing SMS's survey within the period
        run = await asyncio.to_thread(cli, env, "demo", "--complaints", "40", "--speed", "8000", "--follow-days", "7",
                                      "--lead-in", "20", "--keep-demo-services", timeout=900)
        yield {"run": run, "iso": iso, "state": state, "env": env}
    finally:
        await asyncio.to_thread(cli, env, "down", timeout=120)
        await cleanup(iso, stack.dsn(), stack.bootstrap())
        conn = await asyncpg.connect(stack.dsn())
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "console_{unique}" CASCADE')
        finally:
            await conn.close()


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


def printed_sign_ins(stdout: str) -> tuple[str, dict[str, tuple[str, str]]]:
    """The console's address and role → (username, password), as the demo printed them."""
    match = re.search(r"· console: (https?://\S+)", stdout)
    assert match, stdout[-3000:]
    return match.group(1), {m[1]: (m[2], m[3]) for m in re.finditer(r"sign-in: (\S+)\s+(\S+) / (\S+)", stdout)}


async def sign_in(url: str, username: str, password: str) -> httpx.Response:
    """Sign in as a browser does (the CSRF cookie from the form, then the session cookie) and follow
    the console to the person's page. The cookies are Secure (a browser keeps them on localhost's
    plain http; httpx does not send them there), so they are passed by hand."""
    async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as http:
        form = await http.get("/login")
        assert form.status_code == 200, form.text[:500]
        csrf = form.cookies["sd_csrf"]
        answer = await http.post("/login", data={"username": username, "password": password, "csrf": csrf},
                                 headers={"Cookie": f"sd_csrf={csrf}"})
        assert answer.status_code == 303, (username, answer.status_code, answer.text[:500])
        session = answer.cookies["sd_session"]
        return await http.get(answer.headers["location"], headers={"Cookie": f"sd_session={session}"})


async def test_each_printed_sign_in_opens_its_roles_page_on_the_console_the_demo_left_running(
        demo: dict[str, Any]) -> None:
    url, sign_ins = printed_sign_ins(demo["run"].stdout)
    assert {role.partition("@")[0] for role in sign_ins} == set(HOME), sign_ins
    for role, (username, password) in sign_ins.items():
        page = await sign_in(url, username, password)
        assert page.status_code == 200, (role, page.status_code, page.text[:1000])
        assert page.url.path == HOME[role.partition("@")[0]], (role, str(page.url))
        assert f"<strong>{username}</strong>" in page.text, role
    bureau = next(r for r in sign_ins if r.startswith("bureau@"))
    assert re.fullmatch(r"bureau@[a-z_]+@\d{6}", bureau) and not bureau.endswith("@610400"), "a county bureau"
    async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as http:  # and only that password
        form = await http.get("/login")
        refused = await http.post("/login", data={"username": sign_ins[bureau][0], "password": "not-the-password",
                                                  "csrf": form.cookies["sd_csrf"]},
                                  headers={"Cookie": f"sd_csrf={form.cookies['sd_csrf']}"})
    assert refused.status_code == 401, refused.status_code


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


async def test_the_reports_custody_appraisal_inspection_and_satisfaction_sections_are_filled_from_the_run(
        demo: dict[str, Any]) -> None:
    figures = json.loads(report_path(demo["run"].stdout).with_suffix(".json").read_text(encoding="utf-8"))
    sections, s, like = figures["sections"], demo["iso"].schemas, figures["run_id"] + "-%"
    import asyncpg

    conn = await asyncpg.connect(stack.dsn())
    try:
        run = f'SELECT DISTINCT case_id FROM "{s.intake}".reports WHERE source_id LIKE $1'
        lots = await conn.fetchval(f'SELECT count(*) FROM "{s.custody}".lots WHERE case_id IN ({run})', like)
        appraisals = await conn.fetchval(f'SELECT count(*) FROM "{s.appraisal}".appraisals WHERE case_id IN ({run})', like)
        targets = await conn.fetchval(f'SELECT count(*) FROM "{s.inspection}".tasks')
        surveys = await conn.fetchrow(
            f'SELECT count(*) AS n, avg(score)::float AS mean, count(*) FILTER (WHERE reopened) AS reopened'
            f' FROM "{s.routing}".surveys WHERE case_id IN ({run})', like)
        files = await conn.fetchval(
            f'SELECT count(*) FROM "{s.intake}".attachments a JOIN "{s.intake}".reports r USING (report_id)'
            f' WHERE r.source_id LIKE $1', like)
    finally:
        await conn.close()
    custody, appraisal, inspections = sections["custody"], sections["appraisal"], sections["inspections"]
    assert custody["ran"] and custody["lots"] == lots > 0, custody
    assert appraisal["ran"] and sum(r["requested"] for r in appraisal["by_provider_kind"].values()) == appraisals > 0
    assert inspections["ran"] and inspections["targets"] == targets > 0 and inspections["inspected"] > 0, inspections
    satisfaction = sections["satisfaction"]
    said = re.search(r"complainants: .*", demo["run"].stdout)
    assert satisfaction["ran"] and satisfaction["answers"] == surveys["n"] > 0, (said and said[0], dict(surveys))
    assert satisfaction["mean_score"] == pytest.approx(surveys["mean"], abs=0.01)
    assert satisfaction["reopened"] == surveys["reopened"]
    assert sum(r["answers"] for r in satisfaction["by_county"].values()) == surveys["n"]
    assert sum(r["answers"] for r in satisfaction["by_bureau"].values()) == surveys["n"]
    assert satisfaction["attachments"] == files > 0, "the complainants' photos"
    read = re.search(r"closing SMS read (\d+), (\d+) with the survey link", demo["run"].stdout)
    assert read and int(read[1]) == int(read[2]) > 0, "every closing SMS links to the console's survey page"


def test_shuangda_down_stops_everything_the_demo_left_running(demo: dict[str, Any]) -> None:
    down = cli(demo["env"], "down", timeout=120)
    assert down.returncode == 0, down.stdout[-2000:] + down.stderr[-2000:]
    assert all(name in down.stdout for name in ("prometheus", "intake", "intake-worker", "console")), down.stdout
