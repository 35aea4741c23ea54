"""A project-local PostgreSQL cluster from Debian's binaries.

* Binaries: ``pg_ctl``/``initdb``/``psql`` on PATH or in ``/usr/lib/postgresql/*/bin``
  (the newest); when missing and we are root with apt-get, ``apt-get install -y
  postgresql`` first.
* Cluster: ``<state>/pg/data`` (initdb once: superuser ``postgres``, trust on the
  unix socket, scram-sha-256 over TCP, UTF8, C locale). Settings live in
  ``<state>/pg/data/shuangda.conf`` (included from postgresql.conf, rewritten on
  each start): listen on 127.0.0.1 only, port ``SHUANGDA_PG_PORT`` (55432), unix
  socket in ``<state>/pg/socket``, ``shared_buffers`` 256MB (``SHUANGDA_PG_SHARED_BUFFERS``: credit's
  name search reads ~400 index pages a query, which 32MB kept going back to the OS cache for), WAL archived to ``<state>/pg/archive``
  (``shuangda backup`` / ``restore``: deploy.launcher.backup).
* Runs as the ``postgres`` OS user when we are root (Postgres refuses root): the
  ``<state>/pg`` tree and ``<state>/logs/postgres.log`` are chowned to it and the
  parents of the state dir are made traversable.
* Runs in the foreground under supervisord (``postgres -D <state>/pg/data``), which
  restarts it when it dies; ``stop()`` is a fast shutdown (SIGINT) and ``kill()`` a
  crash stop (SIGQUIT, as ``pg_ctl stop -m immediate``): supervisord starts it again
  and it runs crash recovery. A cluster an older launcher started with ``pg_ctl`` is
  still recognised and stopped with ``pg_ctl stop``.
* Role ``shuangda`` (LOGIN SUPERUSER, password ``shuangda`` — dev mode only) and
  database ``shuangda`` are created when missing; DSN
  ``postgresql://shuangda:shuangda@127.0.0.1:55432/shuangda``.
* Ready when ``SELECT 1`` works through that DSN (asyncpg).

With ``SHUANGDA_PG_DSN`` set, this component is external and never started.
"""
from __future__ import annotations

import hashlib
import logging
import os
import pwd
import re
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from deploy.launcher import proc, settings, tools
from deploy.launcher.base import Component, Launch
from deploy.launcher.errors import LauncherError

log = logging.getLogger(__name__)

PG_GLOBS = ("/usr/lib/postgresql/*/bin",)
OS_USER = "postgres"
SUPERUSER = "postgres"
CONF_NAME = "shuangda.conf"
#: the local cluster's buffer cache: enough for credit's name-search posting table and the services'
#: hot indexes on a 24 GiB machine, small beside it (Postgres takes it as anonymous shared memory)
DEFAULT_SHARED_BUFFERS = "256MB"
_SIZE_RE = re.compile(r"^[1-9][0-9]*(kB|MB|GB)$")


def shared_buffers() -> str:
    """``$SHUANGDA_PG_SHARED_BUFFERS`` (a Postgres size such as ``512MB``) or 256MB."""
    value = os.environ.get("SHUANGDA_PG_SHARED_BUFFERS", "").strip() or DEFAULT_SHARED_BUFFERS
    if not _SIZE_RE.match(value):
        raise LauncherError(f"SHUANGDA_PG_SHARED_BUFFERS={value!r}: a size such as 256MB (kB, MB or GB)")
    return value
#: the service roles of the secure profile: the script compose's Postgres runs on first start
ROLES_SCRIPT = settings.repo_root() / "deploy" / "compose" / "postgres" / "init-roles.sh"


def mask_dsn(dsn: str) -> str:
    """``dsn`` with any password replaced by ``***``."""
    if "://" not in dsn or "@" not in dsn:
        return dsn
    scheme, rest = dsn.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    if ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}://{creds}@{host}"


