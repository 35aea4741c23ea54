"""Dev-only fault injection for the crash tests.

`crash_point(name, configured)` kills the process with SIGKILL — no cleanup,
no offset commit, no flush — when `configured` (the service's
``SHUANGDA_<SERVICE>_CRASH_AT`` setting, accepted only in dev mode) names it.
Points: ``consumer.after_db_commit`` (between the database commit and the
Kafka offset commit) and ``relay.after_produce`` (after the broker acked,
before the rows are marked sent).
"""
from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)

POINTS = frozenset({"consumer.after_db_commit", "relay.after_produce"})


def crash_point(name: str, configured: str | None) -> None:
    if configured and configured == name:
        log.warning("fault injection: SIGKILL at %s", name)
        os.kill(os.getpid(), signal.SIGKILL)
