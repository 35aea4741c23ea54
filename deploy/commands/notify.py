"""``shuangda notify``: operate the notification service.

    shuangda notify status                      deliveries by channel and state, disabled endpoints
    shuangda notify deliveries [--state failed] [--recipient ID] [--limit 50] [--json]
    shuangda notify retry DELIVERY              re-queue a failed or disabled delivery (id or message id)
    shuangda notify endpoints                   endpoints and whether they are disabled (410 Gone)
    shuangda notify enable ENDPOINT             put a disabled endpoint back in service
    shuangda notify secret                      a new webhook signing secret (whsec_…)
    shuangda notify directory check [PATH]      validate a directory file and show who gets what
    shuangda notify reload                      make the running notify re-read its directory (SIGHUP)
    shuangda notify sink [--port 8090] [--smtp-port 1025]
                                                local receivers that print and verify what notify sends

Endpoints come from the launcher (``SHUANGDA_PG_DSN`` when set); the schema is
``SHUANGDA_NOTIFY_SCHEMA`` or ``notify``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("notify", help="operate notifications: deliveries, endpoints, directory, a local sink",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--schema", default=None, help="notify's schema (default $SHUANGDA_NOTIFY_SCHEMA or notify)")
    sub = p.add_subparsers(dest="notify_verb", metavar="ACTION", required=True)
    sub.add_parser("status", help="deliveries by channel and state, and disabled endpoints")
    listing = sub.add_parser("deliveries", help="list deliveries, newest first")
    listing.add_argument("--state", choices=["standby", "pending", "in_flight", "delivered", "failed", "disabled"])
    listing.add_argument("--recipient")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true")
    retry = sub.add_parser("retry", help="re-queue a failed or disabled delivery with a fresh retry schedule")
    retry.add_argument("delivery", help="delivery id or message id (msg_…)")
    sub.add_parser("endpoints", help="endpoints taken out of service")
    enable = sub.add_parser("enable", help="put a disabled endpoint back in service")
    enable.add_argument("endpoint", help="as listed by `shuangda notify endpoints`, e.g. 'webhook https://…'")
    sub.add_parser("secret", help="print a new webhook signing secret")
    directory = sub.add_parser("directory", help="check a directory file")
    directory.add_argument("check", choices=["check"])
    directory.add_argument("path", nargs="?", help="default: $SHUANGDA_NOTIFY_DIRECTORY_PATH or the packaged file")
    sub.add_parser("reload", help="send SIGHUP to the notify the launcher started (re-reads the directory)")
    sink = sub.add_parser("sink", help="run local webhook, SMS and SMTP receivers that print what arrives")
    sink.add_argument("--port", type=int, default=8090, help="HTTP port for webhooks and the SMS gateway")
    sink.add_argument("--smtp-port", type=int, default=1025)
    sink.add_argument("--directory", help="directory file whose secrets verify the webhooks (default: the packaged one)")
    p.set_defaults(func=run)


def _schema(args: argparse.Namespace) -> str:
    from shared.db import check_schema

    return check_schema(args.schema or os.environ.get("SHUANGDA_NOTIFY_SCHEMA") or "notify")


def run(args: argparse.Namespace) -> int:
    from deploy.launcher.errors import LauncherError

    verb = args.notify_verb
    try:
        if verb == "secret":
            from shared.webhooks import generate_secret

            print(generate_secret(), flush=True)
            return 0
        if verb == "directory":
            return _check_directory(args.path)
        if verb == "reload":
            return _reload()
        if verb == "sink":
            return asyncio.run(_sink(args.port, args.smtp_port, args.directory))
        return asyncio.run(_db_verb(args))
    except (ValueError, OSError) as exc:
        raise LauncherError(str(exc)) from None


async def _db_verb(args: argparse.Namespace) -> int:
    from deploy.launcher import endpoints
    from deploy.launcher.errors import LauncherError
    from services.notify.adapters import postgres as repo
    from services.notify.domain.policy import RetryPolicy
    from services.notify.settings import DEFAULT_RETRY_SCHEDULE
    from shared.db import connect

    conn = await connect(endpoints().pg_dsn, _schema(args))
    try:
        verb = args.notify_verb
        if verb == "status":
            rows = await repo.status_summary(conn)
            _table([("CHANNEL", "STATE", "COUNT", "OLDEST")] + [
                (r["channel"], r["state"], str(r["n"]), r["oldest"].strftime("%Y-%m-%d %H:%M:%S")) for r in rows])
            disabled = [e for e in await repo.list_endpoints(conn) if e["disabled_at"] is not None]
            print(f"disabled endpoints: {len(disabled)}" + ("" if not disabled else " (shuangda notify endpoints)"), flush=True)
            return 0
        if verb == "deliveries":
            rows = await repo.list_deliveries(conn, state=args.state, recipient=args.recipient, limit=args.limit)
            if args.json:
                print(json.dumps([{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dict(r).items()}
                                  for r in rows], ensure_ascii=False, indent=2), flush=True)
                return 0
            _table([("ID", "MESSAGE", "TYPE", "RECIPIENT", "CHANNEL", "STATE", "ATTEMPTS", "LAST")] + [
                (str(r["id"]), r["message_id"], r["event_type"].removeprefix("shuangda."), r["recipient"], r["channel"],
                 r["state"], str(r["attempts"]), r["last_error"] or r["last_result"] or "") for r in rows])
            return 0
        if verb == "retry":
            window = RetryPolicy(tuple(DEFAULT_RETRY_SCHEDULE)).window() + 60
            n = await repo.requeue(conn, args.delivery, give_up_seconds=window)
            if not n:
                raise LauncherError(f"no failed or disabled delivery {args.delivery!r}")
            print(f"re-queued {n} delivery", flush=True)
            return 0
        if verb == "endpoints":
            rows = await repo.list_endpoints(conn)
            _table([("ENDPOINT", "CHANNEL", "STATE", "REASON")] + [
                (r["endpoint"], r["channel"], f"disabled {r['disabled_at']:%Y-%m-%d %H:%M}" if r["disabled_at"] else "enabled",
                 r["disabled_reason"] or "") for r in rows])
            return 0
        if verb == "enable":
            if not await repo.enable_endpoint(conn, args.endpoint):
                raise LauncherError(f"no disabled endpoint {args.endpoint!r}")
            print(f"{args.endpoint} enabled (notify picks it up within its sweep interval); "
                  "re-queue its disabled deliveries with `shuangda notify retry`", flush=True)
            return 0
        raise LauncherError(f"unknown action {verb}")
    finally:
        await conn.close()


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip(), flush=True)


def _directory_path(path: str | None) -> Path:
    from services.notify.settings import PACKAGED_DIRECTORY

    return Path(path or os.environ.get("SHUANGDA_NOTIFY_DIRECTORY_PATH") or PACKAGED_DIRECTORY)


def _check_directory(path: str | None) -> int:
    from deploy.launcher.errors import LauncherError
    from services.notify.adapters.directory_file import load_directory
    from services.notify.domain.directory import DirectoryError
    from services.notify.domain.notices import RULES
    from services.notify.adapters.templates import Renderer

    file = _directory_path(path)
    dev = os.environ.get("SHUANGDA_DEV", "true").lower() in ("1", "true", "yes")
    try:
        directory = load_directory(file, dev=dev)
    except DirectoryError as exc:
        raise LauncherError(str(exc)) from None
    renderer = Renderer()
    print(f"{file}: version {directory.version}, {len(directory.entries)} entries ({'dev' if dev else 'production'} rules)",
          flush=True)
    for e in directory.entries:
        types = sorted(t for t in RULES if e.subscribes(t))
        watched = sorted(t for t in RULES if e.watches(t))
        print(f"  {e.id:<28} match {e.match:<28} channels {','.join(e.channels)}"
              f"{f'  digest {e.digest_seconds:g}s' if e.digest_seconds else ''}", flush=True)
        print(f"    told of {len(types)} type(s){f', watches {len(watched)}' if watched else ''}", flush=True)
    complainant_types = sorted(t for t in RULES if directory.complainants_subscribe(t))
    print(f"  complainants: {', '.join(t.removeprefix('shuangda.') for t in complainant_types) or 'not told'}", flush=True)
    missing = sorted(t for t in RULES if not renderer.has_template(t))
    if missing:
        raise LauncherError(f"no template for {', '.join(missing)}")
    return 0


def _reload() -> int:
    from deploy.launcher import components
    from deploy.launcher.errors import LauncherError

    pid = components.NOTIFY.pid()
    if pid is None:
        raise LauncherError("notify is not running under the launcher (start it with `shuangda up`)")
    os.kill(pid, signal.SIGHUP)
    print(f"sent SIGHUP to notify (pid {pid}); see `shuangda logs notify` for the result", flush=True)
    return 0


async def _sink(port: int, smtp_port: int, directory_path: str | None) -> int:
    """Local receivers for a development stack: print each notice, verify webhook signatures."""
    from aiohttp import web

    from services.notify.adapters.directory_file import load_directory
    from shared.webhooks import WebhookVerificationError, verify

    from urllib.parse import urlsplit

    directory = load_directory(_directory_path(directory_path), dev=True)
    secrets = {urlsplit(t.url).path: t.secret.get_secret_value() for t in directory.webhook_targets().values()
               if urlsplit(t.url).port == port}
    seen: set[str] = set()

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        if request.path == "/sms":
            data = json.loads(body)
            print(f"[sms] {data.get('message_id')} → {len(data.get('to', []))} number(s): {data.get('text')}", flush=True)
            return web.json_response({"accepted": True})
        secret = secrets.get(request.path)
        try:
            if secret is None:
                raise WebhookVerificationError("no secret configured for this path")
            msg_id = verify(secret, dict(request.headers), body)
        except WebhookVerificationError as exc:
            print(f"[webhook {request.path}] REFUSED: {exc}", flush=True)
            return web.Response(status=401, text=str(exc))
        duplicate = msg_id in seen
        seen.add(msg_id)
        data = json.loads(body).get("data", {})
        print(f"[webhook {request.path}] {msg_id}{' (duplicate, ignored)' if duplicate else ''} "
              f"→ {data.get('recipient')}: {data.get('title')}", flush=True)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/{tail:.*}", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()

    from aiosmtpd.controller import Controller
    from email import message_from_bytes
    from email.policy import default

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            mail = message_from_bytes(envelope.original_content or envelope.content, policy=default)
            print(f"[smtp] → {', '.join(envelope.rcpt_tos)}: {mail['Subject']}", flush=True)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    print(f"sink: webhooks and SMS on http://127.0.0.1:{port}, SMTP on 127.0.0.1:{smtp_port} (Ctrl-C stops)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        controller.stop()
        await runner.cleanup()
    return 0
