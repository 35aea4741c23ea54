"""``shuangda credit``: operate the credit service.

    shuangda credit client create market_regulation-610402 --role bureau   # prints the API key once
    shuangda credit client create procurement-center --role department --name 政府采购中心
    shuangda credit client revoke market_regulation-610402
    shuangda credit client list
    shuangda credit export --since 2025-01-01T00:00:00Z [--format ndjson|csv] [--out FILE]
    shuangda credit tick                                                    # one scheduler pass now

A bureau's client id is ``<bureau type>-<division code>`` — the same name as its
Kafka ingress topic ``ingress.<client id>``; the key acts as that bureau.
Roles: bureau (decides penalties and repairs), office, department (queries),
portal (files repair applications), platform (export). Only a hash of the
key's secret is stored. The schema is ``SHUANGDA_CREDIT_SCHEMA`` or ``credit``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys

ROLES = ("bureau", "office", "department", "portal", "platform")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("credit", help="credit service: API clients, platform export, scheduler pass",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--schema", default=None, help="credit's schema (default $SHUANGDA_CREDIT_SCHEMA or credit)")
    sub = p.add_subparsers(dest="credit_verb", metavar="ACTION", required=True)

    client = sub.add_parser("client", help="create, revoke or list API clients")
    csub = client.add_subparsers(dest="client_verb", metavar="ACTION", required=True)
    create = csub.add_parser("create", help="register a client (or issue a new key); prints the key once")
    create.add_argument("client_id", help="bureaus: <bureau type>-<division code>, e.g. market_regulation-610402")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--name", default=None, help="display name")
    create.add_argument("--json", action="store_true")
    revoke = csub.add_parser("revoke", help="disable a client's key")
    revoke.add_argument("client_id")
    csub.add_parser("list", help="list clients")

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
    if args.credit_verb == "client":
        return await _client(args, ep.pg_dsn, schema)
    if args.credit_verb == "export":
        return await _export(args, ep.pg_dsn, schema)
    return await _tick(ep, schema)


async def _client(args: argparse.Namespace, dsn: str, schema: str) -> int:
    from deploy.launcher.errors import LauncherError
    from services.credit.adapters import postgres as db
    from services.credit.handlers import bureau_from_topic
    from shared.db import connect
    from shared.runtime import NonRetryableError
    from shared.topics import validate_client_id

    conn = await connect(dsn, schema)
    try:
        if args.client_verb == "list":
            rows = await conn.fetch("SELECT client_id, role, name, created_at, disabled_at FROM clients ORDER BY client_id")
            for r in rows:
                state = "active" if r["disabled_at"] is None else f"revoked {r['disabled_at']:%Y-%m-%d}"
                print(f"{r['client_id']:<40} {r['role']:<10} {state:<20} {r['name']}", flush=True)
            return 0
        if args.client_verb == "revoke":
            done = await conn.fetchval("UPDATE clients SET disabled_at = now() WHERE client_id = $1 AND disabled_at IS NULL"
                                       " RETURNING true", args.client_id)
            if not done:
                raise LauncherError(f"no active client {args.client_id!r}")
            print(f"client {args.client_id} revoked (effective within the service's key cache time)", flush=True)
            return 0
        client_id = validate_client_id(args.client_id)
        bureau_type = division = None
        if args.role == "bureau":
            try:
                b = bureau_from_topic(f"ingress.{client_id}")
            except NonRetryableError as exc:
                raise LauncherError(f"{client_id}: {exc.detail}") from None
            bureau_type, division = b.bureau_type, b.division
        secret = secrets.token_urlsafe(32)
        await db.create_client(conn, client_id=client_id, role=args.role, name=args.name or client_id, secret=secret,
                               bureau_type=bureau_type, division=division)
    finally:
        await conn.close()
    key = f"{client_id}.{secret}"
    if args.json:
        print(json.dumps({"client": client_id, "role": args.role, "api_key": key}), flush=True)
    else:
        print(f"client: {client_id} ({args.role})", flush=True)
        print("API key (shown once — store it now; only a hash is kept):", flush=True)
        print(f"  {key}", flush=True)
    return 0


async def _export(args: argparse.Namespace, dsn: str, schema: str) -> int:
    import datetime as dt

    from services.credit.adapters import postgres as db
    from services.credit.adapters.http import _jsonable, export_csv, export_line
    from shared.db import connect

    since = dt.datetime.fromisoformat(args.since.replace("Z", "+00:00"))
    if since.tzinfo is None:
        raise ValueError("--since needs a UTC offset (e.g. 2025-01-01T00:00:00Z)")
    conn = await connect(dsn, schema)
    try:
        await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
        rows = await db.export_changes(conn, since, args.limit)
    finally:
        await conn.close()
    lines = [export_line(r) for r in rows]
    text = export_csv(lines) if args.format == "csv" else "".join(
        json.dumps(_jsonable(x), ensure_ascii=False) + "\n" for x in lines)
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
