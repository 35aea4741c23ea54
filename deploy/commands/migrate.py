"""`shuangda migrate`: the identity store's and every service's migrations (each service's
`wiring.prepare`), the topics they own, and the import of keys from the former per-service stores."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("migrate", help="apply the services' SQL migrations and create the internal topics")
    p.add_argument("--service", action="append", help="only this service's schema (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deploy.launcher import endpoints
    from deploy.launcher.settings import SERVICE_NAMES
    from deploy.setup_stack import run_migrations

    ep = endpoints()
    services = tuple(args.service) if args.service else SERVICE_NAMES
    report = run_migrations(ep.pg_dsn, ep.kafka_bootstrap, services)
    for service, versions in report.applied.items():
        print(f"  {service:<8} {', '.join(versions) if versions else 'up to date'}")
    print(f"  topics   {', '.join(report.topics_created) if report.topics_created else 'up to date'}")
    if report.legacy_keys_imported:
        print(f"  legacy keys imported  {', '.join(f'{k}: {v}' for k, v in report.legacy_keys_imported.items())}")
    return 0
