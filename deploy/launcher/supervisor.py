"""supervisord (the ``supervisor`` package) as the launcher's process supervisor.

The launcher starts one ``supervisord`` per state dir (``python -m supervisor.supervisord
-n -c <state>/supervisor/supervisord.conf``, pid in ``<state>/run/supervisor.pid``) and
hands it every component it starts: one ``[program:<name>]`` file per component in
``<state>/supervisor/programs/``. supervisord restarts a program that dies (immediately
after a process that had run ``startsecs``; with a linear back-off of 1 s, 2 s, 3 s …
after one that died during start-up, up to ``startretries`` times, then ``FATAL``).
Restarts therefore never wait behind the launcher's lock or another component's
readiness.

The launcher talks to it over XML-RPC on a unix socket (``<state>/run/supervisor.sock``,
or a short path under /tmp when that one is too long for a unix socket).
``supervisorctl -c <state>/supervisor/supervisord.conf status`` works too.

supervisord runs with a minimal environment (PATH, HOME, locale, TMPDIR); each program
gets its own environment through :mod:`deploy.launcher.envexec`, so nothing leaks from
whichever shell or test happened to start supervisord.

Restarts per program are counted from supervisord's own log
(``<state>/logs/supervisord.log``): every ``exited: <name> (…)`` line is one end nobody
asked for (a stop the launcher asks for is logged as ``stopped:``), which supervisord
answers with a restart.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import sys
import tempfile
import xmlrpc.client
from pathlib import Path
from typing import Any, Mapping, Sequence

from deploy.launcher import proc, settings
from deploy.launcher.base import Component
from deploy.launcher.errors import LauncherError

log = logging.getLogger(__name__)

#: supervisord process states (supervisor.states.ProcessStates)
STOPPED, STARTING, RUNNING, BACKOFF, STOPPING, EXITED, FATAL, UNKNOWN = (
    "STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL", "UNKNOWN")
ALIVE_STATES = {STARTING, RUNNING, STOPPING}

#: variables supervisord itself keeps from the environment that starts it
BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME")


def home() -> Path:
    return settings.state_dir() / "supervisor"


def config_path() -> Path:
    return home() / "supervisord.conf"


def programs_dir() -> Path:
    return home() / "programs"


def env_dir() -> Path:
    return home() / "env"


def log_path() -> Path:
    return settings.log_file("supervisord")


def socket_path() -> Path:
    wanted = settings.run_dir() / "supervisor.sock"
    if len(str(wanted)) <= 100:
        return wanted
    digest = hashlib.sha1(str(wanted).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"shuangda-sv-{digest}.sock"


def _esc(value: str) -> str:
    """A value for supervisord's ini file (``%`` starts an expansion there)."""
    return value.replace("%", "%%")


def _quote(argv: Sequence[str]) -> str:
    import shlex

    return " ".join(shlex.quote(str(a)) for a in argv)


class _UnixStream(xmlrpc.client.Transport):
    """XML-RPC over the unix socket, with a timeout (supervisor's own transport has none)."""

    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__()
        self._path = str(path)
        self._timeout = timeout

    def make_connection(self, host):  # noqa: ANN001, ANN201
        import http.client

        path, timeout = self._path, self._timeout

        class Conn(http.client.HTTPConnection):
            def connect(self) -> None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(timeout)
                sock.connect(path)
                self.sock = sock

        return Conn("localhost", timeout=timeout)


def rpc(timeout: float = 10.0) -> Any:
    """An XML-RPC proxy to this state dir's supervisord (``.supervisor.getState()`` …)."""
    return xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=_UnixStream(socket_path(), timeout),
                                     allow_none=True)


def answering(timeout: float = 2.0) -> bool:
    """True when a supervisord answers on this state dir's socket."""
    if not socket_path().exists():
        return False
    try:
        return rpc(timeout).supervisor.getState()["statename"] == "RUNNING"
    except (OSError, xmlrpc.client.Error):
        return False


