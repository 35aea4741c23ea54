"""``shuangda chaos``: a whole-system chaos run against the stack that is up (sim/chaos.py).

    shuangda up --replicas 2 && shuangda chaos --events 20000 --window 240
    shuangda chaos --events 1000 --replicas 2 --json

Publishes leads on a platform's ingress topic and files complaints over HTTP (distinct suspects,
so the expected case count is known), kills -9 every service instance ``--kills`` times, crash-
restarts the broker and Postgres at random moments, waits for the system to drain, reads the
results back from the topics and the services' schemas, and prints one line per figure. Exits 1
unless lost, applied twice and duplicate deliveries are all 0.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("chaos", help="a whole-system chaos run: events in, faults injected, nothing lost or doubled",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=1000, help="leads plus complaints (default 1000; 20%% complaints)")
    p.add_argument("--replicas", type=int, default=None, metavar="N",
                   help="run N instances of each service first (default: as the stack is)")
    p.add_argument("--window", type=float, default=60.0, metavar="SECONDS",
                   help="seconds over which the events are sent and the faults happen (default 60)")
    p.add_argument("--kills", type=int, default=2, help="kill -9 rounds per service instance (default 2)")
    p.add_argument("--no-broker", action="store_true", help="do not restart the broker")
    p.add_argument("--no-postgres", action="store_true", help="do not restart Postgres")
    p.add_argument("--seed", type=int, default=20261111)
    p.add_argument("--drain-timeout", type=float, default=600.0, metavar="SECONDS")
    p.add_argument("--profile", choices=("dev", "secure"), default=None,
                   help="the stack's profile; must match the one the state dir records (default: that one)")
    p.add_argument("--json", action="store_true", help="one JSON object instead of one line per figure")
    p.set_defaults(func=run)


def stack_of_launcher():  # noqa: ANN201
    """The running stack as the chaos run sees it: endpoints, schemas, topics and what to break."""
    from deploy import launcher
    from deploy.launcher import components
    from services.intake.settings import IntakeSettings
    from services.notify.settings import NotifySettings
    from services.routing.settings import RoutingSettings
    from shared.config import StackSettings
    from sim.chaos import Fault, Stack

    ep = launcher.endpoints()
    # the names the launcher's services run with: its environment, dev mode unless said otherwise
    dev = os.environ.get("SHUANGDA_DEV", "true").lower() in ("1", "true", "yes")
    stack_settings = StackSettings(kafka_bootstrap=ep.kafka_bootstrap, pg_dsn=ep.pg_dsn, dev=dev)
    intake, routing, notify = IntakeSettings(dev=dev), RoutingSettings(dev=dev), NotifySettings(dev=dev)
    faults = []
    for svc in components.SERVICES:
        if svc.exists():
            for inst in components.instances(svc):
                faults.append(Fault(inst.name, "service", inst.kill))
    if not ep.kafka_external:
        brokers = components.kafka_components()
        # one broker restarted: on the secure profile the second of three, while the other two keep RF 3 topics writable
        broker = brokers[1] if len(brokers) > 1 else brokers[0]
        faults.append(Fault(broker.name, "broker", broker.kill))
    if not ep.pg_external:
        faults.append(Fault("postgres", "postgres", components.POSTGRES.kill))
    urls = [inst.address() for inst in components.instances(components.INTAKE)]
    return Stack(dsn=ep.pg_dsn, kafka=stack_settings.kafka, intake_urls=urls,
                 identity_schema=stack_settings.identity_schema,
                 schemas={"intake": intake.schema, "routing": routing.schema, "notify": notify.schema},
                 topics={"case_intake": intake.case_topic, "case_routing": routing.routing_topic}, faults=faults,
                 replication_factor=stack_settings.kafka_replication_factor, ca_file=ep.ca_file)


def run(args: argparse.Namespace) -> int:
    from deploy.launcher import components, profile
    from deploy.launcher.errors import LauncherError
    from sim.chaos import ChaosConfig
    from sim.chaos import run as chaos_run

    if args.profile is not None and args.profile != profile.current():
        raise LauncherError(f"--profile {args.profile}: the stack in this state dir runs the {profile.current()} profile")
    if args.replicas is not None:
        components.up(replicas=args.replicas)
    cfg = ChaosConfig(events=args.events, window_seconds=args.window, kills=args.kills, broker=not args.no_broker,
                      postgres=not args.no_postgres, seed=args.seed, drain_timeout=args.drain_timeout)
    say = (lambda line: print(line, file=sys.stderr, flush=True)) if args.json else (lambda line: print(line, flush=True))
    figures = asyncio.run(chaos_run(cfg, stack_of_launcher(), on_line=say))
    out = figures.as_dict()
    if args.json:
        print(json.dumps(out))
    else:
        for name in ("reports_sent", "cases_opened", "cases_assigned", "lost", "applied_twice",
                     "duplicate_deliveries", "drain_seconds", "deliveries", "http_retries", "lead_resends", "refused"):
            print(f"{name:<22} {out[name]}")
        print(f"{'faults':<22} {', '.join(f'{k} {v}' for k, v in sorted(figures.faults.items())) or 'none'}")
        print(f"{'passed':<22} {figures.passed}")
    return 0 if figures.passed else 1
