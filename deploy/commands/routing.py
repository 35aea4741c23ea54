"""Routing's operator verbs.

    shuangda calendar [--json]                      how far the holiday data reaches; provisional deadlines
    shuangda bureaus directory [--at DATE]          which bureau receives each bureau type's work
    shuangda deadlines recheck                      recompute provisional deadlines now (after adding holiday data)
    shuangda deadlines list [--provisional|--breached] [--limit N]

Bureau API keys live in the one identity store: ``shuangda keys create
market_regulation@610402 --kind bureau`` (``--kind office``, ``police`` or
``procuratorate`` for those; ``shuangda keys list|rotate|revoke``). Keys issued
by the former ``shuangda bureaus keys`` keep working once ``shuangda migrate``
(or ``shuangda keys import-legacy``) has imported them.

A bureau is ``<bureau_type>@<jurisdiction>`` (``market_regulation@610402``; the
office is ``office@610400``). Endpoints come from the launcher (or
``SHUANGDA_PG_DSN``); the schema is ``--schema``, ``SHUANGDA_ROUTING_SCHEMA`` or
``routing``. Holiday data: ``SHUANGDA_HOLIDAYS_DIR`` and ``SHUANGDA_ROUTING_HOLIDAYS_DIRS``.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("calendar", help="how far the working-day calendar reaches (and provisional deadlines)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--schema", default=None, help="routing's schema (default $SHUANGDA_ROUTING_SCHEMA or routing)")
    p.add_argument("--no-db", action="store_true", help="do not count provisional deadlines in the database")
    p.set_defaults(func=run_calendar)

    b = subparsers.add_parser("bureaus", help="the bureau directory (routing); bureau keys: shuangda keys",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("--schema", default=None, help="routing's schema (default $SHUANGDA_ROUTING_SCHEMA or routing)")
    bsub = b.add_subparsers(dest="bureaus_verb", metavar="ACTION", required=True)
    keys = bsub.add_parser("keys", help="moved: bureau API keys are `shuangda keys create BUREAU --kind bureau`",
                           description=MOVED)
    keys.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    keys.set_defaults(func=run_keys_moved)
    directory = bsub.add_parser("directory", help="which bureau receives each bureau type's work at a date")
    directory.add_argument("--at", default=None, help="YYYY-MM-DD (default: today in Asia/Shanghai)")
    directory.set_defaults(func=run_directory)

    d = subparsers.add_parser("deadlines", help="routing's legal deadlines: recheck provisional ones, list")
    d.add_argument("--schema", default=None, help="routing's schema (default $SHUANGDA_ROUTING_SCHEMA or routing)")
    dsub = d.add_subparsers(dest="deadlines_verb", metavar="ACTION", required=True)
    recheck = dsub.add_parser("recheck", help="recompute provisional deadlines with the holiday data now present")
    recheck.set_defaults(func=run_recheck)
    dl = dsub.add_parser("list", help="list open deadlines")
    group = dl.add_mutually_exclusive_group()
    group.add_argument("--provisional", action="store_true")
    group.add_argument("--breached", action="store_true")
    dl.add_argument("--limit", type=int, default=50)
    dl.add_argument("--json", action="store_true")
    dl.set_defaults(func=run_deadlines_list)


def _settings(args: argparse.Namespace) -> Any:
    from deploy.launcher import endpoints
    from services.routing.settings import RoutingSettings

    ep = endpoints()
    overrides: dict[str, Any] = {"pg_dsn": ep.pg_dsn, "kafka_bootstrap": ep.kafka_bootstrap, "dev": True}
    if getattr(args, "schema", None):
        overrides["schema"] = args.schema
    return RoutingSettings(**overrides)


async def _connect(settings: Any) -> Any:
    from shared.db import connect

    return await connect(settings.dsn, settings.schema)


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


# -- calendar -------------------------------------------------------------------------------------

def run_calendar(args: argparse.Namespace) -> int:
    from services.routing.adapters.rules_file import build_calendar
    from services.routing.adapters.watch import calendar_covered_days
    from shared.workdays import SHANGHAI

    settings = _settings(args)
    calendar = build_calendar(settings.holidays_dirs)
    now = dt.datetime.now(dt.timezone.utc)
    report: dict[str, Any] = {
        "today": now.astimezone(SHANGHAI).date(),
        "covered_until": calendar.covered_until(),
        "covered_days": calendar_covered_days(calendar, now),
        "years": dict(calendar.sources()),
    }
    if not args.no_db:
        async def provisional() -> Any:
            conn = await _connect(settings)
            try:
                return await conn.fetchval("SELECT count(*) FROM deadlines WHERE state = 'open' AND provisional")
            finally:
                await conn.close()

        try:
            report["provisional_open_deadlines"] = asyncio.run(provisional())
        except Exception as exc:  # the calendar report stands without the database
            report["provisional_open_deadlines"] = None
            report["database"] = f"unavailable: {type(exc).__name__}: {exc}"
    if args.json:
        _print_json(report)
        return 0
    print(f"holiday data covers until {report['covered_until']} ({report['covered_days']} days from today, "
          f"{report['today']})")
    for year, source in report["years"].items():
        if year >= report["today"].year - 1:
            print(f"  {year}  {source}")
    if report.get("provisional_open_deadlines") is not None:
        print(f"open provisional deadlines: {report['provisional_open_deadlines']}"
              + ("  (add the next year's holiday file, then `shuangda deadlines recheck`)"
                 if report["provisional_open_deadlines"] else ""))
    elif "database" in report:
        print(f"provisional deadlines: database {report['database']}")
    return 0


# -- keys (moved) --------------------------------------------------------------------------------------

MOVED = ("Bureau API keys moved to the one identity store: `shuangda keys create market_regulation@610402 "
         "--kind bureau` (also makes the bureau's ingress and egress topics), `shuangda keys list`, "
         "`shuangda keys rotate BUREAU`, `shuangda keys revoke BUREAU`. Keys issued before keep working.")


def run_keys_moved(args: argparse.Namespace) -> int:
    from deploy.launcher.errors import LauncherError

    raise LauncherError(MOVED)


def run_directory(args: argparse.Namespace) -> int:
    from shared.reference import load_directory
    from shared.workdays import SHANGHAI

    settings = _settings(args)
    at = dt.date.fromisoformat(args.at) if args.at else dt.datetime.now(SHANGHAI).date()
    view = load_directory(settings.bureau_directory_path).at(at)
    print(f"bureau directory {view.version} (from {view.effective_from}; {view.citation})")
    for bureau_type, target in sorted(view.mapping.items()):
        print(f"  {bureau_type:<20} → {target}" if target != bureau_type else f"  {bureau_type}")
    return 0


# -- deadlines ---------------------------------------------------------------------------------------

def run_recheck(args: argparse.Namespace) -> int:
    from services.routing.adapters.rules_file import build_calendar
    from services.routing.adapters.watch import recheck_provisional
    from services.routing.wiring import make_router

    settings = _settings(args)
    router = make_router(settings)

    async def recheck() -> list[str]:
        conn = await _connect(settings)
        try:
            return await recheck_provisional(conn, router, build_calendar(settings.holidays_dirs))
        finally:
            await conn.close()

    revised = asyncio.run(recheck())
    print(f"{len(revised)} provisional deadline(s) revised" + (":" if revised else ""))
    for deadline_id in revised:
        print(f"  {deadline_id}")
    return 0


def run_deadlines_list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    where = "state = 'open'"
    if args.provisional:
        where += " AND provisional"
    if args.breached:
        where += " AND breached_sent"

    async def listing() -> Any:
        conn = await _connect(settings)
        try:
            return [dict(r) for r in await conn.fetch(
                f"SELECT deadline_id, case_id, kind, bureau, due_at, due_date_local, provisional, breached_sent"
                f" FROM deadlines WHERE {where} ORDER BY due_at LIMIT $1", args.limit)]
        finally:
            await conn.close()

    rows = asyncio.run(listing())
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("no deadlines")
    for r in rows:
        flags = ("provisional " if r["provisional"] else "") + ("BREACHED" if r["breached_sent"] else "")
        print(f"  {r['due_date_local']}  {r['kind']:<26} {r['bureau']:<30} {r['case_id']:<28} {flags}")
    return 0
