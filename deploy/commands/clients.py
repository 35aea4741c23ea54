"""``shuangda clients``: replaced by ``shuangda keys`` (the one identity store, shared.identity).

Intake's API clients are principals of the identity store now:

    shuangda keys create hotline-12345 --kind hotline        (was: clients create … --kind hotline)
    shuangda keys create shop-platform --kind platform --scopes leads:write
    shuangda keys list | rotate NAME | revoke NAME

``keys create`` also makes the client's ``ingress.<name>`` topic. Keys issued by
``clients create`` before keep working: ``shuangda migrate`` imports them
(``shuangda keys import-legacy`` does it on its own).
"""
from __future__ import annotations

import argparse
import sys

#: largest record a client may publish on its ingress topic (a complaint or lead is far smaller)
INGRESS_MAX_MESSAGE_BYTES = 256 * 1024

REPLACED = "shuangda clients is replaced by shuangda keys (create|list|rotate|revoke); see shuangda keys --help"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("clients", help="replaced by 'shuangda keys'", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(REPLACED, file=sys.stderr, flush=True)
    return 1