def process_info(name: str) -> dict[str, Any] | None:
    """supervisord's record of program ``name``, or None (no supervisord, or no such program)."""
    if not socket_path().exists():
        return None
    try:
        return rpc(5.0).supervisor.getProcessInfo(name)
    except xmlrpc.client.Fault:
        return None
    except OSError:
        return None


def all_process_info() -> list[dict[str, Any]]:
    if not socket_path().exists():
        return []
    try:
        return list(rpc(5.0).supervisor.getAllProcessInfo())
    except (OSError, xmlrpc.client.Error):
        return []


#: supervisord logs "stopped: x" for a stop it was asked for and "exited: x (…)" for any other end
_EXITED = re.compile(r" exited: (\S+) \(")
_restart_cache: dict[str, Any] = {}


def restarts() -> dict[str, int]:
    """Deaths supervisord answered with a restart, per program (from its log)."""
    path = log_path()
    try:
        st = path.stat()
    except FileNotFoundError:
        return {}
    key = (str(path), st.st_size, st.st_mtime_ns)
    if _restart_cache.get("key") == key:
        return dict(_restart_cache["counts"])
    counts: dict[str, int] = {}
    with open(path, "rb") as fh:
        for raw in fh:
            match = _EXITED.search(raw.decode(errors="replace"))
            if match:
                counts[match.group(1)] = counts.get(match.group(1), 0) + 1
    _restart_cache.update(key=key, counts=counts)
    return dict(counts)


def write_env(name: str, env: Mapping[str, str]) -> Path:
    """The environment file of program ``name`` (named by its digest, so a change is a new file)."""
    text = json.dumps(dict(sorted(env.items())), indent=0, ensure_ascii=False)
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    path = env_dir() / f"{name}-{digest}.json"
    if not path.exists():
        env_dir().mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    return path


def render_program(
    name: str,
    argv: Sequence[str],
    *,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    startsecs: int = 2,
    startretries: int = 60,
    stopsignal: str = "TERM",
    stopwaitsecs: int = 30,
    group_signals: bool = True,
    user: str | None = None,
) -> str:
    """One ``[program:name]`` section; see the module docstring."""
    command = list(argv)
    if env:
        command = [sys.executable, "-m", "deploy.launcher.envexec", str(write_env(name, env)), "--", *command]
    lines = {
        "command": _quote(command),
        "directory": str(cwd or settings.repo_root()),
        "autostart": "false",
        "autorestart": "true",
        "startsecs": str(startsecs),
        "startretries": str(startretries),
        "stopsignal": stopsignal,
        "stopwaitsecs": str(stopwaitsecs),
        "stopasgroup": "true" if group_signals else "false",
        "killasgroup": "true" if group_signals else "false",
        "redirect_stderr": "true",
        "stdout_logfile": str(log_file),
        "stdout_logfile_maxbytes": "100MB",
        "stdout_logfile_backups": "2",
    }
    if user:
        lines["user"] = user
    body = "\n".join(f"{k} = {_esc(v)}" for k, v in lines.items())
    return f"# Written by the shuangda launcher (deploy/launcher/supervisor.py).\n[program:{name}]\n{body}\n"


def install(name: str, text: str) -> None:
    """Make supervisord know program ``name`` as ``text`` says. A changed program is
    replaced only while it is not running (a running one is left alone, as ``up`` promises);
    the new definition applies at its next start by the launcher."""
    programs_dir().mkdir(parents=True, exist_ok=True)
    path = programs_dir() / f"{name}.conf"
    try:
        same = path.read_text() == text
    except FileNotFoundError:
        same = False
    if not same:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    server = rpc(30.0).supervisor
    added, changed, _removed = server.reloadConfig()[0]
    if name in added:
        server.addProcessGroup(name)
    elif name in changed:
        info = process_info(name)
        if info is not None and info["statename"] in ALIVE_STATES:
            log.info("%s: its definition changed; it keeps running as it is until it is restarted", name)
            return
        log.info("%s: applying its changed definition", name)
        server.removeProcessGroup(name)
        server.addProcessGroup(name)


