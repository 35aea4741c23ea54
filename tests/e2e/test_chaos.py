"""`shuangda chaos` as an operator runs it, on a stack of its own (its own state directory, broker,
Postgres and two instances of every service, started by the launcher): 1,000 events in while every
instance is killed -9 twice and the broker and Postgres are crash-restarted; nothing is lost,
nothing applied twice, nothing delivered twice."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from deploy.launcher import proc
from shared.config import REPO_ROOT
from sim.stackenv import free_port

pytestmark = [pytest.mark.stack, pytest.mark.chaos]

SERVICES = ("intake", "routing", "notify", "credit", "custody", "console")


def base_port(replicas: int) -> int:
    """A port p with p, p+10 … free (the launcher puts instance i on p + 10·i)."""
    for _ in range(50):
        p = free_port()
        if p + 10 * replicas < 65000 and not any(proc.port_open("127.0.0.1", p + 10 * i) for i in range(replicas)):
            return p
    raise AssertionError("no free port range")


def cli(env: dict[str, str], *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deploy.cli", *args], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    state = tmp_path_factory.mktemp("chaos-state")
    env = {k: v for k, v in os.environ.items() if k not in ("SHUANGDA_PG_DSN", "SHUANGDA_KAFKA_BOOTSTRAP")}
    env.update({"PYTHONPATH": str(REPO_ROOT), "SHUANGDA_STATE_DIR": str(state),
                "SHUANGDA_KAFKA_PORT": str(free_port()), "SHUANGDA_KAFKA_CONTROLLER_PORT": str(free_port()),
                "SHUANGDA_PG_PORT": str(free_port()), "SHUANGDA_PROMETHEUS_PORT": str(free_port())})
    for name in (*SERVICES, "intake_worker"):  # intake runs as its api and its worker process
        env[f"SHUANGDA_{name.upper()}_PORT"] = str(base_port(2))
    up = cli(env, "up", "--replicas", "2", timeout=900)
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    try:
        yield env, state
    finally:
        cli(env, "down", timeout=300)


def test_a_chaos_run_with_two_replicas_loses_nothing_and_applies_nothing_twice(own_stack: Any) -> None:
    env, _state = own_stack
    done = cli(env, "chaos", "--events", "1000", "--window", "40", "--drain-timeout", "420", "--json", timeout=900)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stdout[-2000:] + done.stderr[-4000:]
    figures = json.loads(lines[-1])
    assert figures["reports_sent"] == 1000
    assert figures["cases_opened"] == figures["cases_assigned"] == 1000, figures
    assert (figures["lost"], figures["applied_twice"], figures["duplicate_deliveries"]) == (0, 0, 0), figures
    assert figures["faults"]["service"] >= 2 * 8, "every one of the 8 instances killed twice"
    assert figures["faults"]["broker"] == 1 and figures["faults"]["postgres"] == 1
    assert figures["deliveries"] > 0 and figures["drain_seconds"] is not None
    assert done.returncode == 0 and figures["passed"] is True
    # the supervisor restarted what was killed: every instance runs again and counts its restarts
    status = cli(env, "status", "--json", timeout=60)
    assert status.returncode == 0, status.stderr
    rows = {r["component"]: r for r in json.loads(status.stdout)}
    instances = [f"{s}{suffix}" for s in ("intake", "routing", "notify", "credit") for suffix in ("", "-1")]
    assert all(rows[i]["state"] == "running" and rows[i]["restarts"] >= 2 for i in instances), rows
    assert rows["kafka"]["restarts"] >= 1 and rows["postgres"]["restarts"] >= 1
