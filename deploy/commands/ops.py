"""Operator views: `shuangda topics`, `shuangda lag`, `shuangda case timeline CASE_ID`."""
from __future__ import annotations

import argparse
import asyncio
import json


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("topics", help="list topics with partitions and record counts")
    p.add_argument("--all", action="store_true", help="include Kafka's internal topics")
    p.set_defaults(func=run_topics)
    p = subparsers.add_parser("lag", help="consumer groups and their lag per topic")
    p.set_defaults(func=run_lag)
    p = subparsers.add_parser("case", help="a case's events across every service")
    sub = p.add_subparsers(dest="case_action", required=True)
    t = sub.add_parser("timeline", help="every event about the case, in time order")
    t.add_argument("case_id")
    t.add_argument("--json", action="store_true")
    t.add_argument("--topic", action="append", help="topics to scan (default: the internal catalogue)")
    t.set_defaults(func=run_timeline)


def _kafka() -> tuple[str, dict[str, object]]:
    """The launcher's broker as shared.kafka.KafkaConnection (bootstrap + SASL + TLS), split into
    what shared.kafka_ops takes: the bootstrap and the client options."""
    from deploy.launcher import endpoints
    from shared.config import StackSettings

    ep = endpoints()
    kafka = StackSettings(kafka_bootstrap=ep.kafka_bootstrap, pg_dsn=ep.pg_dsn).kafka
    options = kafka.options()
    options.pop("bootstrap_servers")
    return kafka.bootstrap, options


def run_topics(args: argparse.Namespace) -> int:
    from shared.kafka_ops import describe_topics

    bootstrap, options = _kafka()
    for t in asyncio.run(describe_topics(bootstrap, include_internal=args.all, **options)):
        print(f"  {t.name:<48} {t.partitions:>3} partitions {t.records:>10} records")
    return 0


def run_lag(args: argparse.Namespace) -> int:
    from shared.kafka_ops import consumer_lag

    bootstrap, options = _kafka()
    rows = asyncio.run(consumer_lag(bootstrap, **options))
    if not rows:
        print("no consumer groups with committed offsets")
    for r in rows:
        print(f"  {r.group:<40} {r.topic:<40} lag {r.lag:>8}  (committed {r.committed}, end {r.end})")
    return 0


def run_timeline(args: argparse.Namespace) -> int:
    from shared.kafka_ops import case_timeline
    from shared.topics import INTERNAL

    bootstrap, options = _kafka()
    topics = args.topic or [t.name for t in INTERNAL]
    entries = asyncio.run(case_timeline(bootstrap, args.case_id, topics, **options))
    if args.json:
        print(json.dumps([{
            "time": e.time.isoformat() if e.time else None, "topic": e.topic, "type": e.type, "id": e.event_id,
            "source": e.source, "actor": e.actor, "causation": e.causation,
            "data": json.loads(e.value) if e.value else None,
        } for e in entries], ensure_ascii=False, indent=2))
        return 0
    if not entries:
        print(f"no events found for {args.case_id}")
    for e in entries:
        when = e.time.isoformat(timespec="seconds") if e.time else "?"
        print(f"  {when}  {e.type or '?':<45} {e.source or '':<20} {e.actor or '':<24} {e.topic}")
    return 0
