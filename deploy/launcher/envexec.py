"""``python -m deploy.launcher.envexec ENV.json -- ARGV...``: replace this process by ARGV
with the environment extended by the JSON object in ENV.json.

supervisord starts every program through this, so a program's environment can hold any
value (supervisord's own ``environment=`` syntax cannot quote ``"`` or newlines) and the
environment file's digest (in its name) makes a changed environment a changed program.
It ``exec``s: the pid supervisord watches is the program's own.
"""
from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m deploy.launcher.envexec ENV.json -- ARGV...", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as fh:
        extra = json.load(fh)
    env = dict(os.environ)
    env.update({str(k): str(v) for k, v in extra.items()})
    os.execvpe(argv[2], argv[2:], env)
    return 127  # pragma: no cover - execvpe does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
