"""``shuangda keys``: the one identity store's principals and API keys (shared.identity).

    shuangda keys create hotline-12345 --kind hotline
    shuangda keys create market_regulation@610402 --kind bureau
    shuangda keys list [--json]
    shuangda keys rotate hotline-12345
    shuangda keys revoke hotline-12345
    shuangda keys import-legacy

``create`` prints the key once (only its hash is stored) and makes the Kafka
topics the caller needs: ``ingress.<id>`` for a caller that publishes
(hotline, platform, bureau) and ``egress.<bureau>`` for a bureau. A revoked or
rotated-out key is refused by every service within the directory's cache time
(5 s). ``import-legacy`` copies the keys of intake's, routing's and credit's
former key stores here, so keys issued before keep working.
"""
from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import replace
from typing import Any

from deploy.commands.clients import INGRESS_MAX_MESSAGE_BYTES


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from shared.identity.model import KINDS

    p = subparsers.add_parser("keys", help="principals and API keys of the one identity store",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="keys_verb", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="register a principal; prints its API key once")
    create.add_argument("principal", help="id: a client name (hotline-12345) or a bureau (market_regulation@610402)")
    create.add_argument("--kind", required=True, choices=KINDS)
    create.add_argument("--scopes", default=None, help="comma-separated (default by kind; see shared/identity/model.py)")
    create.add_argument("--bureau", default=None, help="type@division for bureau/office/police/procuratorate (default: the id)")
    create.add_argument("--name", default="", help="display name")
    create.add_argument("--role", action="append", default=[], dest="roles",
                        help="a role, repeatable (e.g. rights_holder for a rights holder's identification service)")
    create.add_argument("--no-topics", action="store_true", help="do not create Kafka topics")
    create.add_argument("--json", action="store_true")
    rotate = sub.add_parser("rotate", help="issue a new key (every earlier key of the principal is revoked)")
    rotate.add_argument("principal")
    rotate.add_argument("--json", action="store_true")
    revoke = sub.add_parser("revoke", help="revoke a principal and all its keys")
    revoke.add_argument("principal")
    listing = sub.add_parser("list", help="list principals")
    listing.add_argument("--json", action="store_true")
    sub.add_parser("import-legacy", help="copy the keys of the former per-service stores (idempotent)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deploy.launcher.errors import LauncherError
    from shared.identity.model import InvalidPrincipal

    try:
        return asyncio.run(_run(args))
    except InvalidPrincipal as exc:
        raise LauncherError(str(exc)) from None


def _topics_for(principal: Any) -> list[Any]:
    from shared.topics import egress, ingress

    specs = []
    if principal.kind in ("hotline", "platform", "bureau"):
        topic = ingress(principal.principal_id.replace("@", "-"))
        specs.append(replace(topic, config={**topic.config, "max.message.bytes": str(INGRESS_MAX_MESSAGE_BYTES)}))
    if principal.kind == "bureau" and principal.bureau:
        specs.append(egress(principal.bureau))
    return specs


async def _run(args: argparse.Namespace) -> int:
    from deploy.launcher import endpoints
    from deploy.launcher.errors import LauncherError
    from shared.db import connect, migrate
    from shared.identity import store
    from shared.identity.model import BUREAU_KINDS
    from shared.topics import ensure_topics

    from shared.config import StackSettings

    ep = endpoints()
    stack = StackSettings(kafka_bootstrap=ep.kafka_bootstrap, pg_dsn=ep.pg_dsn)
    schema = stack.identity_schema  # SHUANGDA_IDENTITY_SCHEMA: the schema the services read
    await migrate(ep.pg_dsn, schema, store.MIGRATIONS, runtime=False)
    conn = await connect(ep.pg_dsn, schema)
    try:
        verb = args.keys_verb
        if verb == "create":
            bureau = args.bureau or (args.principal if args.kind in BUREAU_KINDS else None)
            scopes = tuple(s.strip() for s in args.scopes.split(",") if s.strip()) if args.scopes else None
            try:
                issued = await store.create_principal(conn, args.principal, args.kind, scopes=scopes, bureau=bureau,
                                                      roles=tuple(args.roles), display_name=args.name)
            except store.PrincipalExists:
                raise LauncherError(f"{args.principal!r} exists already (shuangda keys rotate {args.principal})") from None
            topics = [] if args.no_topics else _topics_for(issued.principal)
            if topics:
                await ensure_topics(stack.kafka, topics, replication_factor=stack.kafka_replication_factor)
            _show(args, issued, [t.name for t in topics])
            return 0
        if verb == "rotate":
            issued = await store.rotate_key(conn, args.principal)
            if issued is None:
                raise LauncherError(f"no active principal {args.principal!r}")
            _show(args, issued, [])
            return 0
        if verb == "revoke":
            if not await store.revoke_principal(conn, args.principal):
                raise LauncherError(f"no active principal {args.principal!r}")
            print(f"{args.principal} revoked: its keys are refused by every service within "
                  f"{store.DEFAULT_TTL_SECONDS:g} s", flush=True)
            return 0
        if verb == "import-legacy":
            from deploy.setup_stack import service_settings

            schemas = {s: service_settings(s, ep.pg_dsn, ep.kafka_bootstrap).schema for s in ("intake", "routing", "credit")}
            counts = await store.import_legacy_keys(conn, schemas)
            print(json.dumps(counts), flush=True)
            return 0
        rows = await store.list_principals(conn)
        if args.json:
            print(json.dumps([{"principal": p.principal_id, "kind": p.kind, "bureau": p.bureau, "scopes": sorted(p.scopes),
                               "active_keys": n, "revoked": p.revoked_at is not None} for p, n in rows], indent=2), flush=True)
            return 0
        for p, n in rows:
            state = "active" if p.active else f"revoked {p.revoked_at:%Y-%m-%d}"
            print(f"{p.principal_id:40} {p.kind:14} keys={n}  {state}  {','.join(sorted(p.scopes))}", flush=True)
        return 0
    finally:
        await conn.close()


def _show(args: argparse.Namespace, issued: Any, topics: list[str]) -> None:
    body = {"principal": issued.principal.principal_id, "kind": issued.principal.kind,
            "scopes": sorted(issued.principal.scopes), "topics": topics, "api_key": issued.token}
    if getattr(args, "json", False):
        print(json.dumps(body, indent=2), flush=True)
        return
    print(f"principal {body['principal']} ({body['kind']}); scopes {', '.join(body['scopes'])}", flush=True)
    if topics:
        print(f"topics: {', '.join(topics)}", flush=True)
    print(f"API key (shown once): {issued.token}", flush=True)
