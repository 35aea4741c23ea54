"""The launcher's readiness wait counts a process's own time: seconds it spent waiting for a CPU
(several start-ups at once on a loaded machine) do not use up its timeout; a process that hangs
still fails after it."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from deploy.launcher import proc
from deploy.launcher.base import Component, Launch
from deploy.launcher.errors import NotReady


class Slow(Component):
    """Becomes ready `ready_after` seconds after it is first probed; never supervised."""

    supervised = False
    ready_timeout = 0.6

    def __init__(self, ready_after: float) -> None:
        self.name = f"slow-{time.monotonic_ns()}"
        self.ready_after = ready_after
        self.first: float | None = None

    def probe(self, timeout: float) -> bool:
        self.first = self.first or time.monotonic()
        return time.monotonic() - self.first >= self.ready_after


@pytest.fixture
def child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setenv("SHUANGDA_STATE_DIR", str(tmp_path))
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        yield sleeper.pid
    finally:
        sleeper.kill()
        sleeper.wait()


def starving(monkeypatch: pytest.MonkeyPatch, share: float) -> None:
    """Pretend the process waits for a CPU `share` of every wall-clock second from now on."""
    t0 = time.monotonic()
    monkeypatch.setattr(proc, "cpu_wait_seconds", lambda pid: (time.monotonic() - t0) * share)


def test_a_starved_start_is_waited_for_past_its_timeout_until_it_is_ready(child: int,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    starving(monkeypatch, 0.8)  # 1.5 s of wall clock is ~0.3 s of its own
    comp = Slow(ready_after=1.5)
    started = time.monotonic()
    comp.wait_ready(Launch(child, started=False))
    assert time.monotonic() - started >= 1.4 > comp.ready_timeout


def test_a_start_that_hangs_with_the_cpu_to_itself_fails_after_its_timeout(child: int,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    starving(monkeypatch, 0.0)
    comp = Slow(ready_after=30)
    started = time.monotonic()
    with pytest.raises(NotReady, match="was not ready after 1 s") as refused:
        comp.wait_ready(Launch(child, started=False))
    assert comp.ready_timeout <= time.monotonic() - started < 3
    assert "CPU" not in str(refused.value)


def test_however_starved_a_start_is_given_up_at_the_cap_and_the_refusal_says_it_waited_for_a_cpu(
        child: int, monkeypatch: pytest.MonkeyPatch) -> None:
    starving(monkeypatch, 1.0)  # never any time of its own
    comp = Slow(ready_after=30)
    started = time.monotonic()
    with pytest.raises(NotReady, match="more waiting for a CPU"):
        comp.wait_ready(Launch(child, started=False))
    assert comp.ready_timeout * comp.starved_cap <= time.monotonic() - started < comp.ready_timeout * comp.starved_cap + 2


def test_cpu_wait_of_a_live_process_is_read_from_the_kernel_and_none_for_a_gone_one(child: int) -> None:
    waited = proc.cpu_wait_seconds(child)
    assert waited is not None and waited >= 0
    assert proc.cpu_wait_seconds(2**22 + 12345) is None