class Postgres(Component):
    """The local Postgres cluster; see the module docstring."""

    name = "postgres"
    ready_timeout = 60.0
    stop_timeout = 60.0

    # -- paths ----------------------------------------------------------------

    @property
    def home(self) -> Path:
        return settings.state_dir() / "pg"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def socket_dir(self) -> Path:
        """``<state>/pg/socket``, or a short directory under /tmp when that path
        would exceed the 107-byte limit of a unix socket path."""
        wanted = self.home / "socket"
        if len(str(wanted / f".s.PGSQL.{settings.port('pg')}")) <= 100:
            return wanted
        digest = hashlib.sha1(str(wanted).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"shuangda-pg-{digest}"

    # -- binaries -----------------------------------------------------------------

    def bin_dir(self) -> Path:
        """The directory of pg_ctl (symlinks resolved, so initdb/psql/postgres match)."""
        pg_ctl = tools.which("pg_ctl", PG_GLOBS)
        if pg_ctl is None or tools.which("initdb", PG_GLOBS) is None:
            pg_ctl = tools.require_debian_tool("pg_ctl", "postgresql", PG_GLOBS)
        real = pg_ctl.resolve().parent
        for name in ("initdb", "psql", "postgres"):
            if not (real / name).exists():
                found = tools.which(name, PG_GLOBS)
                if found is None:
                    raise LauncherError(f"{name} not found next to {pg_ctl}: install the Debian package `postgresql`")
        return real

    def _tool(self, name: str) -> str:
        candidate = self.bin_dir() / name
        if candidate.exists():
            return str(candidate)
        found = tools.which(name, PG_GLOBS)
        assert found is not None
        return str(found)

    # -- running as the postgres user ----------------------------------------------

    def _as_pg_user(self) -> dict[str, Any]:
        if not tools.is_root():
            return {}
        try:
            entry = pwd.getpwnam(OS_USER)
        except KeyError:
            raise LauncherError(
                "Postgres refuses to run as root and there is no `postgres` OS user: install the Debian "
                "package `postgresql` (it creates the user) or run the launcher as a non-root user"
            ) from None
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _owner(self) -> tuple[int, int] | None:
        if not tools.is_root():
            return None
        entry = pwd.getpwnam(OS_USER)
        return entry.pw_uid, entry.pw_gid

    def _run(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("cwd", str(self.home))
        return subprocess.run(args, text=True, **self._as_pg_user(), **kwargs)

    # -- Component ---------------------------------------------------------------

    def external(self) -> str | None:
        dsn = settings.external_pg()
        return mask_dsn(dsn) if dsn else None

    def address(self) -> str:
        return f"postgresql://{settings.PG_USER}@{settings.HOST}:{settings.port('pg')}/{settings.PG_DATABASE}"

    def recorded_pid(self) -> int | None:
        return proc.read_pid(self.pid_path) or proc.read_pid(self.data_dir / "postmaster.pid")

    def matches(self, argv: Sequence[str]) -> bool:
        return bool(argv) and Path(argv[0]).name in ("postgres", "postmaster") and str(self.data_dir) in argv

    def clean_stale(self) -> None:
        if self.is_stale():
            proc.remove_pid(self.pid_path)

    def probe(self, timeout: float) -> bool:
        if not proc.port_open(settings.HOST, settings.port("pg"), timeout=min(timeout, 1.0)):
            return False
        return proc.run_coro(lambda: select_one(settings.local_pg_dsn(), timeout), timeout + 1.0)

    def prepare(self) -> None:
        bin_dir = self.bin_dir()
        self._make_dirs()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(bin_dir)
        self._write_conf()
        port = settings.port("pg")
        if proc.port_open(settings.HOST, port):
            raise LauncherError(
                f"port {port} is already in use by another process (not this project's Postgres); stop it, "
                f"or pick another port with SHUANGDA_PG_PORT=..., or use SHUANGDA_PG_DSN=postgresql://..."
            )

    # -- under supervisord -----------------------------------------------------------

    stopsignal = "INT"  # "fast" shutdown; TERM would wait for every client to disconnect
    group_signals = False  # the postmaster stops its own backends

    def run_as(self) -> str | None:
        return OS_USER if tools.is_root() else None

    def command(self) -> list[str]:
        # in the foreground, so supervisord watches the postmaster itself
        return [self._tool("postgres"), "-D", str(self.data_dir)]

    def cwd(self) -> Path | None:
        return self.home

    def launch(self) -> Launch:
        if self.legacy_pid() is None and self.supervisor_info() is None:
            crashed = proc.read_pid(self.data_dir / "postmaster.pid")
            if crashed is not None and Path(f"/proc/{crashed}").exists():
                # a postmaster killed hard may linger as a zombie a moment; Postgres refuses
                # to start while that pid exists
                proc.wait_for(lambda: not Path(f"/proc/{crashed}").exists(), 10.0)
        return super().launch()

    def wait_ready(self, launched: Launch, timeout: float | None = None) -> None:
        """Wait for the server, create the role and database when missing, then for ``SELECT 1``
        through the DSN."""
        timeout = self.ready_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        if not self.is_ready():
            while time.monotonic() < deadline:
                try:
                    self.ensure_role()
                    break
                except LauncherError:
                    info = self.supervisor_info()
                    if info is not None and info["statename"] in ("FATAL",) or (
                            launched.started and info is not None and info["statename"] in ("BACKOFF", "EXITED")):
                        break  # super() reports it with the log tail
                    time.sleep(0.5)
        super().wait_ready(launched, max(1.0, deadline - time.monotonic()))

    def stop(self, timeout: float | None = None) -> bool:
        if self.supervisor_info() is not None or self.external() is not None:
            return super().stop(timeout)
        return self._pg_ctl_stop("fast", timeout)

    def kill(self) -> bool:
        """Crash-stop: SIGQUIT to the postmaster (what ``pg_ctl stop -m immediate`` sends);
        supervisord starts it again and it runs crash recovery."""
        if self.external() is not None:
            return False
        info = self.supervisor_info()
        if info is None:
            return self._pg_ctl_stop("immediate", None)
        with self._lock():
            pid = int(info.get("pid") or 0)
            if not pid or info["statename"] not in ("STARTING", "RUNNING"):
                return False
            log.info("postgres: crash-stopping pid %s (SIGQUIT); supervisord restarts it", pid)
            os.kill(pid, signal.SIGQUIT)
            proc.wait_for(lambda: not proc.is_alive(pid), 30.0)
            return True

    def _pg_ctl_stop(self, mode: str, timeout: float | None) -> bool:
        """Stop a Postgres an older launcher started with pg_ctl (unsupervised)."""
        if self.external() is not None:
            return False
        with self._lock():
            pid = self.legacy_pid()
            if pid is None:
                self.clean_stale()
                return False
            log.info("postgres: stopping pid %s (pg_ctl stop -m %s)", pid, mode)
            wait = int(self.stop_timeout if timeout is None else timeout)
            result = self._run([self._tool("pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "-t", str(wait),
                                "stop"], capture_output=True)
            if result.returncode != 0 and proc.is_alive(pid):
                raise LauncherError(f"pg_ctl stop -m {mode} failed: {(result.stderr or result.stdout).strip()}")
            proc.wait_for(lambda: not proc.is_alive(pid), 10.0)
            proc.remove_pid(self.pid_path)
            return True

    # -- steps -------------------------------------------------------------------

    def _make_dirs(self) -> None:
        owner = self._owner()
        settings.logs_dir().mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        sock = self.socket_dir
        sock.mkdir(parents=True, exist_ok=True)
        (self.home / "archive").mkdir(exist_ok=True)  # the WAL archive (deploy.launcher.backup)
        self.log_path.touch(exist_ok=True)
        if owner is None:
            return
        uid, gid = owner
        self._make_traversable(self.home.parent)
        if sock.parent != self.home:
            self._make_traversable(sock.parent)
        for path in (self.home, sock, self.log_path):
            os.chown(path, uid, gid)
        os.chmod(self.home, 0o700)
        for root, dirs, files in os.walk(self.home):
            for name in dirs + files:
                target = os.path.join(root, name)
                if os.lstat(target).st_uid != uid:
                    os.lchown(target, uid, gid)

    def _make_traversable(self, path: Path) -> None:
        """Give "other" execute permission on ``path`` and its parents where missing,
        so the postgres user can reach its directories (we are root here)."""
        for directory in [path, *path.parents]:
            mode = directory.stat().st_mode
            if not mode & stat.S_IXOTH:
                log.warning("postgres: adding o+x to %s so the postgres user can reach %s", directory, self.home)
                os.chmod(directory, mode | stat.S_IXOTH)

    def _initdb(self, bin_dir: Path) -> None:
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise LauncherError(f"{self.data_dir} is not empty but holds no Postgres cluster (no PG_VERSION); "
                                f"move it away and run `shuangda up` again")
        log.info("postgres: creating the cluster in %s", self.data_dir)
        result = self._run(
            [str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, "--auth-local=trust",
             "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-instructions"],
            capture_output=True,
        )
        if result.returncode != 0:
            raise LauncherError(f"initdb failed:\n{(result.stderr or result.stdout).strip()}")

    def render_conf(self) -> str:
        from deploy.launcher.backup import archiving_conf

        return "\n".join([
            "# Written by the shuangda launcher on every start (deploy/launcher/postgres.py).",
            f"listen_addresses = '{settings.HOST}'",
            f"port = {settings.port('pg')}",
            f"unix_socket_directories = '{self.socket_dir}'",
            f"shared_buffers = {shared_buffers()}",
            "max_connections = 200",
            "timezone = 'UTC'",
            "log_timezone = 'UTC'",
            "logging_collector = off",
            "log_line_prefix = '%m [%p] %q%u@%d '",
            # continuous WAL archiving for `shuangda backup` / `shuangda restore` (deploy.launcher.backup)
            *archiving_conf(self),
            "",
        ])

    def _write_conf(self) -> None:
        conf = self.data_dir / CONF_NAME
        conf.write_text(self.render_conf())
        main = self.data_dir / "postgresql.conf"
        text = main.read_text()
        include = f"include_if_exists = '{CONF_NAME}'"
        if include not in text:
            main.write_text(text.rstrip("\n") + f"\n\n# shuangda launcher settings\n{include}\n")
        owner = self._owner()
        if owner is not None:
            os.chown(conf, *owner)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` as the cluster's superuser over the unix socket; return stdout."""
        result = self._run(
            [self._tool("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", str(self.socket_dir),
             "-p", str(settings.port("pg")), "-U", SUPERUSER, "-d", database, "-c", sql],
            capture_output=True,
        )
        if result.returncode != 0:
            raise LauncherError(f"psql failed: {(result.stderr or result.stdout).strip()}")
        return result.stdout

    def ensure_role(self) -> None:
        """Create the ``shuangda`` role and database when missing (idempotent). Its password is
        ``shuangda`` on the dev profile and a generated one on the secure profile."""
        user, password, db = settings.PG_USER, settings.pg_owner_password(), settings.PG_DATABASE
        self.psql(
            "DO $$ BEGIN "
            f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') THEN CREATE ROLE {user}; END IF; "
            "END $$; "
            f"ALTER ROLE {user} WITH LOGIN SUPERUSER PASSWORD '{password}';"
        )
        if self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{db}'").strip() != "1":
            log.info("postgres: creating database %s", db)
            self.psql(f"CREATE DATABASE {db} OWNER {user} ENCODING 'UTF8' TEMPLATE template0")


    def ensure_service_roles(self, database: str = settings.PG_DATABASE) -> str:
        """Secure profile: one login role per service that can touch only its own schema (and read
        the identity store), made by compose's own ``deploy/compose/postgres/init-roles.sh`` run
        against this cluster (as the owner role over the unix socket) in ``database``. Idempotent.
        Raises :class:`LauncherError` with the script's output when any of its statements fails."""
        from deploy.launcher import profile

        env = {
            "PATH": f"{self.bin_dir()}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(self.home),
            "PGHOST": str(self.socket_dir),
            "PGPORT": str(settings.port("pg")),
            "POSTGRES_USER": settings.PG_USER,
            "POSTGRES_DB": database,
            **profile.credentials().roles_env(),
        }
        if os.environ.get("SHUANGDA_IDENTITY_SCHEMA"):
            env["SHUANGDA_IDENTITY_SCHEMA"] = os.environ["SHUANGDA_IDENTITY_SCHEMA"]
        result = self._run(["bash", str(ROLES_SCRIPT)], env=env, capture_output=True)
        if result.returncode != 0:
            raise LauncherError(f"init-roles.sh failed:\n{(result.stderr or result.stdout).strip()}")
        return result.stdout


async def select_one(dsn: str, timeout: float) -> bool:
    """True when ``SELECT 1`` through ``dsn`` returns 1."""
    import asyncpg  # imported lazily: the CLI's --help stays fast

    try:
        conn = await asyncpg.connect(dsn, timeout=timeout)
    except Exception as exc:  # not up yet, role missing, …
        log.debug("postgres probe failed: %s", exc)
        return False
    try:
        return await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()
