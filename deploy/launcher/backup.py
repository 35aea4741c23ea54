"""Backups a city can restore from: continuous WAL archiving plus base backups of the launcher's
Postgres, and point-in-time restore (``shuangda backup`` / ``shuangda restore --to TIME``).

* Archiving: the cluster runs with ``archive_mode = on``; every finished WAL segment is copied to
  ``<state>/pg/archive`` (``archive_command``, never overwriting), and ``archive_timeout`` forces a
  segment out at least every ``ARCHIVE_TIMEOUT_SECONDS`` — the recovery point when the data
  directory is lost is therefore at most that far behind.
* Base backups: ``pg_basebackup`` (tar, gzip, the WAL it needs fetched in) into
  ``<state>/pg/backups/<UTC stamp>/`` with a ``backup.json`` manifest (start and end, size).
* Restore: stop Postgres, move the data directory aside (``data.before-restore-<stamp>``: nothing is
  deleted), unpack the newest base backup that ended before the target, replay the archive up to
  ``--to`` (or to its end) with ``recovery_target_action = promote``, start, wait until the server
  leaves recovery. The services' inbox and outbox come back with the data and their Kafka offsets
  are on the broker, so consumers resume without loss or double application.

Both use Debian's own PostgreSQL tools; production would point the same archive and backups at an
S3-compatible store with pgBackRest (docs/operations.md). Local only; an external
``SHUANGDA_PG_DSN`` is not the launcher's to back up.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import tarfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from deploy.launcher import proc, settings
from deploy.launcher.errors import LauncherError
from deploy.launcher.postgres import SUPERUSER, Postgres

log = logging.getLogger(__name__)

ARCHIVE_TIMEOUT_SECONDS = 60
#: base backups kept; WAL older than the oldest kept backup is pruned from the archive
KEEP_BACKUPS = 3
RECOVERY_CONF = "shuangda-recovery.conf"
_STAMP = "%Y%m%dT%H%M%S%fZ"


@dataclass(frozen=True)
class Backup:
    name: str
    path: str
    started_at: str   # ISO 8601, UTC
    finished_at: str
    bytes: int
    #: the first WAL segment the backup needs (from its backup_label)
    start_wal: str = ""

    @property
    def finished(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.finished_at)


def archive_dir(pg: Postgres) -> Path:
    return pg.home / "archive"


def backups_dir(pg: Postgres) -> Path:
    return pg.home / "backups"


def archiving_conf(pg: Postgres) -> list[str]:
    """The postgresql.conf lines for WAL archiving (part of the launcher's ``shuangda.conf``)."""
    target = archive_dir(pg)
    return [
        "wal_level = replica",
        "archive_mode = on",
        f"archive_command = 'test ! -f \"{target}/%f\" && cp \"%p\" \"{target}/%f\"'",
        f"archive_timeout = {ARCHIVE_TIMEOUT_SECONDS}",
        "max_wal_senders = 4",
        f"include_if_exists = '{RECOVERY_CONF}'",
    ]


def _require_local(pg: Postgres) -> None:
    if pg.external() is not None:
        raise LauncherError("SHUANGDA_PG_DSN points at an external Postgres: back it up where it runs")


def _own(pg: Postgres, path: Path) -> None:
    owner = pg._owner()
    if owner is None:
        return
    os.chown(path, *owner)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), *owner)


def list_backups(pg: Postgres) -> list[Backup]:
    out = []
    for manifest in sorted(backups_dir(pg).glob("*/backup.json")):
        out.append(Backup(**json.loads(manifest.read_text())))
    return out


def take_backup(pg: Postgres) -> Backup:
    """A base backup of the running cluster (checkpoint fast; the WAL it needs fetched in)."""
    _require_local(pg)
    if not pg.is_ready():
        raise LauncherError("postgres is not running: `shuangda up --only postgres` first")
    started = dt.datetime.now(dt.timezone.utc)
    name = started.strftime(_STAMP)
    target = backups_dir(pg) / name
    backups_dir(pg).mkdir(parents=True, exist_ok=True)
    _own(pg, backups_dir(pg))
    result = pg._run([pg._tool("pg_basebackup"), "-h", str(pg.socket_dir), "-p", str(settings.port("pg")),
                      "-U", SUPERUSER, "-D", str(target), "-Ft", "-z", "-X", "fetch", "--checkpoint=fast",
                      "-l", f"shuangda {name}"], capture_output=True)
    if result.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        raise LauncherError(f"pg_basebackup failed: {(result.stderr or result.stdout).strip()}")
    finished = dt.datetime.now(dt.timezone.utc)
    size = sum(p.stat().st_size for p in target.iterdir())
    backup = Backup(name, str(target), started.isoformat(), finished.isoformat(), size, _start_wal(target))
    (target / "backup.json").write_text(json.dumps(asdict(backup), indent=2))
    _own(pg, target)
    log.info("postgres: base backup %s (%d bytes)", name, size)
    prune(pg)
    return backup


