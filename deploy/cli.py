"""The ``shuangda`` command line (``.venv/bin/shuangda``, or ``bin/shuangda``).

Verbs here: ``up``, ``down``, ``status``, ``logs``. Run ``shuangda VERB --help``.

Adding a verb
-------------
Either decorate a handler in this file::

    def _configure_migrate(p: argparse.ArgumentParser) -> None:
        p.add_argument("--service")

    @command("migrate", "apply the services' SQL migrations", _configure_migrate)
    def cmd_migrate(args: argparse.Namespace) -> int:
        ...
        return 0

or put a module in the package ``deploy.commands`` (``deploy/commands/<verb>.py``)
that defines ``register(subparsers)``; it is discovered automatically::

    def register(subparsers):
        p = subparsers.add_parser("dlq", help="inspect and replay dead letters")
        p.add_argument("topic")
        p.set_defaults(func=run)          # run(args) -> int

A handler returns the exit code; raising :class:`deploy.launcher.LauncherError`
prints ``shuangda: error: <message>`` and exits 1. Keep imports of heavy
modules inside handlers so ``shuangda --help`` stays fast. The CLI prints;
library code logs (``-v`` shows DEBUG, ``-q`` only warnings).
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import pkgutil
import sys
import time
from dataclasses import dataclass
from typing import Callable, Sequence

Handler = Callable[[argparse.Namespace], int]
Configure = Callable[[argparse.ArgumentParser], None]

PLUGIN_PACKAGES = ("deploy.commands",)


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    handler: Handler
    configure: Configure | None = None


#: verbs defined in this file, in the order ``--help`` lists them
COMMANDS: dict[str, Command] = {}


def command(name: str, help: str, configure: Configure | None = None) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the handler of verb ``name``; ``configure`` adds its arguments."""

    def register(fn: Handler) -> Handler:
        if name in COMMANDS:
            raise ValueError(f"verb {name!r} registered twice")
        COMMANDS[name] = Command(name, help, fn, configure)
        return fn

    return register


def _split_names(values: Sequence[str] | None) -> list[str] | None:
    if not values:
        return None
    out: list[str] = []
    for value in values:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out or None


def _say(text: str = "") -> None:
    print(text, flush=True)


# -- up ------------------------------------------------------------------------

def _configure_up(p: argparse.ArgumentParser) -> None:
    p.add_argument("--infra-only", action="store_true", help="start only Kafka, Postgres and Prometheus")
    p.add_argument("--only", action="append", metavar="NAMES",
                   help="comma-separated components to start, e.g. kafka,postgres (repeatable)")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="readiness deadline per component (defaults: Kafka 120 s, others 60 s)")
    p.add_argument("--profile", choices=("dev", "secure"), default=None,
                   help="dev (default): one PLAINTEXT broker, plain HTTP on loopback; secure: three SASL_SSL "
                        "brokers with ACLs, one Postgres role per service, HTTPS, a local CA (see docs/scaling.md). "
                        "Kept in the state dir for every later verb")
    p.add_argument("--replicas", type=int, default=None, metavar="N",
                   help="run N instances of each service (ports: the service's + 10*i; one consumer group); "
                        "kept for later `up`s; fewer than before stops the extra ones (default: as last time, 1)")


@command("up", "start the local stack (idempotent)", _configure_up)
def cmd_up(args: argparse.Namespace) -> int:
    from deploy import launcher
    from deploy.launcher.settings import SERVICE_NAMES
    from deploy.setup_stack import run_migrations

    from deploy.launcher import profile

    started = time.monotonic()
    chosen = profile.choose(args.profile)
    _apply_profile_env()
    if chosen == profile.SECURE:
        _say(f"  profile     secure (credentials and CA in {launcher.state_dir() / 'secure'})")

    def report(result: launcher.UpResult) -> None:
        st = result.status
        if st.state == "external":
            what = "external"
        elif st.state == "absent":
            what = "absent"
        else:
            what = "started" if result.started else "running"
        pid = f"pid {st.pid}" if st.pid else ""
        took = f"{result.seconds:.1f}s" if result.started else ""
        extra = f"({st.detail})" if st.detail else ""
        _say(f"  {st.component:<11} {what:<9} {st.address:<48} {pid:<10} {took} {extra}".rstrip())

    only = _split_names(args.only)
    if args.infra_only or (only is not None and not set(only) & set(SERVICE_NAMES)):
        launcher.up(only=only, infra_only=args.infra_only, timeout=args.timeout, report=report)
    else:
        # services start on migrated schemas and existing topics
        infra = [n for n in (only or ("kafka", "postgres", "prometheus")) if n not in SERVICE_NAMES]
        launcher.up(only=infra or ["kafka", "postgres"], timeout=args.timeout, report=report)
        ep = launcher.endpoints()
        migrated = run_migrations(ep.pg_dsn, ep.kafka_bootstrap)
        applied = sum(len(v) for v in migrated.applied.values())
        _say(f"  {'migrate':<11} {'done':<9} {applied} migration(s), {len(migrated.topics_created)} topic(s) created")
        if only is None:
            services = [s.name for s in launcher.components.SERVICES if s.exists()]
        else:
            services = [n for n in only if n in SERVICE_NAMES]
        if services:
            launcher.up(only=services, timeout=args.timeout, report=report, replicas=args.replicas)
    ep = launcher.endpoints()
    _say(f"ready in {time.monotonic() - started:.1f}s")
    if ep.profile == "secure":
        from deploy.launcher.postgres import mask_dsn

        _say(f"  kafka (SASL_SSL, operator listener): {ep.kafka_bootstrap}")
        _say(f"  postgres (owner role): {mask_dsn(ep.pg_dsn)}")
        _say(f"  CA: {ep.ca_file}")
        _say(f"  passwords: {launcher.state_dir() / 'secure' / 'credentials.json'} (mode 600)")
    else:
        _say(f"  SHUANGDA_KAFKA_BOOTSTRAP={ep.kafka_bootstrap}")
        _say(f"  SHUANGDA_PG_DSN={ep.pg_dsn}")
    _say(f"  prometheus: {ep.prometheus_url}")
    return 0


