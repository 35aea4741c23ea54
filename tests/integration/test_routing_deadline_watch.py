"""The deadline watch on the real stack: breaches and warnings exactly once per deadline,
across a SIGKILL and a restart; provisional deadlines revised when holiday data arrives."""
from __future__ import annotations

import asyncio
import datetime as dt
import signal
import socket
import textwrap
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.clock import ManualClock
from shared.contracts.routing import CaseDeadlineRevised, DeadlineBreached
from shared.workdays import SHANGHAI
from services.routing.adapters.watch import calendar_factory, recheck_provisional
from tests.support.routing import RoutingWorld, case_opened
from tests.support import stack

pytestmark = pytest.mark.stack

OFFICE = "office@610400"


def world() -> RoutingWorld:
    return RoutingWorld(uuid.uuid4().hex[:10], bootstrap=stack.bootstrap(), dsn=stack.dsn())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])



def by_type(records: list[Any], suffix: str) -> list[Any]:
    return [r for r in records if (stack.header(r, "ce_type") or "").endswith(suffix)]


async def test_a_watch_killed_with_sigkill_and_restarted_emits_every_breach_exactly_once(tmp_path: Path) -> None:
    w = world()
    await w.create_topics()
    n = 30
    long_ago = dt.datetime(2024, 3, 4, 2, 0, tzinfo=dt.timezone.utc)  # every acknowledgement deadline is long past
    await w.open_cases(*[case_opened(f"C{i:02d}-{w.unique}", category="false_advertising", opened_at=long_ago)
                         for i in range(n)])
    log = tmp_path / "routing.log"
    await w.prepare()  # what `shuangda migrate` does: a service start never migrates
    await w.identity()
    env = w.env(SHUANGDA_ROUTING_WATCH_BATCH_SIZE="4", SHUANGDA_ROUTING_HTTP_PORT=str(free_port()))

    crashing = stack.spawn("services.routing", {**env, "SHUANGDA_ROUTING_CRASH_AT": "watch.after_commit"}, log)
    assert await asyncio.to_thread(crashing.wait, 90) == -signal.SIGKILL, log.read_text()[-3000:]
    flagged = await w.fetch("SELECT deadline_id FROM deadlines WHERE breached_sent")
    assert 0 < len(flagged) < n, "the watch died after committing its first batch of breaches"

    port = free_port()
    restarted = stack.spawn("services.routing", {**env, "SHUANGDA_ROUTING_HTTP_PORT": str(port)}, log)
    try:
        await stack.eventually(lambda: stack.ready(port), until=bool, timeout=60, what="routing ready again")
        await stack.eventually(lambda: w.fetch("SELECT 1 FROM deadlines WHERE breached_sent"),
                               until=lambda rows: len(rows) == n, timeout=60, what="every deadline breached")
        await stack.eventually(lambda: w.fetch("SELECT 1 FROM outbox WHERE sent_at IS NULL"), until=lambda rows: not rows,
                               what="the outbox drained")
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    finally:
        restarted.terminate()
        await asyncio.to_thread(restarted.wait, 30)

    breaches = by_type(await stack.read_all(w.routing_topic, expect=n), "deadline.breached.v1")
    ids_per_deadline: dict[str, set[str]] = defaultdict(set)
    for r in breaches:
        ids_per_deadline[DeadlineBreached.model_validate_json(r.value).deadline.deadline_id].add(stack.header(r, "ce_id"))
    assert len(ids_per_deadline) == n, "no deadline was missed"
    assert all(len(ids) == 1 for ids in ids_per_deadline.values()), "no deadline was announced twice (by id)"
    assert not by_type(await stack.read_all(w.routing_topic), "deadline.approaching.v1"), \
        "a deadline found already breached gets no belated warning"
    office = by_type(await stack.read_all(w.egress_topic(OFFICE)), "deadline.breached.v1")
    assert {stack.header(r, "ce_id") for r in office} and len({r.key for r in office}) == n, "the office is told of every breach"
    assert 'shuangda_deadline_breaches_total{bureau="market_regulation",kind="acknowledgement"}' in metrics