def _start_wal(target: Path) -> str:
    """The segment named on the ``START WAL LOCATION`` line of the backup's backup_label."""
    with tarfile.open(target / "base.tar.gz") as tar:
        member = tar.extractfile("backup_label")
        text = member.read().decode() if member else ""
    for line in text.splitlines():
        if line.startswith("START WAL LOCATION:") and "(file " in line:
            return line.split("(file ", 1)[1].rstrip(")").strip()
    return ""


def prune(pg: Postgres, keep: int = KEEP_BACKUPS) -> list[str]:
    """Keep the newest `keep` backups; remove older ones and the archived WAL before the oldest kept
    backup's first segment (it cannot be restored from any more). Returns what was removed."""
    backups = sorted(list_backups(pg), key=lambda b: b.finished)
    removed = []
    for old in backups[:-keep] if len(backups) > keep else []:
        shutil.rmtree(old.path, ignore_errors=True)
        removed.append(old.name)
    kept = backups[-keep:]
    oldest = kept[0].start_wal if kept else ""
    if oldest and archive_dir(pg).exists():
        for segment in archive_dir(pg).iterdir():
            # WAL file names sort in WAL order within a timeline; history files are kept
            if len(segment.name) >= 24 and segment.name[:24] < oldest and not segment.name.endswith(".history"):
                segment.unlink(missing_ok=True)
                removed.append(segment.name)
    return removed


def pick_backup(backups: list[Backup], to: dt.datetime | None) -> Backup:
    """The newest backup that finished before `to` (the newest of all without a target)."""
    usable = [b for b in backups if to is None or b.finished < to]
    if not usable:
        when = f" finished before {to.isoformat()}" if to else ""
        raise LauncherError(f"no base backup{when}: take one with `shuangda backup`")
    return max(usable, key=lambda b: b.finished)


def recovery_conf(pg: Postgres, to: dt.datetime | None) -> str:
    lines = [f"restore_command = 'cp \"{archive_dir(pg)}/%f\" \"%p\"'", "recovery_target_action = 'promote'"]
    if to is not None:
        lines += [f"recovery_target_time = '{to.astimezone(dt.timezone.utc).isoformat()}'",
                  "recovery_target_inclusive = true"]
    return "# written by `shuangda restore`; removed once the server left recovery\n" + "\n".join(lines) + "\n"


def restore(pg: Postgres, to: dt.datetime | None, *, timeout: float = 300.0) -> tuple[Backup, Path | None, float]:
    """Restore the cluster from a base backup and the archive, to `to` (or the archive's end).
    Returns the backup used, where the previous data directory went (None when it was gone), and the
    seconds it took."""
    from deploy.launcher import components

    _require_local(pg)
    began = time.monotonic()
    backup = pick_backup(list_backups(pg), to)
    components.down(only=["postgres"])
    aside = None
    if pg.data_dir.exists():
        aside = pg.home / f"data.before-restore-{dt.datetime.now(dt.timezone.utc).strftime(_STAMP)}"
        pg.data_dir.rename(aside)
    pg.data_dir.mkdir(mode=0o700)
    source = Path(backup.path)
    with tarfile.open(source / "base.tar.gz") as tar:
        tar.extractall(pg.data_dir, filter="fully_trusted")
    wal = source / "pg_wal.tar.gz"
    if wal.exists():
        with tarfile.open(wal) as tar:
            tar.extractall(pg.data_dir / "pg_wal", filter="fully_trusted")
    (pg.data_dir / RECOVERY_CONF).write_text(recovery_conf(pg, to))
    (pg.data_dir / "recovery.signal").touch()
    for stale in ("postmaster.pid", "postmaster.opts"):
        (pg.data_dir / stale).unlink(missing_ok=True)
    os.chmod(pg.data_dir, 0o700)
    _own(pg, pg.data_dir)
    components.up(only=["postgres"])
    deadline = time.monotonic() + timeout
    while (pg.data_dir / "recovery.signal").exists():
        if time.monotonic() > deadline:
            raise LauncherError(f"postgres still in recovery after {timeout:.0f} s; see {pg.log_path}")
        time.sleep(0.5)
    proc.wait_for(pg.is_ready, 30.0)
    (pg.data_dir / RECOVERY_CONF).unlink(missing_ok=True)
    return backup, aside, time.monotonic() - began
