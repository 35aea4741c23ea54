"""``shuangda backup`` and ``shuangda restore``: base backups plus the WAL archive of the local
Postgres, and point-in-time restore (deploy.launcher.backup has the details).

    shuangda backup                                   # a base backup now
    shuangda backup --list                            # the backups kept and the archive's size
    shuangda restore --to 2026-12-07T10:15:00+08:00 --yes
    shuangda restore --yes                            # to the end of the archive

``restore`` stops Postgres, moves the data directory aside (nothing is deleted), unpacks the newest
backup that finished before the target and replays the archive up to it. The services keep
running and reconnect (their HTTP APIs answer 503 meanwhile).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("backup", help="a base backup of the local Postgres (WAL is archived continuously)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--list", action="store_true", help="list the backups instead of taking one")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_backup)
    r = subparsers.add_parser("restore", help="restore the local Postgres to a point in time",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--to", type=_instant, default=None, metavar="TIME",
                   help="ISO 8601 instant with its offset (default: the end of the archive)")
    r.add_argument("--yes", action="store_true", help="confirm: the current data directory is moved aside")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=run_restore)


def _instant(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("give the offset, e.g. 2026-12-07T10:15:00+08:00")
    return value


def run_backup(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from deploy.launcher import components
    from deploy.launcher.backup import archive_dir, list_backups, take_backup

    pg = components.POSTGRES
    if args.list:
        backups = list_backups(pg)
        archived = sorted(archive_dir(pg).glob("0*")) if archive_dir(pg).exists() else []
        if args.json:
            print(json.dumps({"backups": [asdict(b) for b in backups], "archived_segments": len(archived)}))
            return 0
        for b in backups:
            print(f"  {b.name}  finished {b.finished_at}  {b.bytes / 1e6:.1f} MB")
        print(f"  WAL archive: {len(archived)} segment(s) in {archive_dir(pg)}")
        return 0
    backup = take_backup(pg)
    if args.json:
        print(json.dumps(asdict(backup)))
    else:
        print(f"backup {backup.name}: {backup.bytes / 1e6:.1f} MB in {backup.path}")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    from deploy.launcher import components
    from deploy.launcher.backup import restore
    from deploy.launcher.errors import LauncherError

    if not args.yes:
        raise LauncherError("restore moves the current data directory aside: pass --yes to go on")
    backup, aside, seconds = restore(components.POSTGRES, args.to)
    figures = {"backup": backup.name, "to": args.to.isoformat() if args.to else "end of archive",
               "previous_data_dir": str(aside) if aside else None, "seconds": round(seconds, 1)}
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"restored from {backup.name} to {figures['to']} in {seconds:.1f} s; "
              + (f"the previous data directory is {aside}" if aside else "there was no data directory to keep"))
    return 0
