"""The component life cycle shared by Kafka, Postgres, Prometheus and the services.

A :class:`Component` owns one pid file (``<state>/run/<name>.pid``) and one log
(``<state>/logs/<name>.log``). Its public methods, all synchronous and all safe
to call repeatedly:

``start(timeout=None) -> Status``
    Prepare (install/download/format when needed), launch unless already
    running, wait until ready. A running component is left alone; a stale pid
    file is removed first. On a readiness timeout a process started by this call
    is stopped again and :class:`~deploy.launcher.errors.NotReady` is raised
    with the tail of its log.
``stop(timeout=None) -> bool``
    Stop the process named by the pid file (only when ``/proc/<pid>/cmdline``
    matches): SIGTERM, wait, SIGKILL. True when something was stopped.
``kill() -> bool``
    Hard stop (SIGKILL, or the component's equivalent), for chaos tests.
``restart(timeout=None) -> Status``
    ``stop()`` then ``start()``.
``is_running() -> bool`` / ``pid() -> int | None``
    Whether the process of the pid file is alive and is this component.
``is_ready(timeout=2.0) -> bool``
    The component's readiness probe (metadata, ``SELECT 1``, ``/-/ready``, ``/readyz``).
``status() -> Status``
    ``(component, address, state, pid)`` with state one of ``running``,
    ``starting`` (alive, not ready), ``stopped``, ``stale``, ``external``, ``absent``.
``astart() / astop() / akill() / arestart()``
    The same, as coroutines (run in a worker thread), for async tests.

Subclasses implement :meth:`address`, :meth:`matches`, :meth:`probe`,
:meth:`command` (or override :meth:`launch`), and optionally :meth:`prepare`,
:meth:`environment`.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from deploy.launcher import proc, settings
from deploy.launcher.errors import LauncherError, NotReady

log = logging.getLogger(__name__)

RUNNING = "running"
STARTING = "starting"
STOPPED = "stopped"
STALE = "stale"
EXTERNAL = "external"
ABSENT = "absent"


@dataclass(frozen=True)
class Status:
    """One row of ``shuangda status``."""

    component: str
    address: str
    state: str
    pid: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class Launch:
    """What :meth:`Component.launch` did: ``started`` is False when it was already running."""

    pid: int | None
    started: bool
    log_offset: int | None = None


class Component:
    """Base class; see the module docstring for the life cycle."""

    #: short name: the pid file, the log file and the CLI's component argument
    name: str = ""
    #: seconds to wait for readiness after a launch
    ready_timeout: float = 60.0
    #: seconds between SIGTERM and SIGKILL
    stop_timeout: float = 30.0

    # -- to implement ------------------------------------------------------

    def address(self) -> str:
        raise NotImplementedError

    def matches(self, argv: Sequence[str]) -> bool:
        """True when ``argv`` (from /proc) is this component's process."""
        raise NotImplementedError

    def probe(self, timeout: float) -> bool:
        """One readiness check; must not raise for "not ready yet"."""
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> Mapping[str, str] | None:
        return None

    def cwd(self) -> Path | None:
        return None

    def prepare(self) -> None:
        """Idempotent setup before a launch (download, install, format, render config)."""

    def external(self) -> str | None:
        """The externally provided endpoint when the environment names one."""
        return None

    def exists(self) -> bool:
        """False for a component that cannot be started here at all (a service not written yet)."""
        return True

    # -- files ---------------------------------------------------------------

    @property
    def pid_path(self) -> Path:
        return settings.pid_file(self.name)

    @property
    def log_path(self) -> Path:
        return settings.log_file(self.name)

    # -- state ----------------------------------------------------------------

    def recorded_pid(self) -> int | None:
        """The pid in this component's pid file (alive or not)."""
        return proc.read_pid(self.pid_path)

    def pid(self) -> int | None:
        """The pid when this component's process is alive (checked against /proc)."""
        pid = self.recorded_pid()
        if pid is None:
            return None
        argv = proc.cmdline(pid)
        if argv is None or not self.matches(argv):
            return None
        return pid

    def is_running(self) -> bool:
        return self.pid() is not None

    def is_ready(self, timeout: float = 2.0) -> bool:
        try:
            return bool(self.probe(timeout))
        except Exception as exc:  # a probe must never break status/up
            log.debug("%s probe failed: %s", self.name, exc)
            return False

    def is_stale(self) -> bool:
        """A pid file whose process is gone or is not this component."""
        return self.recorded_pid() is not None and self.pid() is None

    def status(self) -> Status:
        ext = self.external()
        if ext is not None:
            return Status(self.name, ext, EXTERNAL)
        if not self.exists():
            return Status(self.name, self.address(), ABSENT)
        pid = self.pid()
        if pid is not None:
            state = RUNNING if self.is_ready() else STARTING
            return Status(self.name, self.address(), state, pid)
        if self.recorded_pid() is not None:
            return Status(self.name, self.address(), STALE, self.recorded_pid())
        return Status(self.name, self.address(), STOPPED)

    def clean_stale(self) -> None:
        if self.is_stale():
            log.info("%s: removing stale pid file %s (pid %s is not running)", self.name, self.pid_path,
                     self.recorded_pid())
            proc.remove_pid(self.pid_path)

    # -- life cycle -------------------------------------------------------------

    def _lock(self):  # noqa: ANN202
        return proc.stack_lock(settings.run_dir() / "launcher.lock")

    def launch(self) -> Launch:
        """Start the process unless it runs already; does not wait for readiness."""
        self.clean_stale()
        pid = self.pid()
        if pid is not None:
            return Launch(pid, started=False)
        self.prepare()
        env = self.environment()
        pid, offset = proc.spawn(self.command(), self.log_path, env=env, cwd=self.cwd())
        proc.write_pid(self.pid_path, pid)
        log.info("%s: started pid %s (log: %s)", self.name, pid, self.log_path)
        return Launch(pid, started=True, log_offset=offset)

    def wait_ready(self, launched: Launch, timeout: float | None = None) -> None:
        """Poll the probe until ready; raise :class:`NotReady` with the log tail otherwise."""
        timeout = self.ready_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        interval = 0.2
        while True:
            if self.is_ready(timeout=min(5.0, max(0.5, deadline - time.monotonic()))):
                return
            if launched.pid is not None and not proc.is_alive(launched.pid):
                proc.remove_pid(self.pid_path)
                raise NotReady(self._failure(f"{self.name} exited during start-up", launched))
            if time.monotonic() >= deadline:
                if launched.started and launched.pid is not None:
                    log.warning("%s: not ready after %.0f s; stopping pid %s", self.name, timeout, launched.pid)
                    self.stop()
                raise NotReady(self._failure(f"{self.name} was not ready after {timeout:.0f} s", launched))
            time.sleep(interval)
            interval = min(interval * 1.5, 1.0)

    def _failure(self, headline: str, launched: Launch) -> str:
        text = proc.tail(self.log_path, 30, since=launched.log_offset)
        where = f"(full log: {self.log_path})"
        if not text:
            return f"{headline} {where}"
        return f"{headline} {where}; last lines:\n" + "\n".join("    " + line for line in text.splitlines())

    def start(self, timeout: float | None = None) -> Status:
        """Make the component run and be ready; see the module docstring."""
        ext = self.external()
        if ext is not None:
            log.info("%s: external (%s), not started", self.name, ext)
            return Status(self.name, ext, EXTERNAL)
        if not self.exists():
            raise LauncherError(f"{self.name} cannot be started: {self.absent_reason()}")
        with self._lock():
            launched = self.launch()
            self.wait_ready(launched, timeout)
            return Status(self.name, self.address(), RUNNING, self.pid())

    def absent_reason(self) -> str:
        return "not available"

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the process of the pid file if it is this component's; see module docstring."""
        if self.external() is not None:
            return False
        with self._lock():
            pid = self.pid()
            if pid is None:
                self.clean_stale()
                return False
            log.info("%s: stopping pid %s", self.name, pid)
            proc.terminate(pid, self.stop_timeout if timeout is None else timeout)
            proc.remove_pid(self.pid_path)
            return True

    def kill(self) -> bool:
        """SIGKILL the component (chaos tests); True when something was killed."""
        if self.external() is not None:
            return False
        with self._lock():
            pid = self.pid()
            if pid is None:
                self.clean_stale()
                return False
            log.info("%s: killing pid %s (SIGKILL)", self.name, pid)
            proc.kill(pid)
            proc.remove_pid(self.pid_path)
            return True

    def restart(self, timeout: float | None = None) -> Status:
        with self._lock():
            self.stop()
            return self.start(timeout)

    # -- async façades ---------------------------------------------------------

    async def astart(self, timeout: float | None = None) -> Status:
        return await asyncio.to_thread(self.start, timeout)

    async def astop(self, timeout: float | None = None) -> bool:
        return await asyncio.to_thread(self.stop, timeout)

    async def akill(self) -> bool:
        return await asyncio.to_thread(self.kill)

    async def arestart(self, timeout: float | None = None) -> Status:
        return await asyncio.to_thread(self.restart, timeout)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
