"""The restore drill (issue 10 §7), as an operator runs it through the CLI on a Postgres of its own
(its own state directory and port, started by the launcher like the stack's): write, back up, write
more, note the instant, write again, lose the data directory, restore to the instant. Everything
committed before it is back; nothing after it is."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from shared.config import REPO_ROOT
from sim.stackenv import free_port
from tests.support import stack

pytestmark = pytest.mark.stack


def cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "deploy.cli", *args], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"shuangda {' '.join(args)}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture
def own_postgres(tmp_path: Path) -> Any:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "SHUANGDA_PG_DSN"}
    env.update({"PYTHONPATH": str(REPO_ROOT), "SHUANGDA_STATE_DIR": str(tmp_path / "state"),
                "SHUANGDA_PG_PORT": str(port)})
    cli(env, "up", "--only", "postgres")
    try:
        yield env, f"postgresql://shuangda:shuangda@127.0.0.1:{port}/shuangda", tmp_path / "state" / "pg" / "data"
    finally:
        subprocess.run([sys.executable, "-m", "deploy.cli", "down"], env=env, cwd=REPO_ROOT, capture_output=True,
                       timeout=120, stdin=subprocess.DEVNULL)


async def archived(dsn: str, segment: str) -> bool:
    conn = await asyncpg.connect(dsn)
    try:
        last = await conn.fetchval("SELECT last_archived_wal FROM pg_stat_archiver")
    finally:
        await conn.close()
    return last is not None and last >= segment


async def test_a_restore_to_an_instant_brings_back_every_row_committed_before_it_and_none_after(own_postgres: Any) -> None:
    env, dsn, data_dir = own_postgres
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE cases (id int PRIMARY KEY, batch text NOT NULL)")
        await conn.execute("INSERT INTO cases SELECT g, 'before the backup' FROM generate_series(1, 100) g")
        backup = json.loads(cli(env, "backup", "--json").stdout)
        await conn.execute("INSERT INTO cases SELECT g, 'after the backup' FROM generate_series(101, 250) g")
        instant = await conn.fetchval("SELECT clock_timestamp()")
        await conn.execute("INSERT INTO cases SELECT g, 'after the instant' FROM generate_series(251, 300) g")
        segment = await conn.fetchval("SELECT pg_walfile_name(pg_switch_wal())")
    finally:
        await conn.close()
    await stack.eventually(lambda: archived(dsn, segment), until=bool, timeout=60, what=f"WAL {segment} archived")

    # the disk is lost
    cli(env, "down", "--only", "postgres")
    shutil.rmtree(data_dir)

    done = json.loads(cli(env, "restore", "--to", instant.isoformat(), "--yes", "--json").stdout)
    assert done["backup"] == backup["name"]

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT batch, count(*) AS n, min(id) AS lo, max(id) AS hi FROM cases GROUP BY batch")
        in_recovery = await conn.fetchval("SELECT pg_is_in_recovery()")
        await conn.execute("INSERT INTO cases VALUES (301, 'written after the restore')")
    finally:
        await conn.close()
    assert {r["batch"]: (r["n"], r["lo"], r["hi"]) for r in rows} == {
        "before the backup": (100, 1, 100), "after the backup": (150, 101, 250)}
    assert in_recovery is False, "the restored server is promoted and takes writes"


async def test_restore_refuses_without_confirmation_and_without_a_backup(own_postgres: Any) -> None:
    env, _dsn, _data = own_postgres
    refused = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "deploy.cli", "restore"], env=env,
                                      cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                                      stdin=subprocess.DEVNULL)
    assert refused.returncode == 1 and "--yes" in refused.stderr
    none = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "deploy.cli", "restore", "--yes"], env=env,
                                   cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert none.returncode == 1 and "no base backup" in none.stderr


async def test_only_the_newest_backups_are_kept_and_wal_no_backup_needs_is_pruned(own_postgres: Any) -> None:
    env, dsn, data_dir = own_postgres
    names = []
    for i in range(4):
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f"CREATE TABLE t{i} AS SELECT g FROM generate_series(1, 1000) g")
            segment = await conn.fetchval("SELECT pg_walfile_name(pg_switch_wal())")
        finally:
            await conn.close()
        await stack.eventually(lambda: archived(dsn, segment), until=bool, timeout=60, what=f"WAL {segment} archived")
        names.append(json.loads(cli(env, "backup", "--json").stdout)["name"])
    listed = json.loads(cli(env, "backup", "--list", "--json").stdout)
    kept = [b["name"] for b in listed["backups"]]
    assert kept == names[1:], "the three newest"
    oldest = min(b["start_wal"] for b in listed["backups"])
    archive = data_dir.parent / "archive"
    segments = [p.name for p in archive.iterdir() if len(p.name) == 24]
    assert segments and min(segments) >= oldest
