"""`shuangda demo`: the main job — bring the whole stack up (installing what is
missing), migrate, start the services and show what runs."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("demo", help="bring everything up and run the main job")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deploy import cli, launcher

    print("shuangda demo: bringing the stack up", flush=True)
    code = cli.cmd_up(argparse.Namespace(only=None, infra_only=False, timeout=None))
    if code:
        return code
    rows = launcher.status()
    print()
    for r in rows:
        print(f"  {r.component:<11} {r.state:<9} {r.address}")
    return 0
