"""``shuangda demo``: the main job — a simulated 双11 day through the whole system.

1. brings up Kafka, Postgres and Prometheus (installing what is missing), migrates;
2. starts the simulated bureaus' webhook gateway and writes notify's directory
   for it; registers the simulated hotlines, platforms, monitor and every
   bureau with the services' own registration code (API keys, credit clients);
3. (re)starts the four services with the demo's clock
   (``SHUANGDA_CLOCK=accelerated:<start>:<speed>``, dev mode), the directory and
   the SMS gateway;
4. replays the day and the follow-up days with a live view (plain lines when
   stdout is not a terminal);
5. writes the assessment report (HTML with inline SVG, and JSON) under
   ``<state>/reports/`` and prints its path;
6. creates (once) a console account per role — the office, the busiest county bureau, that
   county's police and procuratorate, ops — with a fresh random password each run;
7. restarts the services in their normal configuration (unless
   ``--keep-demo-services``) and leaves the stack, the console (pointed at this stack's
   ports) and Prometheus running; prints the console's address and the sign-ins.

    shuangda demo                          # medium day, 6000× (a day in 14 s, ~3 min in all)
    shuangda demo --size small --speed 3000
    shuangda demo --complaints 2000 --seed 7 --follow-days 14
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

SIZES = ("small", "medium", "large")
DEFAULT_SPEED = 6000.0
DEFAULT_SEED = 1111
#: variables the demo sets for the services; removed again when they are restored
DEMO_ENV = ("SHUANGDA_CLOCK", "SHUANGDA_NOTIFY_DIRECTORY_PATH", "SHUANGDA_NOTIFY_SMS_GATEWAY_URL",
            "SHUANGDA_INTAKE_INGRESS_PATTERN",
            "SHUANGDA_ROUTING_WATCH_INTERVAL_SECONDS", "SHUANGDA_ROUTING_GAUGES_INTERVAL_SECONDS",
            "SHUANGDA_NOTIFY_DIRECTORY_CHECK_SECONDS", "SHUANGDA_CREDIT_SCHEDULER_INTERVAL_SECONDS")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("demo", help="run a simulated day through the whole system and write the assessment report",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = p.add_mutually_exclusive_group()
    size.add_argument("--size", choices=SIZES, default="medium",
                      help="small (120 complaints + 80 leads), medium (450 + 350, default), large (2400 + 2400)")
    size.add_argument("--complaints", type=int, metavar="N", help="N complaints and reports (and 0.8×N leads)")
    p.add_argument("--speed", type=float, default=DEFAULT_SPEED, metavar="FACTOR",
                   help=f"simulated seconds per wall-clock second (default {DEFAULT_SPEED:g}: a day in {86400 / DEFAULT_SPEED:.0f} s)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the random seed: the same seed gives the same day")
    p.add_argument("--day", default=None, metavar="YYYY-MM-DD",
                   help="the simulated day (default: the latest 11 November within the holiday data)")
    p.add_argument("--follow-days", type=float, default=10.0, metavar="DAYS",
                   help="simulated days the bureaus keep working after the day (default 10: past the 7-working-day limit)")
    p.add_argument("--namespace", default=os.environ.get("SHUANGDA_DEMO_NAMESPACE", ""),
                   help="suffix for the simulated clients' ids (tests isolate themselves with it)")
    p.add_argument("--plain", action="store_true", help="plain progress lines instead of the live view")
    p.add_argument("--keep-demo-services", action="store_true",
                   help="leave the services running with the demo's clock and directory")
    p.add_argument("--report-dir", default=None, help="where the report goes (default <state>/reports)")
    p.add_argument("--lead-in", type=float, default=30.0, metavar="SECONDS",
                   help="wall-clock seconds the services' clocks start before the day (covers their start-up)")
    p.add_argument("--profile", choices=("dev", "secure"), default=None,
                   help="the stack's profile (default: the one the state dir records; `secure`: 3 SASL_SSL brokers, "
                        "HTTPS, a Postgres role per service, as `shuangda up --profile secure`)")
    p.set_defaults(func=run)


def default_day(today: dt.date | None = None) -> dt.date:
    """The latest 11 November (双11, the seed's key period) that has passed and is within the holiday data."""
    from shared.workdays import default_calendar

    today = today or dt.date.today()
    year = today.year if today >= dt.date(today.year, 11, 12) else today.year - 1
    try:
        covered = default_calendar().covered_until()
        while dt.date(year, 12, 31) > covered and year > 2004:
            year -= 1
    except LookupError:
        pass
    return dt.date(year, 11, 11)


def _say(text: str = "") -> None:
    print(text, flush=True)


def run(args: argparse.Namespace) -> int:
    import asyncio

    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is in the lock file
        pass
    from deploy.launcher import profile, settings

    profile.choose(args.profile)  # None: the state dir's (``up --profile secure`` recorded it)
    settings.apply_client_env()  # the operator's Kafka settings on the secure profile (as the CLI gives every verb)
    os.environ["SHUANGDA_DEV"] = "true"  # the demo is a development stack (accelerated clock, inline secrets)
    return asyncio.run(_demo(args))


def simulated_kafka_clients(namespace: str) -> list[str]:
    """The ids of the simulated clients that publish on Kafka (the big-data monitor), as World names them."""
    from sim.scenario import CLIENTS

    return [f"{c}-{namespace}" if namespace else c for c, (_, transport, _) in CLIENTS.items() if transport == "lead_kafka"]


def secure_reach(ep: Any) -> dict[str, Any]:
    """What the simulator needs on the secure profile (sim.world.Target's fields): the stack's CA for
    HTTPS, the replication factor, each simulated Kafka publisher as its own SCRAM principal (acls.sh
    grants it its ingress topic: deploy.launcher.profile.outside_client) and the gateway's certificate,
    so notify delivers the webhooks over TLS too. Nothing on the dev profile."""
    from deploy.launcher import profile, secure

    if not profile.is_secure():
        return {}
    cluster, material = secure.cluster(), secure.tls()
    return {"ca_file": ep.ca_file, "replication_factor": cluster.replication_factor(),
            "client_kafka": lambda client: cluster.connection(client, profile.outside_client(client)),
            "gateway_tls": (str(material.server_cert), str(material.server_key))}


def _settings() -> dict[str, Any]:
    from services.credit.settings import CreditSettings
    from services.intake.settings import IntakeSettings
    from services.notify.settings import NotifySettings
    from services.routing.settings import RoutingSettings

    return {"intake": IntakeSettings(), "routing": RoutingSettings(), "notify": NotifySettings(), "credit": CreditSettings()}


def _issue15_schemas() -> dict[str, str]:
    """The schemas of custody, appraisal and inspection under the names in effect (the report's sections)."""
    from services.appraisal.settings import AppraisalSettings
    from services.custody.settings import CustodySettings
    from services.inspection.settings import InspectionSettings

    return {"custody": CustodySettings().schema, "appraisal": AppraisalSettings().schema,
            "inspection": InspectionSettings().schema}


async def _prepare_schemas_and_topics(dsn: str, kafka: Any, settings: dict[str, Any], *,
                                      replication_factor: int = 1) -> None:
    """Migrate the services' schemas and create their topics under the names in effect
    (notify does not migrate by itself; tests rename everything)."""
    from dataclasses import replace

    from deploy.setup_stack import service_migrations
    from shared.db import migrate
    from shared.topics import INTERNAL, ensure_topics, priority_lane

    for name, s in settings.items():
        await migrate(dsn, s.schema, service_migrations(name))
    by_default = {spec.name: spec for spec in INTERNAL}
    names = {
        settings["intake"].case_topic: "case.intake",
        **{getattr(settings["routing"], f): d for f, d in (("intake_topic", "case.intake"), ("routing_topic", "case.routing"),
                                                           ("referral_topic", "referral.lifecycle"), ("alert_topic", "alert.hotspot"))},
        **{getattr(settings["notify"], f): d for f, d in (("notification_topic", "notification.status"),
                                                          ("credit_topic", "credit.records"))},
        **{getattr(settings["credit"], f): d for f, d in (("penalty_topic", "penalty.decisions"), ("credit_topic", "credit.records"))},
    }
    # the case topics' priority lanes under the same names (``<topic>.priority``)
    names.update({priority_lane(n): priority_lane(d) for n, d in list(names.items()) if d in ("case.intake", "case.routing")})
    await ensure_topics(kafka, [replace(by_default[d], name=n) for n, d in names.items()],
                        replication_factor=replication_factor)


async def _demo(args: argparse.Namespace) -> int:
    import asyncio

    from deploy import launcher
    from deploy.launcher.errors import LauncherError
    from deploy.launcher.settings import SERVICE_NAMES
    from deploy.setup_stack import migrate_all
    from sim import report as assessment
    from sim.live import LiveView
    from sim.observe import Schemas
    from sim.scenario import SIZES as SIZE_TABLE
    from sim.scenario import Size
    from sim.stackenv import demo_tuning
    from sim.world import RunConfig, Target, World

    started = time.monotonic()
    size = Size(args.complaints, int(args.complaints * 0.8)) if args.complaints else SIZE_TABLE[args.size]
    day = dt.date.fromisoformat(args.day) if args.day else default_day()
    if args.speed <= 0:
        raise LauncherError("--speed must be positive")
    _say(f"shuangda demo: {day} (双11) in {city_name()}, {size.hotline} complaints and reports + {size.leads} leads, "
         f"seed {args.seed}, {args.speed:g}× (a day in {86400 / args.speed:.0f} s, then {args.follow_days:g} days of follow-up)")

    # 1. infrastructure
    _say("· bringing up Kafka, Postgres and Prometheus (installing what is missing)")

    def report_up(result: Any) -> None:
        st = result.status
        what = "started" if result.started else st.state
        _say(f"    {st.component:<11} {what:<8} {st.address}")

    from deploy.launcher import profile
    from shared.config import StackSettings

    if profile.is_secure():  # recorded before the infrastructure comes up: its ACL job grants them their topics
        for client in simulated_kafka_clients(args.namespace):
            profile.outside_client(client)
    await asyncio.to_thread(launcher.up, only=["kafka", "postgres", "prometheus"], report=report_up)
    ep = launcher.endpoints()
    # the operator's connection (the CLI put the profile's Kafka settings in the environment)
    stack = StackSettings(kafka_bootstrap=ep.kafka_bootstrap, pg_dsn=ep.pg_dsn, dev=True)
    migrated = await migrate_all(ep.pg_dsn, ep.kafka_bootstrap)
    settings = _settings()
    await _prepare_schemas_and_topics(ep.pg_dsn, stack.kafka, settings, replication_factor=stack.kafka_replication_factor)
    _say(f"    migrate     done     {sum(len(v) for v in migrated.applied.values())} migration(s) applied")

    # 2. the simulated world: gateway, directory, registrations
    schemas = Schemas(*(settings[n].schema for n in ("intake", "routing", "notify", "credit")),
                      identity=settings["intake"].identity_schema, **_issue15_schemas())
    target = Target(intake=ep.services["intake"], routing=ep.services["routing"], credit=ep.services["credit"],
                    custody=ep.services["custody"], appraisal=ep.services["appraisal"],
                    inspection=ep.services["inspection"],
                    dsn=ep.pg_dsn, bootstrap=stack.kafka, schemas=schemas, namespace=args.namespace,
                    egress_prefix=settings["routing"].egress_prefix, precreate_egress=not args.namespace,
                    **secure_reach(ep))
    cfg = RunConfig(seed=args.seed, day=day, size=size, speed=args.speed, follow_days=args.follow_days,
                    lead_in_wall_seconds=args.lead_in)
    world = World(cfg, target)
    work = launcher.state_dir() / "demo" / world.run_id
    _say(f"· run {world.run_id}: planning the day and registering the simulated clients and bureaus")
    prepared = await world.prepare(work)
    _say(f"    {len(world.keys.intake)} intake clients, {len(world.keys.routing)} bureau API keys, "
         f"{len(world.keys.credit)} credit clients; webhook gateway on 127.0.0.1:{prepared.gateway_port}")

    restored = False
    sign_ins: list[tuple[str, str, str]] = []
    try:
        # 3. the services, on the demo's clock
        demo_env = {"SHUANGDA_NOTIFY_DIRECTORY_PATH": str(prepared.directory_path),
                    "SHUANGDA_NOTIFY_SMS_GATEWAY_URL": prepared.sms_url, **demo_tuning(fast_polls=False)}
        if "SHUANGDA_INTAKE_INGRESS_PATTERN" not in os.environ:
            # read only registered clients' ingress topics: a development broker also holds every test's
            # throw-away ingress topics, and working through those would hold the day up
            demo_env["SHUANGDA_INTAKE_INGRESS_PATTERN"] = await _registered_clients_pattern(
                ep.pg_dsn, settings["intake"].identity_schema)
        for name, value in console_env(ep).items():  # kept after the demo: the console stays on this stack
            os.environ.setdefault(name, value)
        services = [s.name for s in launcher.components.SERVICES if s.exists()]
        for attempt in (1, 2):
            spec = cfg.clock_spec()  # anchored now: the day begins --lead-in wall seconds from here
            anchored = time.monotonic()
            _say(f"· starting the services with SHUANGDA_CLOCK={spec}")
            os.environ.update({**demo_env, "SHUANGDA_CLOCK": spec})
            await asyncio.to_thread(launcher.down, only=services)
            await asyncio.to_thread(launcher.up, only=services, report=report_up)
            took = time.monotonic() - anchored
            if took <= cfg.lead_in_wall_seconds or attempt == 2:
                break
            # the day began before the services could take part (a loaded machine starts them slowly):
            # its submissions would all go out at once and the report count only what fell in the period
            lead_in = float(round(took * 1.5 + 10))
            _say(f"  the services took {took:.0f} s to be ready, more than the lead-in ({cfg.lead_in_wall_seconds:g} s): "
                 f"starting them again with a lead-in of {lead_in:g} s")
            cfg = world.cfg = replace(cfg, lead_in_wall_seconds=lead_in)
        if took > cfg.lead_in_wall_seconds:
            _say(f"  (the services took {took:.0f} s to be ready: the day had begun without them)")

        # 4. the day
        title = f"双打 demo — {day} 双11 · seed {args.seed} · {args.speed:g}× · run {world.run_id}"
        stop = asyncio.Event()
        with LiveView(title, plain=True if args.plain else None) as view:
            result = await world.run(spec, on_tick=view.update, stop=stop)

        # 5. the report
        assert world.clock is not None
        as_of = min(cfg.end, world.clock.now())  # the end of the simulated period
        figures = await assessment.gather(ep.pg_dsn, world.scope(), day=day, as_of=as_of, seed=args.seed,
                                          speed=args.speed, clock_spec=spec)
        out_dir = Path(args.report_dir) if args.report_dir else launcher.state_dir() / "reports"
        path = assessment.write(figures, out_dir)
        t = figures.totals
        _say("")
        _say(f"· the day in figures: {t['reports']} reports → {t['cases']} cases "
             f"({', '.join(f'{k} {v}' for k, v in sorted(t['cases_by_state'].items()))}); "
             f"median {t['median_ack_hours']} h to acknowledge; deadline compliance "
             f"{'—' if t['compliance'] is None else format(t['compliance'], '.1%')} ({t['breaches']} breaches); "
             f"{t['transfers']} transfers; {t['referrals']} criminal referrals ({t['referrals_accepted']} accepted); "
             f"{t['penalties']} penalties; {t['blacklisted']} blacklisted; {t['dead_letters']} dead letters")
        happy = figures.sections.get("satisfaction") or {}
        read = result.stats.reporters
        if happy.get("ran"):
            _say(f"  complainants: {happy['attachments']} evidence photos; closing SMS read "
                 f"{read['survey_link'] + read['survey_no_link']}, {read['survey_link']} with the survey link; "
                 f"{happy['answers']} survey answers (mean score "
                 f"{'—' if happy['mean_score'] is None else happy['mean_score']}), {happy['reopened']} cases reopened "
                 f"({', '.join(f'{k} {v}' for k, v in sorted(read.items())) or 'nothing done'})")
        skews = ", ".join(f"{k} {v / 3600:+.1f} h" for k, v in result.skews.items())
        _say(f"  (simulated in {result.wall_seconds:.0f} s; the services' clock vs the simulator's: {skews or 'not read'})")
        _say(f"· assessment report: {path}")
        _say(f"  figures as JSON:   {path.with_suffix('.json')}")

        sign_ins = await ensure_console_sign_ins(ep, busiest_county_bureau(figures.bureaus, day))

        # 6. back to normal
        if not args.keep_demo_services:
            await _restore(launcher, services, report_up)
            restored = True
    finally:
        await world.close()
        if not restored and not args.keep_demo_services and sys.exc_info()[0] is not None:
            try:
                await _restore(launcher, [s.name for s in launcher.components.SERVICES if s.exists()], report_up)
            except Exception as exc:  # the original error matters more
                _say(f"  (could not restore the services: {exc})")
    _say(f"· Prometheus: {ep.prometheus_url}  (the stack keeps running; `shuangda down` stops it)")
    if sign_ins:
        _say(f"· console: {ep.services['console']}  (left running; one sign-in per role, passwords new each run)")
        for role, username, password in sign_ins:
            _say(f"    sign-in: {role:<40} {username} / {password}")
    _say(f"done in {time.monotonic() - started:.0f} s")
    return 0


def console_env(ep: Any) -> dict[str, str]:
    """The console pointed at this stack's own services and Prometheus (their ports may be moved)."""
    env = {f"SHUANGDA_CONSOLE_{name.upper()}_URL": ep.services[name] for name in ("routing", "intake", "credit", "notify")}
    env["SHUANGDA_CONSOLE_PROMETHEUS_URL"] = ep.prometheus_url
    return env


#: bureau types with a console role of their own (not ``bureau@…``)
_OWN_ROLE_TYPES = ("office", "public_security", "procuratorate")


def busiest_county_bureau(bureaus: list[Any], day: dt.date) -> str:
    """The county bureau (``type@division``) with the most of the run's cases: its workbench has work on it."""
    from shared.reference import city, counties

    city_code = city().code
    for row in sorted(bureaus, key=lambda r: (-r.cases, r.key)):
        btype, _, division = str(row.key).partition("@")
        if btype not in _OWN_ROLE_TYPES and division and division != city_code and row.cases > 0:
            return f"{btype}@{division}"
    return f"market_regulation@{counties()[0].code}"


def console_accounts(bureau: str) -> list[tuple[str, str]]:
    """(role, username) of the demo's sign-ins: the office, the bureau's workbench, the police and the
    procuratorate of its county, ops. (The console has no appraisal-centre role.)"""
    btype, _, division = bureau.partition("@")
    username = f"demo.{btype}.{division}"
    if len(username) > 40:  # the console's limit on a username
        username = f"demo.bureau.{division}"
    return [("office", "demo.office"), (f"bureau@{bureau}", username),
            (f"police@{division}", f"demo.police.{division}"),
            (f"procuratorate@{division}", f"demo.procuratorate.{division}"), ("ops", "demo.ops")]


async def ensure_console_sign_ins(ep: Any, bureau: str) -> list[tuple[str, str, str]]:
    """One console account per role (created once, a fresh random password each run, unlocked):
    (role, username, password)."""
    import secrets

    from services.console.adapters.crypto import KeySeal
    from services.console.app.accounts import ensure_account
    from services.console.domain.accounts import parse_role
    from services.console.settings import ConsoleSettings
    from shared.db import connect

    s = ConsoleSettings(dev=True, pg_dsn=ep.pg_dsn, kafka_bootstrap=ep.kafka_bootstrap)
    console = await connect(s.dsn, s.schema)
    identity = await connect(s.dsn, s.identity_schema)
    out = []
    try:
        for role_text, username in console_accounts(bureau):
            role = parse_role(role_text, office_bureau=s.office_bureau, city_division=s.city_division)
            password = secrets.token_urlsafe(12)
            await ensure_account(console, identity, KeySeal(s.secret), username=username, password=password, role=role,
                                 display_name=f"demo {role.label}")
            out.append((role.label, username, password))
    finally:
        await console.close()
        await identity.close()
    return out


async def _registered_clients_pattern(dsn: str, schema: str) -> str:
    """The ingress-topic pattern of intake's active callers in the identity store (`schema`): ``ingress``
    dot the id of a hotline, platform or bureau (``type@division`` as ``type-division``)."""
    import re

    from shared.db import connect

    conn = await connect(dsn, schema)
    try:
        rows = await conn.fetch("SELECT principal_id FROM principals WHERE revoked_at IS NULL"
                                " AND kind IN ('hotline', 'platform', 'bureau') ORDER BY principal_id")
    finally:
        await conn.close()
    return r"ingress\.(?:" + "|".join(re.escape(r["principal_id"].replace("@", "-")) for r in rows) + ")"


async def _restore(launcher: Any, services: list[str], report_up: Any) -> None:
    import asyncio

    _say("· restarting the services in their normal configuration (wall clock, packaged directory)")
    for name in DEMO_ENV:
        os.environ.pop(name, None)
    await asyncio.to_thread(launcher.down, only=services)
    await asyncio.to_thread(launcher.up, only=services, report=report_up)


def city_name() -> str:
    from shared.reference import city

    return city().name_zh