def uninstall(name: str) -> bool:
    """Stop program ``name`` and forget it (scaling down). True when it was known."""
    path = programs_dir() / f"{name}.conf"
    known = process_info(name) is not None
    if known:
        server = rpc(120.0).supervisor
        info = process_info(name)
        if info is not None and info["statename"] in ALIVE_STATES | {BACKOFF}:
            try:
                server.stopProcess(name, True)
            except xmlrpc.client.Fault as exc:
                log.debug("%s: stop: %s", name, exc)
        server.removeProcessGroup(name)
    if path.exists():
        path.unlink()
    return known


class Supervisord(Component):
    """The supervisord of this state dir (itself a plain, unsupervised process)."""

    name = "supervisor"
    supervised = False
    ready_timeout = 20.0
    stop_timeout = 60.0

    def address(self) -> str:
        return f"unix://{socket_path()}"

    def matches(self, argv: Sequence[str]) -> bool:
        return "supervisor.supervisord" in argv and str(config_path()) in argv

    def probe(self, timeout: float) -> bool:
        return answering(timeout)

    def render_config(self) -> str:
        sock = socket_path()
        ident = hashlib.sha1(str(settings.state_dir()).encode()).hexdigest()[:8]
        return "\n".join([
            "; Written by the shuangda launcher on every start (deploy/launcher/supervisor.py).",
            "[unix_http_server]",
            f"file = {_esc(str(sock))}",
            "chmod = 0700",
            "",
            "[supervisord]",
            f"logfile = {_esc(str(log_path()))}",
            "logfile_maxbytes = 0",
            "loglevel = info",
            f"pidfile = {_esc(str(settings.run_dir() / 'supervisord.pid'))}",
            "nodaemon = true",
            "minfds = 4096",
            f"childlogdir = {_esc(str(settings.logs_dir()))}",
            f"identifier = shuangda-{ident}",
            "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "",
            "[supervisorctl]",
            f"serverurl = unix://{_esc(str(sock))}",
            "",
            "[include]",
            f"files = {_esc(str(programs_dir()))}/*.conf",
            "",
        ])

    def prepare(self) -> None:
        home().mkdir(parents=True, exist_ok=True)
        programs_dir().mkdir(parents=True, exist_ok=True)
        settings.logs_dir().mkdir(parents=True, exist_ok=True)
        settings.run_dir().mkdir(parents=True, exist_ok=True)
        config_path().write_text(self.render_config())
        sock = socket_path()
        if sock.exists() and not answering(1.0):
            sock.unlink()  # left by a supervisord that was killed

    def command(self) -> list[str]:
        return [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(config_path())]

    def environment(self) -> Mapping[str, str]:
        return {k: os.environ[k] for k in BASE_ENV if k in os.environ}

    def ensure(self) -> None:
        """Start supervisord unless it runs (callers hold the launcher lock)."""
        if self.is_running() and answering(2.0):
            return
        launched = self.launch()
        self.wait_ready(launched)

    def stop(self, timeout: float | None = None) -> bool:
        """Shut supervisord down (it stops whatever it still runs first)."""
        with self._lock():
            pid = self.pid()
            if pid is None:
                self.clean_stale()
                return False
            log.info("supervisor: shutting down pid %s", pid)
            try:
                rpc(10.0).supervisor.shutdown()
            except (OSError, xmlrpc.client.Error) as exc:
                log.debug("supervisor shutdown call: %s", exc)
                proc.signal_process(pid, 15)
            wait = self.stop_timeout if timeout is None else timeout
            if not proc.wait_for(lambda: not proc.is_alive(pid), wait):
                proc.terminate(pid, 5.0)
            proc.remove_pid(self.pid_path)
            return True


SUPERVISOR = Supervisord()


def ensure() -> None:
    """Make this state dir's supervisord run."""
    try:
        SUPERVISOR.ensure()
    except LauncherError as exc:
        raise LauncherError(f"supervisord could not be started: {exc}") from exc
