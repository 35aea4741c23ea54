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
    ``(component, address, state, pid, detail, restarts)`` with state one of ``running``,
    ``starting`` (alive, not ready), ``backoff`` (died, supervisord restarts it after a
    pause), ``fatal`` (supervisord gave up), ``stopped``, ``stale``, ``external``, ``absent``.

Supervision
-----------
Every component but supervisord itself is *supervised*: ``launch()`` hands it to this
state dir's supervisord (:mod:`deploy.launcher.supervisor`, started on demand) as one
``[program:<name>]``, so a process that dies is restarted by supervisord on its own,
without the launcher and without waiting behind its lock. ``stop()`` asks supervisord to
stop it (it then stays down); ``kill()`` SIGKILLs the process and supervisord brings it
back. ``pid()`` is supervisord's pid of the program. A process an older launcher started
(a pid file in ``<state>/run/``, no supervisord program) is still recognised, left alone
by ``start()`` and stopped by ``stop()`` as before.
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
    #: deaths supervisord answered with a restart (since the state dir was created)
    restarts: int = 0
    #: the singleton jobs this process leads (``shuangda status`` fills it in from Postgres)
    leads: tuple[str, ...] = ()


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
    #: seconds to wait for readiness after a launch (of the process's own: see :meth:`wait_ready`)
    ready_timeout: float = 60.0
    #: however starved of CPU, a start is given up after this many times ``ready_timeout``
    starved_cap: float = 5.0
    #: seconds between SIGTERM and SIGKILL
    stop_timeout: float = 30.0
    #: run under supervisord (restarted when it dies); False only for supervisord itself
    supervised: bool = True
    #: seconds a process must live to count as started (dying sooner: back-off, then retry)
    startsecs: int = 2
    #: signal supervisord stops it with
    stopsignal: str = "TERM"
    #: signal the whole process group (a JVM, a service's children) rather than the pid alone
    group_signals: bool = True

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

    def run_as(self) -> str | None:
        """The OS user supervisord runs the program as (None: supervisord's own)."""
        return None

    def program(self) -> str:
        """This component's ``[program:…]`` section for supervisord."""
        from deploy.launcher import supervisor as sv

        return sv.render_program(
            self.name, self.command(), log_file=self.log_path, env=self.environment(), cwd=self.cwd(),
            startsecs=self.startsecs, stopsignal=self.stopsignal, stopwaitsecs=int(self.stop_timeout),
            group_signals=self.group_signals, user=self.run_as(),
        )

    def supervisor_info(self) -> dict | None:
        """supervisord's record of this component (None when it has none)."""
        if not self.supervised:
            return None
        from deploy.launcher import supervisor as sv

        return sv.process_info(self.name)

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
        """The pid when this component's process is alive: supervisord's, else (a process an
        older launcher started) the pid file's, checked against /proc."""
        info = self.supervisor_info()
        if info is not None and info.get("pid") and info["statename"] in ("STARTING", "RUNNING", "STOPPING"):
            return int(info["pid"])
        return self.legacy_pid()

    def legacy_pid(self) -> int | None:
        """The pid of the pid file when it is alive and is this component (unsupervised)."""
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
        return self.recorded_pid() is not None and self.legacy_pid() is None

    def restarts(self) -> int:
        if not self.supervised:
            return 0
        from deploy.launcher import supervisor as sv

        return sv.restarts().get(self.name, 0)

    def status(self) -> Status:
        ext = self.external()
        if ext is not None:
            return Status(self.name, ext, EXTERNAL)
        if not self.exists():
            return Status(self.name, self.address(), ABSENT)
        info = self.supervisor_info()
        restarts = self.restarts() if info is not None else 0
        if info is not None:
            state_name = info["statename"]
            if state_name in ("STARTING", "RUNNING") and info.get("pid"):
                state = RUNNING if self.is_ready() else STARTING
                return Status(self.name, self.address(), state, int(info["pid"]), restarts=restarts)
            if state_name in ("BACKOFF", "FATAL", "STOPPING"):
                detail = info.get("spawnerr") or info.get("description") or ""
                return Status(self.name, self.address(), state_name.lower(), info.get("pid") or None,
                              detail=detail, restarts=restarts)
        pid = self.legacy_pid()
        if pid is not None:
            state = RUNNING if self.is_ready() else STARTING
            detail = "unsupervised (started by an older launcher)" if self.supervised else ""
            return Status(self.name, self.address(), state, pid, detail=detail)
        if self.recorded_pid() is not None:
            return Status(self.name, self.address(), STALE, self.recorded_pid())
        return Status(self.name, self.address(), STOPPED, restarts=restarts)

    def clean_stale(self) -> None:
        if self.is_stale():
            log.info("%s: removing stale pid file %s (pid %s is not running)", self.name, self.pid_path,
                     self.recorded_pid())
            proc.remove_pid(self.pid_path)

    # -- life cycle -------------------------------------------------------------

    def _lock(self):  # noqa: ANN202
        return proc.stack_lock(settings.run_dir() / "launcher.lock")

    def launch(self) -> Launch:
        """Start the process unless it runs already; does not wait for readiness.
        Supervised: hand it to supervisord (started on demand) and ask it to start it."""
        self.clean_stale()
        pid = self.legacy_pid()
        if pid is not None:
            return Launch(pid, started=False)
        if not self.supervised:
            return self._spawn()
        from deploy.launcher import supervisor as sv

        info = self.supervisor_info()
        if info is not None and info["statename"] in ("STARTING", "RUNNING") and info.get("pid"):
            return Launch(int(info["pid"]), started=False)
        if info is not None and info["statename"] in ("BACKOFF", "STOPPING"):
            self._supervisor_stop()
        self.prepare()
        sv.ensure()
        sv.install(self.name, self.program())
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        try:
            sv.rpc(30.0).supervisor.startProcess(self.name, False)
        except Exception as exc:  # xmlrpc Fault: SPAWN_ERROR, ALREADY_STARTED …
            if "ALREADY_STARTED" not in str(exc):
                raise LauncherError(f"supervisord could not start {self.name}: {exc} (log: {self.log_path})") from exc
        info = self.supervisor_info() or {}
        pid = int(info.get("pid") or 0) or None
        log.info("%s: started under supervisord, pid %s (log: %s)", self.name, pid, self.log_path)
        return Launch(pid, started=True, log_offset=offset)

    def _supervisor_stop(self, timeout: float | None = None) -> None:
        from deploy.launcher import supervisor as sv

        wait = self.stop_timeout if timeout is None else timeout
        try:
            sv.rpc(wait + 30.0).supervisor.stopProcess(self.name, True)
        except Exception as exc:  # NOT_RUNNING: it died meanwhile
            log.debug("%s: supervisord stop: %s", self.name, exc)

    def _spawn(self) -> Launch:
        """Start the process directly (supervisord itself), with a pid file."""
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
        """Poll the probe until ready; raise :class:`NotReady` with the log tail otherwise.

        ``timeout`` is the process's own time: seconds its main thread spent runnable but waiting
        for a CPU (:func:`proc.cpu_wait_seconds`) do not count. ``up`` starts every service at once,
        and on a loaded two-core machine nine Python start-ups at once each get a few percent of a
        CPU: the first one waited for (intake) was killed after 60 s of wall clock before it had
        even finished importing, while the processes starting beside it took its CPU. A process
        that hangs (a broker that does not answer, a deadlock) still fails after ``timeout``; a
        starved one is waited for, up to :attr:`starved_cap` × ``timeout`` of wall clock."""
        timeout = self.ready_timeout if timeout is None else timeout
        started = time.monotonic()
        hard_deadline = started + timeout * self.starved_cap
        waited_before = proc.cpu_wait_seconds(launched.pid) if launched.pid else None

        def starved() -> float:
            now = proc.cpu_wait_seconds(launched.pid) if launched.pid and waited_before is not None else None
            return max(0.0, now - waited_before) if now is not None and waited_before is not None else 0.0

        def left() -> float:
            return timeout - (time.monotonic() - started - starved())

        interval = 0.2
        while True:
            if self.is_ready(timeout=min(5.0, max(0.5, left()))):
                return
            info = self.supervisor_info()
            if info is not None:
                state_name = info["statename"]
                if state_name == "FATAL" or (launched.started and state_name in ("BACKOFF", "EXITED", "STOPPED")):
                    if launched.started:
                        self._supervisor_stop(5.0)  # do not let a broken start retry for minutes
                    raise NotReady(self._failure(f"{self.name} exited during start-up", launched))
            elif launched.pid is not None and not proc.is_alive(launched.pid):
                proc.remove_pid(self.pid_path)
                raise NotReady(self._failure(f"{self.name} exited during start-up", launched))
            if left() <= 0 or time.monotonic() >= hard_deadline:
                waited = f" (and {starved():.0f} s more waiting for a CPU)" if starved() >= 1 else ""
                if launched.started and launched.pid is not None:
                    log.warning("%s: not ready after %.0f s%s; stopping pid %s", self.name, timeout, waited,
                                launched.pid)
                    self.stop()
                raise NotReady(self._failure(f"{self.name} was not ready after {timeout:.0f} s{waited}", launched))
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
        # readiness is awaited outside the lock: no other component's start waits behind it
        self.wait_ready(launched, timeout)
        return Status(self.name, self.address(), RUNNING, self.pid())

    def absent_reason(self) -> str:
        return "not available"

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the process of the pid file if it is this component's; see module docstring."""
        if self.external() is not None:
            return False
        with self._lock():
            info = self.supervisor_info()
            if info is not None and info["statename"] in ("STARTING", "RUNNING", "BACKOFF", "STOPPING"):
                log.info("%s: stopping pid %s (supervisord)", self.name, info.get("pid"))
                self._supervisor_stop(timeout)
                return True
            pid = self.legacy_pid()
            if pid is None:
                self.clean_stale()
                return False
            log.info("%s: stopping pid %s", self.name, pid)
            proc.terminate(pid, self.stop_timeout if timeout is None else timeout)
            proc.remove_pid(self.pid_path)
            return True

    def kill(self) -> bool:
        """SIGKILL the component (chaos tests); True when something was killed. A supervised
        component is then restarted by supervisord on its own; an unsupervised one stays down."""
        if self.external() is not None:
            return False
        with self._lock():
            info = self.supervisor_info()
            if info is not None and info.get("pid") and info["statename"] in ("STARTING", "RUNNING", "STOPPING"):
                pid = int(info["pid"])
                log.info("%s: killing pid %s (SIGKILL); supervisord restarts it", self.name, pid)
                proc.kill(pid)
                return True
            pid = self.legacy_pid()
            if pid is None:
                self.clean_stale()
                return False
            log.info("%s: killing pid %s (SIGKILL)", self.name, pid)
            proc.kill(pid)
            proc.remove_pid(self.pid_path)
            return True

    def restart(self, timeout: float | None = None) -> Status:
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