async def test_a_deadline_is_announced_as_approaching_once_and_then_as_breached_once() -> None:
    w = world()
    await w.create_topics()
    case_id = f"C-{w.unique}"
    start = dt.datetime(2025, 6, 2, 2, 0, tzinfo=dt.timezone.utc)
    clock = ManualClock(at=start)
    async with w.running(clock=clock):
        await w.open_cases(case_opened(case_id, category="false_advertising", opened_at=start))
        row = await stack.eventually(lambda: w.fetch("SELECT * FROM deadlines WHERE case_id = $1", case_id),
                                     until=lambda rows: len(rows) == 1, what="the acknowledgement deadline")
        deadline = row[0]
        clock.at = deadline["warn_at"] + dt.timedelta(seconds=1)
        await stack.eventually(lambda: w.fetch("SELECT approaching_sent FROM deadlines WHERE case_id = $1", case_id),
                               until=lambda rows: rows[0]["approaching_sent"], what="the warning")
        await asyncio.sleep(1.5)  # several watch passes: still one warning
        clock.at = deadline["due_at"] + dt.timedelta(seconds=1)
        await stack.eventually(lambda: w.fetch("SELECT breached_sent FROM deadlines WHERE case_id = $1", case_id),
                               until=lambda rows: rows[0]["breached_sent"], what="the breach")
        await asyncio.sleep(1.5)
        stream = await stack.eventually(lambda: stack.read_all(w.egress_topic("market_regulation@610402")),
                                        until=lambda rs: len(rs) >= 3, what="the bureau's stream")
    kinds = [(stack.header(r, "ce_type") or "").split(".")[-3:-1] for r in stream]
    assert kinds == [["case", "assigned"], ["deadline", "approaching"], ["deadline", "breached"]]


async def test_a_provisional_deadline_is_revised_when_the_years_holiday_data_is_added(tmp_path: Path) -> None:
    w = world()
    await w.create_topics()
    holidays = tmp_path / "holidays"
    holidays.mkdir()
    case_id = f"C-{w.unique}"
    opened = dt.datetime(2026, 12, 28, 10, 0, tzinfo=SHANGHAI).astimezone(dt.timezone.utc)
    async with w.running(clock=ManualClock(at=opened), holidays_dirs=[holidays], recheck_interval_seconds=0) as svc:
        await w.open_cases(case_opened(case_id, category="false_advertising", opened_at=opened))
        rows = await stack.eventually(lambda: w.fetch("SELECT * FROM deadlines WHERE case_id = $1", case_id),
                                      until=lambda rs: len(rs) == 1, what="the deadline")
        # a year without a State Council notice counts the statutory holidays (7b632ce): 2027-01-01 is one
        assert rows[0]["provisional"] and rows[0]["due_date_local"] == dt.date(2027, 1, 7)

        (holidays / "2027.yaml").write_text(textwrap.dedent("""\
            year: 2027
            citation: test notice for 2027 (not the real arrangement)
            holidays:
              - {name: New Year's Day, dates: [2027-01-01]}
            """), encoding="utf-8")
        async with w.db() as conn:
            revised = await recheck_provisional(conn, svc.service.router, calendar_factory([holidays])())
        assert revised == [rows[0]["deadline_id"]]
        async with w.db() as conn:
            again = await recheck_provisional(conn, svc.service.router, calendar_factory([holidays])())
        assert again == [], "a deadline no longer provisional is left alone"
        events = await stack.eventually(lambda: stack.read_all(w.routing_topic),
                                        until=lambda rs: len(by_type(rs, "deadline-revised.v1")) >= 1, what="the revision")
    revision = CaseDeadlineRevised.model_validate_json(by_type(events, "deadline-revised.v1")[0].value)
    assert revision.previous_provisional and not revision.deadline.provisional
    assert revision.deadline.due_date_local == dt.date(2027, 1, 7)
    row = (await w.fetch("SELECT provisional, due_date_local, revisions FROM deadlines WHERE case_id = $1", case_id))[0]
    assert (row["provisional"], row["due_date_local"], row["revisions"]) == (False, dt.date(2027, 1, 7), 1)
    assert (await w.case_row(case_id))["ack_due_at"] == revision.deadline.due_at
