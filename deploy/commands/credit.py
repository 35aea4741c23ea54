"""``shuangda credit``: operate the credit service.

    shuangda credit export --since 2025-01-01T00:00:00Z [--format ndjson|csv] [--out FILE]
    shuangda credit tick                                                    # one scheduler pass now

Credit's callers get their keys from the one identity store, like every service's:
``shuangda keys create market_regulation@610402 --kind bureau`` (penalties:write, credit:read),
``--kind office`` (credit:manage), ``--kind public_api`` (credit:public: applications, search),
``--kind platform --scopes credit:read`` (the platform export). Keys issued by the old
``shuangda credit client create`` keep working (``shuangda migrate`` imports them).
The schema is ``SHUANGDA_CREDIT_SCHEMA`` or ``credit``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("credit", help="credit service: platform export, scheduler pass",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--schema", default=None, help="credit's schema (default $SHUANGDA_CREDIT_SCHEMA or credit)")
    sub = p.add_subparsers(dest="credit_verb", metavar="ACTION", required=True)

    export = sub.add_parser("export", help="write the platform export (docs/credit-export-format.md)")
    export.add_argument("--since", required=True, help="ISO 8601 instant with offset, e.g. 2025-01-01T00:00:00Z")
    export.add_argument("--format", choices=("ndjson", "csv"), default="ndjson")
    export.add_argument("--out", default="-", help="file to write (default stdout)")
    export.add_argument("--limit", type=int, default=100_000)

    sub.add_parser("tick", help="run one scheduler pass (expiry, delisting, disclosure) now")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deploy.launcher.errors import LauncherError

    try:
        return asyncio.run(_run(args))
    except (ValueError, OSError) as exc:
        raise LauncherError(str(exc)) from None


def _schema(args: argparse.Namespace) -> str:
    from shared.db import check_schema

    return check_schema(args.schema or os.environ.get("SHUANGDA_CREDIT_SCHEMA") or "credit")


async def _run(args: argparse.Namespace) -> int:
    from deploy.launcher import endpoints
    from services.credit.wiring import MIGRATIONS
    from shared.db import migrate

    ep = endpoints()
    schema = _schema(args)
    await migrate(ep.pg_dsn, schema, MIGRATIONS)
    if args.credit_verb == "export":
        return await _export(args, ep.pg_dsn, schema)
    return await _tick(ep, schema)


async def _export(args: argparse.Namespace, dsn: str, schema: str) -> int:
    import datetime as dt

    from services.credit.adapters.http.common import jsonable
    from services.credit.app.disclosure import export, export_csv
    from shared.db import connect

    since = dt.datetime.fromisoformat(args.since.replace("Z", "+00:00"))
    if since.tzinfo is None:
        raise ValueError("--since needs a UTC offset (e.g. 2025-01-01T00:00:00Z)")
    conn = await connect(dsn, schema)
    try:
        lines, _ = await export(conn, since, args.limit)
    finally:
        await conn.close()
    text = export_csv(lines) if args.format == "csv" else "".join(
        json.dumps(jsonable(x), ensure_ascii=False) + "\n" for x in lines)
    if args.out == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        with open(args.out, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        print(f"{len(lines)} rows written to {args.out}", file=sys.stderr, flush=True)
    return 0


async def _tick(ep, schema: str) -> int:  # noqa: ANN001
    from services.credit.settings import CreditSettings
    from services.credit.wiring import build
    from shared.db import create_pool
    from shared.runtime.service import build_parts

    settings = CreditSettings(schema=schema, pg_dsn=ep.pg_dsn, kafka_bootstrap=ep.kafka_bootstrap)
    pool = await create_pool(settings.dsn, settings.schema, max_size=settings.pool_max_size)
    parts = None
    try:
        parts = await build_parts(build, settings, pool)
        done = await parts.scheduler.tick()
    finally:
        for close in reversed(parts.closers if parts is not None else []):
            await close()
        await pool.close()
    print(json.dumps(done), flush=True)
    return 0
