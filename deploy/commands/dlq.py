"""`shuangda dlq list|replay TOPIC.dlq`: inspect and replay dead letters."""
from __future__ import annotations

import argparse
import asyncio
import json


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("dlq", help="list or replay the dead letters of a topic")
    sub = p.add_subparsers(dest="dlq_action", required=True)
    ls = sub.add_parser("list", help="show the dead letters with their reasons")
    ls.add_argument("topic", help="the DLQ topic (e.g. case.intake.dlq) or its origin topic")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    rp = sub.add_parser("replay", help="publish dead letters again on their origin topic")
    rp.add_argument("topic")
    group = rp.add_mutually_exclusive_group(required=True)
    group.add_argument("--offset", type=int, action="append", help="the DLQ offset to replay (repeatable)")
    group.add_argument("--event-id", action="append", help="the CloudEvents id to replay (repeatable)")
    group.add_argument("--all", action="store_true", help="every dead letter in the topic")
    rp.set_defaults(func=run_replay)


def _kafka():  # noqa: ANN202
    """The launcher's broker as a shared.kafka.KafkaConnection (SASL_SSL and the CA on the secure profile)."""
    from deploy.launcher import endpoints
    from shared.config import StackSettings

    ep = endpoints()
    return StackSettings(kafka_bootstrap=ep.kafka_bootstrap, pg_dsn=ep.pg_dsn).kafka


def _dlq_topic(name: str) -> str:
    return name if name.endswith(".dlq") else name + ".dlq"


def run_list(args: argparse.Namespace) -> int:
    from shared.runtime.dlq import read_dead_letters

    letters = asyncio.run(read_dead_letters(_kafka(), _dlq_topic(args.topic)))
    if args.json:
        print(json.dumps([d.summary() for d in letters], ensure_ascii=False, indent=2))
        return 0
    if not letters:
        print("no dead letters")
    for d in letters:
        s = d.summary()
        print(f"  @{s['offset']:<6} {s['reason'] or '?':<20} {s['origin']:<40} {s['event_id'] or '-'}")
        print(f"          {s['detail']}")
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from shared.runtime.dlq import replay_selected

    selection = {"offsets": set(args.offset)} if args.offset else {"event_ids": set(args.event_id)} if args.event_id else {}
    n = asyncio.run(replay_selected(_kafka(), _dlq_topic(args.topic), **selection))
    print(f"replayed {n} dead letter(s)")
    return 0
