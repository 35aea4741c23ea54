"""``shuangda audit``: check a service's hash-chained audit log.

    shuangda audit verify --schema credit      # recompute the chain; exit 1 naming the first broken row
    shuangda audit head --schema credit        # the last row's hash, to record outside the database
    shuangda audit sql [--table audit_log]     # the table's DDL, for a service migration

The chain is described in shared/audit.py. Endpoints come from the launcher
(``SHUANGDA_PG_DSN`` when set).
"""
from __future__ import annotations

import argparse
import asyncio
import json


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("audit", help="verify a service's append-only, hash-chained audit log",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="audit_verb", metavar="ACTION", required=True)
    for name, help_text in (("verify", "recompute the chain and name the first broken row"),
                            ("head", "print the last row's sequence number and hash")):
        sp = sub.add_parser(name, help=help_text)
        sp.add_argument("--schema", required=True, help="the service schema (credit, routing, …)")
        sp.add_argument("--table", default="audit_log")
        sp.add_argument("--json", action="store_true")
        sp.set_defaults(func=run)
    sql = sub.add_parser("sql", help="print the audit table's DDL (for a service's migration file)")
    sql.add_argument("--table", default="audit_log")
    sql.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deploy.launcher.errors import LauncherError

    if args.audit_verb == "sql":
        from shared.audit import migration_sql

        print(migration_sql(args.table), end="", flush=True)
        return 0
    try:
        return asyncio.run(_run(args))
    except (ValueError, OSError) as exc:
        raise LauncherError(str(exc)) from None


async def _run(args: argparse.Namespace) -> int:
    from deploy.launcher import endpoints
    from deploy.launcher.errors import LauncherError
    from shared import audit
    from shared.db import check_schema, connect

    schema = check_schema(args.schema)
    conn = await connect(endpoints().pg_dsn, schema)
    try:
        exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{schema}.{args.table}")
        if not exists:
            raise LauncherError(f"no audit table {schema}.{args.table} (is the service migrated?)")
        rows = await conn.fetchval(f"SELECT count(*) FROM {args.table}")
        head = await audit.head(conn, table=args.table)
        if args.audit_verb == "head":
            info = {"schema": schema, "rows": rows, "head_seq": head[0] if head else None, "head_hash": head[1] if head else None}
            print(json.dumps(info) if args.json else f"{schema}.{args.table}: {rows} rows; head seq {info['head_seq']} hash {info['head_hash']}",
                  flush=True)
            return 0
        broken = await audit.verify(conn, table=args.table)
    finally:
        await conn.close()
    if args.json:
        print(json.dumps({"schema": schema, "rows": rows, "intact": broken is None,
                          "broken": None if broken is None else broken.__dict__,
                          "head_hash": head[1] if head else None}), flush=True)
    elif broken is None:
        print(f"{schema}.{args.table}: chain intact, {rows} rows; head seq {head[0] if head else '-'} hash {head[1] if head else '-'}",
              flush=True)
    else:
        print(f"{schema}.{args.table}: BROKEN at row {broken.seq} ({broken.reason}): {broken.detail}", flush=True)
    return 0 if broken is None else 1
