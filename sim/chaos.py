"""A whole-system chaos run against the stack that is up (``shuangda chaos``, issue 10 §5).

It publishes leads on a platform's ingress topic and files complaints over HTTP, each about a
suspect of its own so the expected number of cases is known. While they flow it kills -9 every
service instance (``--kills`` times each), crash-restarts the broker and Postgres at random
moments (supervisord brings each back), then waits for the system to drain. It reads the outcome
back through paths independent of the services' own bookkeeping:

* the topics (each case topic and its priority lane), with a consumer of its own from the offsets
  they had when the run began:
  ``case.opened`` and ``case.assigned`` per case, counted by distinct event id;
* each service's schema: intake's reports, routing's cases, notify's deliveries.

Figures: reports sent, cases opened, cases assigned, lost (sent and never a case, or opened and
never assigned), applied twice (one source registered twice, one case opened or assigned twice
under different event ids), duplicate deliveries (one (event, recipient, channel) planned twice)
and the seconds from the last fault to drained. The run passes when lost, applied twice and
duplicate deliveries are all 0.

Callers behave as real ones do: a complaint is retried with the same Idempotency-Key until it is
answered (503 and refused connections while a dependency is down are expected), and a lead whose
send failed is published again with the same source id.
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Awaitable, Callable, Sequence

import asyncpg
import httpx

log = logging.getLogger(__name__)

OPENED = "shuangda.case.opened.v1"
ASSIGNED = "shuangda.case.assigned.v1"
COUNTIES = ("610402", "610404", "610422", "610481", "610423", "610424")


@dataclass(frozen=True)
class ChaosConfig:
    events: int = 1000
    complaint_share: float = 0.2
    seed: int = 20261111
    #: seconds over which the events are sent and the faults happen
    window_seconds: float = 60.0
    #: kill -9 rounds per service instance
    kills: int = 2
    broker: bool = True
    postgres: bool = True
    drain_timeout: float = 600.0


@dataclass
class ChaosFigures:
    run_id: str
    reports_sent: int = 0
    cases_opened: int = 0
    cases_assigned: int = 0
    lost: int = 0
    applied_twice: int = 0
    duplicate_deliveries: int = 0
    drain_seconds: float | None = None
    faults: dict[str, int] = field(default_factory=dict)
    http_retries: int = 0
    lead_resends: int = 0
    refused: int = 0
    deliveries: int = 0

    @property
    def passed(self) -> bool:
        return self.lost == 0 and self.applied_twice == 0 and self.duplicate_deliveries == 0 and self.refused == 0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


@dataclass(frozen=True)
class Fault:
    """Something to break: ``kill`` is called in a thread (the launcher's blocking kill)."""

    name: str
    kind: str   # service | broker | postgres
    kill: Callable[[], bool]


@dataclass(frozen=True)
class Stack:
    """Where the stack is and what it is made of (deploy/commands/chaos.py builds it from the launcher)."""

    dsn: str
    kafka: Any                      # shared.kafka.KafkaConnection
    intake_urls: Sequence[str]
    identity_schema: str
    schemas: dict[str, str]         # intake, routing, notify
    topics: dict[str, str]          # case_intake, case_routing
    faults: Sequence[Fault]
    #: of the ingress topic the run creates (3 on the secure profile: min.insync.replicas is 2)
    replication_factor: int = 1
    #: the CA the services' HTTPS certificates are checked against (secure profile); None: plain HTTP
    ca_file: str | None = None


def plan(cfg: ChaosConfig, run_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(leads, complaints), each about a suspect of its own."""
    from sim.population import credit_code, mobile

    # the run id in the seed: suspects (credit codes) of their own on every run, or a second run on the
    # same stack merged its complaints into the first run's cases (no case.opened: counted lost)
    rng = random.Random(f"{cfg.seed}:{run_id}")
    n_complaints = int(cfg.events * cfg.complaint_share)
    leads = [{
        "source_id": f"{run_id}-l{i:06d}", "channel": "monitoring", "category": "trademarks",
        "county": COUNTIES[i % len(COUNTIES)], "description": "平台监测发现疑似假冒商品（混沌演练）",
        "suspect": {"platform": "qinmall", "shop_id": f"{run_id}s{i:06d}"},
        "figures": {"amount_involved": "800.00", "pieces": 2},
    } for i in range(cfg.events - n_complaints)]
    complaints = []
    for i in range(n_complaints):
        county = COUNTIES[i % len(COUNTIES)]
        complaints.append({
            "source_id": f"{run_id}-c{i:06d}", "kind": "complaint", "channel": "hotline", "category": "trademarks",
            "county": county, "description": "买到疑似假冒的运动鞋（混沌演练）",
            "suspect": {"credit_code": credit_code(rng, county), "name": f"混沌演练{run_id}{i}商贸有限公司"},
            "complainant": {"name": "王五", "phone": mobile(rng)}, "figures": {"sales": "299.00", "pieces": 1},
        })
    return leads, complaints


async def run(cfg: ChaosConfig, stack: Stack, *, on_line: Callable[[str], None] = lambda _line: None) -> ChaosFigures:
    from shared.topics import both_lanes, ensure_topics, ingress
    from sim.registration import register_intake_clients

    run_id = "x" + secrets.token_hex(4)
    figures = ChaosFigures(run_id)
    monitor, hotline = f"chaos-monitor-{run_id}", f"chaos-hotline-{run_id}"
    await ensure_topics(stack.kafka, [ingress(monitor)], replication_factor=stack.replication_factor)
    keys = await register_intake_clients(stack.dsn, stack.identity_schema, stack.kafka,
                                         {monitor: "platform", hotline: "hotline"}, [monitor])
    leads, complaints = plan(cfg, run_id)
    figures.reports_sent = len(leads) + len(complaints)
    # each case topic and its priority lane (the complaints' cases are on the lanes, the leads' on the topics)
    start_offsets = await _end_offsets(stack.kafka, [t for name in ("case_intake", "case_routing")
                                                     for t in both_lanes(stack.topics[name])])
    on_line(f"chaos run {run_id}: {len(leads)} leads on {ingress(monitor).name}, {len(complaints)} complaints over "
            f"HTTP, {len(stack.faults)} fault targets over {cfg.window_seconds:.0f} s")
    # intake picks the new ingress topic up within its metadata refresh (5 s)
    await asyncio.sleep(6)

    rng = random.Random(cfg.seed + 1)
    schedule = _schedule(cfg, stack.faults, rng)
    began = time.monotonic()
    last_fault, _, _ = await asyncio.gather(
        _faults(schedule, began, figures, on_line),
        _publish_leads(stack.kafka, ingress(monitor).name, leads, cfg.window_seconds, figures),
        _file_complaints(stack.intake_urls, keys[hotline], complaints, cfg.window_seconds, figures, rng,
                         ca_file=stack.ca_file),
    )
    fault_end = began + last_fault
    on_line(f"  faults done: {', '.join(f'{k} {v}' for k, v in sorted(figures.faults.items()))}; "
            f"{figures.http_retries} HTTP retries, {figures.lead_resends} lead re-sends; draining")

    source_ids = [x["source_id"] for x in leads + complaints]
    drained_at = await _drain(stack, monitor, hotline, source_ids, cfg.drain_timeout, on_line)
    figures.drain_seconds = round(drained_at - fault_end, 1) if drained_at is not None else None
    await _count(stack, figures, monitor, hotline, source_ids, start_offsets)
    return figures


def _schedule(cfg: ChaosConfig, faults: Sequence[Fault], rng: random.Random) -> list[tuple[float, Fault]]:
    """Each service instance killed `cfg.kills` times, the broker and Postgres once each, at random
    moments of the window (never two at the same instant: each waits for its target to be back)."""
    actions = []
    for fault in faults:
        times = cfg.kills if fault.kind == "service" else int(getattr(cfg, fault.kind))
        for _ in range(times):
            actions.append((rng.uniform(0.05, 0.9) * cfg.window_seconds, fault))
    return sorted(actions, key=lambda a: a[0])


async def _faults(schedule: list[tuple[float, Fault]], began: float, figures: ChaosFigures,
                  on_line: Callable[[str], None]) -> float:
    last = 0.0
    for at, fault in schedule:
        delay = began + at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        killed = await asyncio.to_thread(fault.kill)
        if killed:
            figures.faults[fault.kind] = figures.faults.get(fault.kind, 0) + 1
            what = "crash-stop (SIGQUIT)" if fault.kind == "postgres" else "kill -9"
            on_line(f"  t+{time.monotonic() - began:5.1f} s  {what} {fault.name}")
        last = time.monotonic() - began
    return last


async def _publish_leads(kafka: Any, topic: str, leads: list[dict[str, Any]], window: float,
                         figures: ChaosFigures) -> None:
    from shared.contracts.intake import SubmitLead
    from shared.envelope import new_envelope

    producer = kafka.producer(acks="all", enable_idempotence=True, linger_ms=5, request_timeout_ms=15_000)
    await _retrying(producer.start)
    began = time.monotonic()
    pending: list[dict[str, Any]] = []
    try:
        for i, body in enumerate(leads):
            due = began + window * 0.8 * i / max(1, len(leads))
            if due > time.monotonic():
                await asyncio.sleep(due - time.monotonic())
            pending.append(body)
            # at least 20 at a time; more when sending fell behind the schedule (all that are due, up to 500)
            next_due = began + window * 0.8 * (i + 1) / max(1, len(leads))
            if (len(pending) >= 20 and next_due > time.monotonic()) or len(pending) >= 500 or i == len(leads) - 1:
                batch, pending = pending, []
                while batch:
                    # the whole batch in flight at once, then every acknowledgement: one record at a time
                    # waited out an acks=all round trip each (RF 3 over TLS on the secure profile: ~0.3 s
                    # on a loaded machine, 3 leads/s instead of the window's rate)
                    sends = [_send_lead(producer, topic, b, new_envelope(
                        type=SubmitLead.EVENT_TYPE, source="/chaos/monitor", subject=b["source_id"])) for b in batch]
                    outcomes = await asyncio.gather(*sends, return_exceptions=True)
                    # the broker is down: send those again, same source id (intake applies a lead once)
                    failed = [b for b, outcome in zip(batch, outcomes) if isinstance(outcome, BaseException)]
                    if failed:
                        figures.lead_resends += len(failed)
                        await asyncio.sleep(1.0)
                    batch = failed
    finally:
        await producer.stop()


async def _send_lead(producer: Any, topic: str, body: dict[str, Any], envelope: Any) -> None:
    delivery = await producer.send(topic, value=json.dumps(body, ensure_ascii=False).encode(),
                                   key=body["source_id"].encode(), headers=envelope.to_headers())
    await delivery


async def _file_complaints(urls: Sequence[str], key: str, complaints: list[dict[str, Any]], window: float,
                           figures: ChaosFigures, rng: random.Random, *, ca_file: str | None = None) -> None:
    import ssl

    sem = asyncio.Semaphore(8)
    began = time.monotonic()
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True

    async with httpx.AsyncClient(trust_env=False, timeout=20, verify=verify) as http:
        async def one(i: int, body: dict[str, Any]) -> None:
            due = began + window * 0.8 * i / max(1, len(complaints))
            if due > time.monotonic():
                await asyncio.sleep(due - time.monotonic())
            headers = {"authorization": f"Bearer {key}", "idempotency-key": body["source_id"]}
            async with sem:
                for attempt in range(600):
                    url = urls[(i + attempt) % len(urls)]
                    try:
                        r = await http.post(f"{url}/v1/complaints", json=body, headers=headers)
                    except httpx.HTTPError:
                        r = None
                    if r is not None and r.status_code in (200, 201):
                        return
                    if r is not None and 400 <= r.status_code < 500 and r.status_code not in (408, 429):
                        log.warning("complaint %s refused: %s %s", body["source_id"], r.status_code, r.text[:300])
                        figures.refused += 1
                        return
                    figures.http_retries += 1
                    await asyncio.sleep(min(2.0, 0.2 * (attempt + 1)) + rng.random() * 0.1)
                figures.refused += 1

        await asyncio.gather(*(one(i, b) for i, b in enumerate(complaints)))


async def _retrying(start: Callable[[], Awaitable[Any]], attempts: int = 60) -> None:
    for attempt in range(attempts):
        try:
            await start()
            return
        except Exception:  # noqa: BLE001
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(1.0)


async def _query(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    for attempt in range(60):
        try:
            conn = await asyncpg.connect(dsn)
        except (OSError, asyncpg.PostgresError):
            if attempt == 59:
                raise
            await asyncio.sleep(1.0)
            continue
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()
    return []


async def _drain(stack: Stack, monitor: str, hotline: str, source_ids: list[str], timeout: float,
                 on_line: Callable[[str], None]) -> float | None:
    """Wait until every source is a report, every case is assigned and notify's planned deliveries
    for them stopped changing; the monotonic time it was so, or None on timeout."""
    s = stack.schemas
    deadline = time.monotonic() + timeout
    stable_since, last_deliveries, last_line = None, -1, 0.0
    while time.monotonic() < deadline:
        rows = await _query(stack.dsn, f'''
            WITH r AS (SELECT DISTINCT source_id, case_id FROM "{s["intake"]}".reports
                       WHERE client_id = ANY($1::text[]) AND source_id = ANY($2::text[]))
            SELECT (SELECT count(DISTINCT source_id) FROM r) AS sources,
                   (SELECT count(DISTINCT case_id) FROM r) AS cases,
                   (SELECT count(*) FROM "{s["routing"]}".cases WHERE case_id IN (SELECT case_id FROM r)) AS assigned,
                   (SELECT count(*) FROM "{s["notify"]}".deliveries WHERE case_id IN (SELECT case_id FROM r)) AS deliveries
        ''', [monitor, hotline], source_ids)
        sources, cases, assigned, deliveries = (rows[0][k] for k in ("sources", "cases", "assigned", "deliveries"))
        now = time.monotonic()
        if now - last_line > 10:
            on_line(f"  draining: {sources}/{len(source_ids)} reported, {cases} cases, {assigned} assigned, "
                    f"{deliveries} deliveries planned")
            last_line = now
        if sources == len(source_ids) and assigned == cases and deliveries > 0:
            if deliveries == last_deliveries:
                if stable_since is not None and now - stable_since >= 5:
                    return stable_since
            else:
                stable_since, last_deliveries = now, deliveries
        await asyncio.sleep(1.0)
    return None


async def _end_offsets(kafka: Any, topics: list[str]) -> dict[Any, int]:
    from aiokafka import TopicPartition

    consumer = kafka.consumer(*topics, enable_auto_commit=False)
    await _retrying(consumer.start)
    try:
        parts = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        return dict(await consumer.end_offsets(parts)) if parts else {}
    finally:
        await consumer.stop()


async def _topic_counts(kafka: Any, start: dict[Any, int], case_ids: set[str]) -> dict[str, dict[tuple[str, int], set[str]]]:
    """From the run's first offsets to the current end: event ids of case.opened per case and of
    case.assigned per (case, assignment number), for the run's cases."""
    ends = await _end_offsets(kafka, sorted({tp.topic for tp in start}))
    consumer = kafka.consumer(enable_auto_commit=False)
    await _retrying(consumer.start)
    seen: dict[str, dict[tuple[str, int], set[str]]] = {OPENED: {}, ASSIGNED: {}}
    try:
        wanted = [tp for tp, end in ends.items() if end > start.get(tp, 0)]
        if not wanted:
            return seen
        consumer.assign(wanted)
        for tp in wanted:
            consumer.seek(tp, start.get(tp, 0))
        remaining = set(wanted)
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=5000)
            for tp, records in batch.items():
                for r in records:
                    if r.offset >= ends[tp]:
                        continue
                    headers = {k: (v or b"").decode() for k, v in (r.headers or ())}
                    kind = headers.get("ce_type")
                    if kind in seen:
                        data = json.loads(r.value)
                        case_id = data.get("case_id")
                        if case_id in case_ids:
                            n = int(data.get("assignment_no", 0)) if kind == ASSIGNED else 0
                            seen[kind].setdefault((case_id, n), set()).add(headers.get("ce_id", ""))
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return seen


async def _count(stack: Stack, figures: ChaosFigures, monitor: str, hotline: str, source_ids: list[str],
                 start_offsets: dict[Any, int]) -> None:
    s = stack.schemas
    reports = await _query(stack.dsn, f'''SELECT source_id, case_id FROM "{s["intake"]}".reports
                                          WHERE client_id = ANY($1::text[]) AND source_id = ANY($2::text[])''',
                           [monitor, hotline], source_ids)
    per_source: dict[str, int] = {}
    for r in reports:
        per_source[r["source_id"]] = per_source.get(r["source_id"], 0) + 1
    case_ids = {r["case_id"] for r in reports}
    assigned = await _query(stack.dsn, f'SELECT case_id FROM "{s["routing"]}".cases WHERE case_id = ANY($1::text[])',
                            list(case_ids))
    dupes = await _query(stack.dsn, f'''
        SELECT count(*) AS n FROM (SELECT 1 FROM "{s["notify"]}".deliveries WHERE case_id = ANY($1::text[])
                                   GROUP BY event_id, recipient, channel HAVING count(*) > 1) d''', list(case_ids))
    planned = await _query(stack.dsn, f'SELECT count(*) AS n FROM "{s["notify"]}".deliveries WHERE case_id = ANY($1::text[])',
                           list(case_ids))
    topic = await _topic_counts(stack.kafka, start_offsets, case_ids)
    figures.cases_opened = len(case_ids)
    figures.cases_assigned = len(assigned)
    figures.lost = (len(source_ids) - len(per_source)) + (len(case_ids) - len(assigned))
    twice_sources = sum(n - 1 for n in per_source.values() if n > 1)
    twice_topic = sum(len(ids) - 1 for kind in (OPENED, ASSIGNED) for ids in topic[kind].values() if len(ids) > 1)
    opened_not_seen = len(case_ids - {c for c, _ in topic[OPENED]})
    assigned_not_seen = len(case_ids - {c for c, _ in topic[ASSIGNED]})
    figures.applied_twice = twice_sources + twice_topic
    figures.lost += max(opened_not_seen, assigned_not_seen) if case_ids else 0
    figures.duplicate_deliveries = int(dupes[0]["n"])
    figures.deliveries = int(planned[0]["n"])
