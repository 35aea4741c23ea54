"""``shuangda clients``: register, list, rotate and revoke intake's API clients.

    shuangda clients create hotline-12345 --kind hotline [--scopes complaints:write,complaints:read]
    shuangda clients list [--json]
    shuangda clients rotate hotline-12345
    shuangda clients revoke hotline-12345

``create`` prints the API key once (only its hash is stored) and creates the
client's Kafka ingress topic ``ingress.<name>`` (and its ``.dlq`` twin), on
which the client's back end may publish complaints and leads directly.
Endpoints come from the launcher (``SHUANGDA_PG_DSN`` / ``SHUANGDA_KAFKA_BOOTSTRAP``
when set); the schema is ``SHUANGDA_INTAKE_SCHEMA`` or ``intake``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
from dataclasses import replace
from typing import Any

DEFAULT_SCOPES = {
    "hotline": ["complaints:write", "complaints:read"],
    "platform": ["leads:write"],
    "bureau": ["complaints:write", "complaints:read", "leads:write"],
}
#: largest record a client may publish on its ingress topic (a complaint or lead is far smaller)
INGRESS_MAX_MESSAGE_BYTES = 256 * 1024


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("clients", help="register, list, rotate and revoke intake API clients",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--schema", default=None, help="intake's schema (default $SHUANGDA_INTAKE_SCHEMA or intake)")
    sub = p.add_subparsers(dest="clients_verb", metavar="ACTION", required=True)

    create = sub.add_parser("create", help="register a client; prints its API key once")
    create.add_argument("name", help="client id: 2-63 of a-z 0-9 - _ (it names the ingress topic)")
    create.add_argument("--kind", required=True, choices=sorted(DEFAULT_SCOPES))
    create.add_argument("--scopes", default=None,
                        help="comma-separated: complaints:write, complaints:read, leads:write (default by kind)")
    create.add_argument("--no-topic", action="store_true", help="do not create the ingress topic")
    create.add_argument("--json", action="store_true", help="print JSON (includes the key)")

    rotate = sub.add_parser("rotate", help="issue a new API key (the old one stops working); prints it once")
    rotate.add_argument("name")
    rotate.add_argument("--json", action="store_true")

    revoke = sub.add_parser("revoke", help="revoke a client: its key and its ingress topic stop being accepted")
    revoke.add_argument("name")

    listing = sub.add_parser("list", help="list clients")
    listing.add_argument("--json", action="store_true")

    p.set_defaults(func=run)


def _schema(args: argparse.Namespace) -> str:
    from shared.db import check_schema

    return check_schema(args.schema or os.environ.get("SHUANGDA_INTAKE_SCHEMA") or "intake")


def run(args: argparse.Namespace) -> int:
    from deploy.launcher.errors import LauncherError

    try:
        return asyncio.run(_run(args))
    except (ValueError, OSError) as exc:
        raise LauncherError(str(exc)) from None


async def _run(args: argparse.Namespace) -> int:
    from deploy.launcher import endpoints
    from deploy.launcher.errors import LauncherError
    from services.intake.adapters import postgres as db
    from services.intake.domain.model import SCOPES
    from services.intake.wiring import MIGRATIONS
    from shared.db import connect, migrate
    from shared.topics import ensure_topics, ingress, validate_client_id

    ep = endpoints()
    schema = _schema(args)
    await migrate(ep.pg_dsn, schema, MIGRATIONS)
    conn = await connect(ep.pg_dsn, schema)
    try:
        verb = args.clients_verb
        if verb == "create":
            name = validate_client_id(args.name)
            scopes = [s.strip() for s in args.scopes.split(",") if s.strip()] if args.scopes else DEFAULT_SCOPES[args.kind]
            unknown = sorted(set(scopes) - set(SCOPES))
            if unknown or not scopes:
                raise LauncherError(f"unknown scope(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(SCOPES)}")
            topic = ingress(name)
            if not args.no_topic:  # before the client exists, so a failure leaves nothing half-made
                spec = replace(topic, config={**topic.config, "max.message.bytes": str(INGRESS_MAX_MESSAGE_BYTES)})
                await ensure_topics(ep.kafka_bootstrap, [spec])
            try:
                key = await db.create_client(conn, name, args.kind, sorted(set(scopes), key=scopes.index))
            except db.ClientExists:
                raise LauncherError(f"client {name!r} exists already (rotate its key with: shuangda clients rotate {name})") from None
            _show_key(args, {"client": name, "kind": args.kind, "scopes": scopes,
                             "ingress_topic": None if args.no_topic else topic.name, "api_key": key})
            return 0
        if verb == "rotate":
            key = await db.rotate_client_key(conn, args.name)
            if key is None:
                raise LauncherError(f"no active client {args.name!r}")
            _show_key(args, {"client": args.name, "api_key": key})
            return 0
        if verb == "revoke":
            if not await db.revoke_client(conn, args.name):
                raise LauncherError(f"no active client {args.name!r}")
            print(f"client {args.name} revoked: its API key is refused and records on ingress.{args.name} go to the DLQ "
                  "(within the services' key cache time, 5 s by default)", flush=True)
            return 0
        clients = await db.list_clients(conn)
        if args.json:
            print(json.dumps([_client_json(c) for c in clients], indent=2), flush=True)
            return 0
        rows = [("CLIENT", "KIND", "SCOPES", "CREATED", "STATE")] + [
            (c.client_id, c.kind, ",".join(c.scopes), c.created_at.strftime("%Y-%m-%d %H:%M"),
             "active" if c.active else f"revoked {c.revoked_at:%Y-%m-%d}") for c in clients]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip(), flush=True)
        return 0
    finally:
        await conn.close()


def _client_json(c: Any) -> dict[str, Any]:
    return {"client": c.client_id, "kind": c.kind, "scopes": list(c.scopes), "created_at": c.created_at.isoformat(),
            "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None}


def _show_key(args: argparse.Namespace, info: dict[str, Any]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(info), flush=True)
        return
    for k, v in info.items():
        if k != "api_key" and v is not None:
            print(f"{k}: {', '.join(v) if isinstance(v, list) else v}", flush=True)
    print("API key (shown once — store it now; only a hash is kept):", flush=True)
    print(f"  {info['api_key']}", flush=True)