def _apply_profile_env() -> None:
    """On the secure profile, give this process (and whatever it runs: migrations, the chaos run,
    key commands) the operator's Kafka settings and the owner's DSN, unless the environment points
    at an external stack."""
    from deploy.launcher import settings

    settings.apply_client_env()


# -- down -----------------------------------------------------------------------

def _configure_down(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", action="append", metavar="NAMES",
                   help="comma-separated components to stop (default: all the launcher started)")


@command("down", "stop what the launcher started", _configure_down)
def cmd_down(args: argparse.Namespace) -> int:
    from deploy import launcher

    results = launcher.down(only=_split_names(args.only))
    for name, stopped in results:
        if stopped:
            _say(f"  {name:<11} stopped")
    if not any(stopped for _, stopped in results):
        _say("nothing was running")
    return 0


# -- status ----------------------------------------------------------------------

def _configure_status(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


@command("status", "show what runs, where, with which pid, its restarts and the jobs it leads", _configure_status)
def cmd_status(args: argparse.Namespace) -> int:
    from deploy import launcher

    rows = launcher.status(leaders=True)
    if args.json:
        _say(json.dumps([{**row.__dict__, "leads": list(row.leads)} for row in rows], indent=2))
        return 0
    header = ("COMPONENT", "ADDRESS", "STATE", "PID", "RESTARTS", "LEADS", "DETAIL")
    table = [header] + [(r.component, r.address, r.state, str(r.pid or "-"), str(r.restarts),
                         ",".join(r.leads) or "-", r.detail or "") for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        _say("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    _say(f"state dir: {launcher.state_dir()} (profile {launcher.endpoints().profile})")
    return 0


# -- logs -------------------------------------------------------------------------

def _configure_logs(p: argparse.ArgumentParser) -> None:
    p.add_argument("component", help="kafka, postgres, prometheus, intake, routing, notify, credit, an instance "
                                     "such as intake-1, supervisor (or any <state>/logs/<name>.log, e.g. kafka-maven)")
    p.add_argument("-n", "--lines", type=int, default=50, metavar="N", help="lines to show (default 50)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing what is appended")


@command("logs", "show a component's log", _configure_logs)
def cmd_logs(args: argparse.Namespace) -> int:
    from deploy.launcher import components, proc, settings
    from deploy.launcher.errors import LauncherError

    name = components.ALIASES.get(args.component.lower(), args.component.lower())
    if name == "supervisor":
        name = "supervisord"  # supervisord's own log: spawns, exits, restarts
    path = settings.log_file(name)
    if not path.exists():
        known = sorted(p.stem for p in settings.logs_dir().glob("*.log"))
        raise LauncherError(f"no log for {args.component!r} at {path}; logs present: {', '.join(known) or 'none'}")
    text = proc.tail(path, max(0, args.lines))
    if text:
        _say(text)
    if not args.follow:
        return 0
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        try:
            while True:
                chunk = fh.read()
                if chunk:
                    sys.stdout.write(chunk.decode(errors="replace"))
                    sys.stdout.flush()
                    continue
                try:
                    size = path.stat().st_size
                except FileNotFoundError:
                    size = fh.tell()
                if size < fh.tell():  # truncated or replaced: start over
                    fh.seek(0)
                time.sleep(0.5)
        except KeyboardInterrupt:
            return 0


# -- plumbing ----------------------------------------------------------------------

def _load_plugins(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    for package_name in PLUGIN_PACKAGES:
        try:
            package = importlib.import_module(package_name)
        except ModuleNotFoundError as exc:
            if exc.name and package_name.startswith(exc.name):
                continue
            raise
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{package_name}.{info.name}")
            register = getattr(module, "register", None)
            if callable(register):
                register(subparsers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shuangda",
        description="Shuangda (双打): run and operate the event backbone locally.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB")
    for cmd in COMMANDS.values():
        sub = subparsers.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        if cmd.configure is not None:
            cmd.configure(sub)
        sub.set_defaults(func=cmd.handler)
    _load_plugins(subparsers)
    return parser


def _setup_logging(verbose: bool, quiet: bool) -> None:
    """Log to stderr, unless the host process (pytest, another CLI) configured logging already."""
    root = logging.getLogger()
    if root.handlers:
        return
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s" if verbose
                                           else "shuangda: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("deploy").setLevel(level)
    if not verbose:
        # the Kafka readiness probe connects before the broker listens; aiokafka logs that loudly
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    raw = list(sys.argv[1:] if argv is None else argv)
    verb_at = next((i for i, a in enumerate(raw) if not a.startswith("-")), None)
    if verb_at is not None and raw[verb_at] == "test":
        # everything after `test` belongs to pytest (e.g. `shuangda test -x -k referral`)
        i = verb_at
        args = parser.parse_args(raw[: i + 1])
        args.pytest_args = raw[i + 1:]
    else:
        args = parser.parse_args(raw)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    _setup_logging(args.verbose, args.quiet)
    from deploy.launcher.errors import LauncherError

    try:
        if args.func is not cmd_up:  # `up` records the profile first
            _apply_profile_env()
        return int(args.func(args) or 0)
    except LauncherError as exc:
        print(f"shuangda: error: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("shuangda: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `shuangda status | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
