"""Process plumbing: detached spawning, pid files, /proc checks, signals, log tails.

Only pids read from the launcher's own pid files are ever signalled, and only
after ``/proc/<pid>/cmdline`` has been checked against the component (see
:meth:`deploy.launcher.base.Component.matches`).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import logging
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Coroutine, Iterator, Mapping, Sequence, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Popen objects of the children this process started, kept so they can be reaped
#: (a dead, unreaped child would otherwise look alive in /proc as a zombie).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


# -- pid files ---------------------------------------------------------------

def read_pid(path: Path) -> int | None:
    """The pid in ``path`` (first line), or None when absent or unreadable."""
    try:
        text = path.read_text().strip().splitlines()
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        return None
    if not text:
        return None
    try:
        pid = int(text[0].strip())
    except ValueError:
        return None
    return pid if pid > 0 else None


def write_pid(path: Path, pid: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(f"{pid}\n")
    tmp.replace(path)


def remove_pid(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


# -- /proc -------------------------------------------------------------------

def _reap(pid: int) -> bool:
    """Reap ``pid`` if it is our dead child; True when it was reaped (so: dead)."""
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            _CHILDREN.pop(pid, None)
            return True
        return False
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    except OSError:
        return False
    return done == pid


def is_alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    if pid <= 0 or _reap(pid):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    # state is the field after the parenthesised comm (which may hold spaces)
    state = stat.rsplit(")", 1)[-1].split()[0] if ")" in stat else "?"
    if state not in ("Z", "X"):
        return True
    # A zombie thread-group leader whose other threads are still exiting (a JVM
    # after SIGKILL) still holds its sockets and files: not gone yet.
    try:
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except OSError:
        return False


def cmdline(pid: int) -> list[str] | None:
    """The argv of a live ``pid`` from /proc, or None when it is gone (or a zombie)."""
    if not is_alive(pid):
        return None
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    if not raw:
        return None
    return [part.decode(errors="replace") for part in raw.rstrip(b"\0").split(b"\0")]


# -- spawning ----------------------------------------------------------------

def cpu_wait_seconds(pid: int) -> float | None:
    """Seconds the process's main thread has spent runnable but waiting for a CPU (the second
    field of Linux's ``/proc/<pid>/schedstat``, in ns); None when it is gone or the kernel has no
    scheduler statistics."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def spawn(
    argv: Sequence[str],
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[int, int]:
    """Start ``argv`` detached: own session and process group, stdin from /dev/null,
    stdout+stderr appended to ``log_path``. Returns (pid, log offset at start)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        out.write(
            f"\n--- shuangda launcher: starting at {time.strftime('%Y-%m-%dT%H:%M:%S%z')}: "
            f"{' '.join(argv)}\n".encode()
        )
        out.flush()
        offset = out.tell()
        child = subprocess.Popen(  # noqa: S603 - argv built by the launcher
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
            close_fds=True,
        )
    _CHILDREN[child.pid] = child
    log.debug("spawned pid %s: %s", child.pid, " ".join(argv))
    return child.pid, offset


def signal_process(pid: int, sig: int) -> None:
    """Send ``sig`` to ``pid``'s process group when ``pid`` leads it, else to ``pid``."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def terminate(pid: int, timeout: float) -> bool:
    """SIGTERM ``pid`` (its group), wait up to ``timeout`` s, then SIGKILL.
    Returns True when it had to be killed."""
    signal_process(pid, signal.SIGTERM)
    if wait_for(lambda: not is_alive(pid), timeout):
        return False
    log.warning("pid %s did not exit %.0f s after SIGTERM; sending SIGKILL", pid, timeout)
    signal_process(pid, signal.SIGKILL)
    wait_for(lambda: not is_alive(pid), 10.0)
    return True


def kill(pid: int) -> None:
    """SIGKILL ``pid`` (its group) and wait for it to be gone."""
    signal_process(pid, signal.SIGKILL)
    if not wait_for(lambda: not is_alive(pid), 10.0):
        log.warning("pid %s still present 10 s after SIGKILL", pid)


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` s have passed."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


# -- logs, ports -------------------------------------------------------------

def tail(path: Path, lines: int = 40, since: int | None = None) -> str:
    """The last ``lines`` lines of ``path`` (only what was written after byte
    offset ``since`` when given); empty when the file does not exist."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            start = since if since is not None and since <= size else 0
            # read at most the last 256 KiB: enough for any tail we show
            start = max(start, size - 256 * 1024)
            fh.seek(start)
            data = fh.read()
    except FileNotFoundError:
        return ""
    text = data.decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_status(url: str, timeout: float, cafile: str | None = None) -> int | None:
    """The HTTP status of ``GET url``, or None when nothing answers. ``https://`` URLs are
    verified against ``cafile`` (host name included) when given, else the system's store."""
    import ssl

    handlers: list[Any] = [urllib.request.ProxyHandler({})]  # local URLs: never via a proxy
    if url.startswith("https://"):
        handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=cafile)))
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError, ValueError):
        return None


# -- sync wrappers for async probes ------------------------------------------

def run_coro(factory: Callable[[], Coroutine[Any, Any, T]], timeout: float) -> T:
    """Run the coroutine made by ``factory`` to completion and return its result.

    Works whether or not the calling thread already runs an event loop (pytest-
    asyncio tests call the sync component API from inside one): in that case the
    coroutine runs on a private loop in a helper thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(asyncio.wait_for(factory(), timeout))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="shuangda-probe") as pool:
        return pool.submit(lambda: asyncio.run(asyncio.wait_for(factory(), timeout))).result()


# -- one launcher at a time ----------------------------------------------------

class _StackLock:
    """Re-entrant (per process) exclusive lock on ``<state>/run/launcher.lock`` so
    two launchers (a CLI and a test, two CLIs) never start or stop the same
    component at once."""

    def __init__(self) -> None:
        self._mutex = threading.RLock()
        self._depth = 0
        self._fh: Any = None

    @contextlib.contextmanager
    def hold(self, path: Path) -> Iterator[None]:
        with self._mutex:
            if self._depth == 0:
                path.parent.mkdir(parents=True, exist_ok=True)
                fh = open(path, "a+")
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    log.info("waiting for another shuangda launcher to finish (%s)", path)
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                self._fh = fh
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    fh, self._fh = self._fh, None
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
                    fh.close()


_LOCK = _StackLock()


def stack_lock(path: Path) -> contextlib.AbstractContextManager[None]:
    """Hold the launcher lock at ``path`` (re-entrant within this process)."""
    return _LOCK.hold(path)
