"""`shuangda test`: bring up the real stack (Kafka, Postgres, Prometheus),
migrate, then run the whole test suite against it. Extra arguments go to pytest."""
from __future__ import annotations

import argparse
import subprocess
import sys


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("test", help="start the stack and run every test (unit, integration, e2e) against it")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest (e.g. -k referral -x)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deploy import launcher
    from deploy.launcher.settings import repo_root
    from deploy.launcher import tools
    from deploy.setup_stack import run_migrations

    tools.chromium()  # the console's browser tests (tests/e2e/test_console_browser.py)
    print("shuangda test: starting Kafka, Postgres and Prometheus", flush=True)
    launcher.up(infra_only=True)
    ep = launcher.endpoints()
    run_migrations(ep.pg_dsn, ep.kafka_bootstrap)
    extra = [a for a in args.pytest_args if a != "--"]
    cmd = [sys.executable, "-m", "pytest", "tests", "-p", "no:cacheprovider", *extra]
    print("shuangda test: " + " ".join(cmd[2:]), flush=True)
    code = subprocess.call(cmd, cwd=repo_root())
    if code == 5:
        print("shuangda test: pytest collected no tests — that is a failure", file=sys.stderr)
        return 1
    return code
