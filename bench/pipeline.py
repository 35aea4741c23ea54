"""Benchmark: the whole pipeline — intake, routing, notify, credit as processes — on
the real stack, in the same run as the foundation's raw aiokafka pass-through.

(a) raw aiokafka consume → produce (acks=all, idempotent) → commit: the broker's
    ceiling on this machine (`bench.common.raw_passthrough`);
(b) sustained leads/s from the ingress topic to a routed case: N leads published
    at once on a platform's ``ingress.<client>`` topic, each about a new shop,
    counted when its ``case.assigned`` reaches ``case.routing`` (intake validates,
    seals, opens the case; routing places it and sets its deadline; notify fans
    out the webhooks meanwhile);
(c) latency from a hotline's ``POST /v1/complaints`` to the lead bureau's webhook
    (``case.assigned``, signed, verified) arriving at the bureau's gateway, at a
    paced rate (100/s) while a burst of leads (5,000) arrives on ingress at the same
    time; optionally (``--saturation``) with as many concurrent callers as it takes.
Also the largest RSS each service process reached, and the CPU seconds each used in (b) and (c)
(``cpu_ms_per_routed_lead``, ``intake_api_cpu_ms_per_complaint``): on a shared machine the rates
swing with what else runs, the CPU an item costs does not.

Intake runs as its API and worker processes (shared.runtime.service roles; ``--one-intake`` for one
process); the bureaus' webhook gateway runs in a process of its own and the hotline calls through
aiohttp, so neither the gateway's signature checks nor the caller's client share an event loop with
what they time.

The services run in their own namespace (schemas, topics, groups, ports) and
everything made is deleted afterwards. Run on the launched stack (about 2 minutes):

    .venv/bin/python -m bench.pipeline [--leads 5000] [--rate 100] [--burst 5000] [--seconds 20] [--json]
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import percentile, preload, raw_passthrough, report
from deploy.launcher import endpoints
from shared.contracts.intake import SubmitLead
from shared.envelope import new_envelope
from shared.topics import TopicSpec, ensure_topics
from shared.workdays import SHANGHAI
from sim import stackenv
from sim.directory import build_directory, write_directory
from sim.population import credit_code, mobile
from sim.registration import register_intake_clients
from sim.scenario import stable_random

ASSIGNED = b"shuangda.case.assigned.v1"
COUNTIES = ("610402", "610404", "610422", "610481")


def lead(i: int, tag: str) -> dict[str, Any]:
    return {
        "source_id": f"bench-{tag}-{i:06d}", "channel": "monitoring", "category": "trademarks",
        "county": COUNTIES[i % len(COUNTIES)], "description": "平台监测发现疑似假冒商品",
        "suspect": {"platform": "qinmall", "shop_id": f"b{tag}{i:06d}"},
        "figures": {"amount_involved": "1200.00", "pieces": 3},
    }


async def publish_leads(bootstrap: str, topic: str, n: int, tag: str) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = []
        for i in range(n):
            body = lead(i, tag)
            env = new_envelope(type=SubmitLead.EVENT_TYPE, source="/bench/monitor", subject=body["source_id"])
            futures.append(await producer.send(topic, value=json.dumps(body, ensure_ascii=False).encode(),
                                               key=body["source_id"].encode(), headers=env.to_headers()))
        await asyncio.gather(*futures)
        return started
    finally:
        await producer.stop()


async def count_routed(bootstrap: str, topic: str, n: int, timeout: float) -> tuple[int, float | None]:
    """Read case.routing until `n` case.assigned arrived; returns (count, perf_counter of the last). The bulk
    topic only: the leads' cases are there (complaints' are on its priority lane)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen, last = 0, None
    deadline = time.perf_counter() + timeout
    try:
        while seen < n and time.perf_counter() < deadline:
            for records in (await consumer.getmany(timeout_ms=200, max_records=2000)).values():
                for r in records:
                    if dict(r.headers).get("ce_type") == ASSIGNED:
                        seen += 1
                        last = time.perf_counter()
        return seen, last
    finally:
        await consumer.stop()


class Hotline:
    """Complaints about fresh businesses; remembers when each was posted (wall clock).

    The client is aiohttp's: httpx's pool spent the bench process's CPU (its request queue is
    scanned per request: quadratic once a backlog forms), so the caller itself held complaints back."""

    def __init__(self, urls: list[str], key: str, tag: str) -> None:
        import aiohttp

        self.urls = urls  # posted to in turn (several intake API instances with --replicas)
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=64), timeout=aiohttp.ClientTimeout(total=60), trust_env=False)
        self.key, self.tag = key, tag
        self.rng = stable_random("bench", tag)
        self.posted: dict[str, float] = {}
        self.answered: list[float] = []  # seconds from POST to its 201
        self.errors = 0
        self.error_kinds: dict[str, int] = {}  # "status 503", "ClientConnectorError": what the errors were
        self.n = 0

    def failed(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    async def post(self) -> None:
        self.n += 1
        county = COUNTIES[self.n % len(COUNTIES)]
        body = {
            "source_id": f"bench-{self.tag}-c{self.n:06d}", "kind": "complaint", "channel": "hotline",
            "category": "trademarks", "county": county, "description": "买到疑似假冒的运动鞋",
            "suspect": {"credit_code": credit_code(self.rng, county), "name": f"咸阳压测{self.n}商贸有限公司"},
            "complainant": {"name": "王五", "phone": mobile(self.rng)}, "figures": {"sales": "399.00", "pieces": 1},
        }
        import aiohttp

        data = json.dumps(body, ensure_ascii=False).encode()
        headers = {"authorization": f"Bearer {self.key}", "content-type": "application/json"}
        t0 = time.time()
        try:
            url = self.urls[self.n % len(self.urls)]
            async with self.http.post(f"{url}/v1/complaints", data=data, headers=headers) as response:
                status, answer = response.status, await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            self.failed(type(exc).__name__)
            return
        if status == 201:
            self.posted[json.loads(answer)["case_id"]] = t0
            self.answered.append(time.time() - t0)
        else:
            self.failed(f"status {status}")

    async def paced(self, rate: float, seconds: float) -> None:
        tasks: set[asyncio.Task[None]] = set()
        started = time.perf_counter()
        sent = 0
        while (elapsed := time.perf_counter() - started) < seconds:
            while sent < int(elapsed * rate) + 1:
                task = asyncio.create_task(self.post())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
            await asyncio.sleep(0.005)
        if tasks:
            await asyncio.wait(set(tasks))

    async def flat_out(self, callers: int, seconds: float) -> None:
        deadline = time.perf_counter() + seconds

        async def caller() -> None:
            while time.perf_counter() < deadline:
                await self.post()

        await asyncio.gather(*(caller() for _ in range(callers)))


@dataclass(frozen=True)
class Arrival:
    """One webhook the bureaus' gateway accepted (what the figures need of it)."""

    type: str
    case_id: str | None
    recipient: str | None
    bureau: str | None  # the assigned event's lead bureau
    arrived: float      # time.time() in the gateway's process


def run_receiver_process(port: int, secrets_file: str, arrivals_file: str) -> None:
    """The bureaus' webhook gateway (sim.receiver: verifies every signature) in a process of its own: in
    the benchmark's process it competed with the hotline for one event loop, and its ~1 ms of CPU per
    webhook delayed the very arrivals it timestamps. Each arrival is one JSON line in `arrivals_file`;
    a line ``{"rejected": n}`` reports signatures rejected so far."""
    import uvloop

    from sim.receiver import Receiver

    async def serve() -> None:
        out = open(arrivals_file, "a", encoding="utf-8", buffering=1)
        secrets = json.loads(Path(secrets_file).read_text())

        def arrived(endpoint: str, payload: dict[str, Any]) -> None:
            data = payload.get("data") or {}
            event = data.get("event") or {}
            out.write(json.dumps({"type": payload.get("type"), "case_id": data.get("case_id"),
                                  "recipient": data.get("recipient"), "bureau": event.get("bureau"),
                                  "arrived": time.time()}) + "\n")

        receiver = Receiver(secrets=secrets, on_webhook=arrived)
        await receiver.start(port)
        rejected = 0
        try:
            while True:
                await asyncio.sleep(0.5)
                if receiver.stats.rejected_signatures != rejected:
                    rejected = receiver.stats.rejected_signatures
                    out.write(json.dumps({"rejected": rejected}) + "\n")
        finally:
            await receiver.stop()

    uvloop.run(serve())


class ReceiverProcess:
    """`run_receiver_process` as a child process; `arrivals` reads what it has written so far."""

    def __init__(self, work: Path, secrets: dict[str, str], port: int) -> None:
        import subprocess
        import sys

        self.port = port
        self.secrets_file, self.log_file = work / "receiver-secrets.json", work / "receiver-arrivals.jsonl"
        self.secrets_file.write_text(json.dumps(secrets))
        self.log_file.touch()
        code = ("from bench.pipeline import run_receiver_process; "
                f"run_receiver_process({port}, {str(self.secrets_file)!r}, {str(self.log_file)!r})")
        self.proc = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent)
        self._arrivals: list[Arrival] = []
        self.rejected_signatures = 0
        self._offset = 0

    async def started(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(trust_env=False, timeout=1.0) as http:
            while True:
                try:
                    if (await http.get(f"http://127.0.0.1:{self.port}/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the webhook receiver did not start")
                await asyncio.sleep(0.1)

    @property
    def arrivals(self) -> list[Arrival]:
        with self.log_file.open("rb") as fh:
            fh.seek(self._offset)
            chunk = fh.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.splitlines():
            row = json.loads(line)
            if "rejected" in row:
                self.rejected_signatures = int(row["rejected"])
            else:
                self._arrivals.append(Arrival(row["type"], row["case_id"], row["recipient"], row["bureau"],
                                              row["arrived"]))
        return self._arrivals

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except Exception:
            self.proc.kill()


def webhook_latencies(receiver: ReceiverProcess, posted: dict[str, float]) -> list[float]:
    first: dict[str, float] = {}
    for a in receiver.arrivals:
        if a.type == ASSIGNED.decode() and a.case_id in posted and a.case_id not in first and a.bureau == a.recipient:
            first[a.case_id] = a.arrived
    return [first[c] - posted[c] for c in first]


async def wait_for_webhooks(receiver: ReceiverProcess, posted: dict[str, float], timeout: float) -> list[float]:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        got = webhook_latencies(receiver, posted)
        if len(got) >= len(posted):
            return got
        await asyncio.sleep(0.5)
    return webhook_latencies(receiver, posted)


async def notify_drained(dsn: str, schema: str, timeout: float) -> tuple[float, int]:
    """Wait until notify has nothing pending; returns (perf_counter then, deliveries delivered)."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    deadline = time.perf_counter() + timeout
    try:
        while True:
            row = await conn.fetchrow(
                f"SELECT count(*) FILTER (WHERE state IN ('pending', 'in_flight')) AS waiting,"
                f" count(*) FILTER (WHERE state = 'delivered') AS delivered FROM \"{schema}\".deliveries")
            if row["waiting"] == 0 or time.perf_counter() > deadline:
                return time.perf_counter(), int(row["delivered"])
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def first_of_type(bootstrap: str, topic: str, ce_type: bytes, cases: set[str]) -> dict[str, float]:
    """The broker timestamp (epoch seconds) of the first `ce_type` record about each of `cases` on case topic
    `topic` and its priority lane (both read from their beginning to their end)."""
    from aiokafka import TopicPartition

    from shared.topics import both_lanes

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    out: dict[str, float] = {}
    try:
        cluster = await consumer._client.fetch_all_metadata()  # noqa: SLF001 (the public topics() drops it)
        tps = [TopicPartition(t, p) for t in both_lanes(topic) for p in sorted(cluster.partitions_for_topic(t) or ())]
        if not tps:
            return out
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        async def behind() -> bool:
            for tp, end in ends.items():
                if await consumer.position(tp) < end:
                    return True
            return False

        while await behind():
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for r in records:
                    case = r.key.decode() if r.key else None
                    if case in cases and case not in out and dict(r.headers).get("ce_type") == ce_type:
                        out[case] = r.timestamp / 1000
        return out
    finally:
        await consumer.stop()


async def complaint_stages(bootstrap: str, dsn: str, iso: Any, posted: dict[str, float], receiver: ReceiverProcess) -> dict[str, Any]:
    """Where a complaint's time went, stage by stage (p50/p99 ms of each step):
    POST → case.opened on case.intake (intake) → case.assigned on case.routing (routing) → the webhook
    planned in notify's deliveries (notify's consumer) → the webhook arriving (notify's dispatcher)."""
    import asyncpg

    cases = set(posted)
    opened = await first_of_type(bootstrap, iso.topic("case.intake"), b"shuangda.case.opened.v1", cases)
    assigned = await first_of_type(bootstrap, iso.topic("case.routing"), ASSIGNED, cases)
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            f"""SELECT case_id, min(extract(epoch FROM created_at)) AS planned FROM "{iso.schemas.notify}".deliveries
                WHERE case_id = ANY($1::text[]) AND channel = 'webhook' AND event_type = 'shuangda.case.assigned.v1'
                GROUP BY case_id""", sorted(cases))
    finally:
        await conn.close()
    planned = {r["case_id"]: float(r["planned"]) for r in rows}
    arrived: dict[str, float] = {}
    for a in receiver.arrivals:
        if a.type == ASSIGNED.decode() and a.case_id in cases and a.case_id not in arrived:
            arrived[a.case_id] = a.arrived
    steps = {"post_to_opened": (posted, opened), "opened_to_assigned": (opened, assigned),
             "assigned_to_planned": (assigned, planned), "planned_to_webhook": (planned, arrived)}
    out: dict[str, Any] = {}
    for name, (a, b) in steps.items():
        gaps = [b[c] - a[c] for c in cases if c in a and c in b]
        out[f"complaint_{name}_p50_ms"] = summary(gaps)["p50_ms"] if gaps else None
        out[f"complaint_{name}_p99_ms"] = summary(gaps)["p99_ms"] if gaps else None
    return out


def summary(latencies: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(latencies, 50) * 1000, 1), "p99_ms": round(percentile(latencies, 99) * 1000, 1)}


class PipelineServices(stackenv.Services):
    """The four services as child processes; with `split_intake`, intake as two (shared.runtime.service
    roles): ``intake-api`` on intake's port, which the hotline posts to, and ``intake-worker`` (the ingress
    consumer) on a port of its own, so a complaint is never answered behind an ingress batch's CPU.

    With ``replicas`` > 1, each of those processes runs that many times, as ``shuangda up --replicas N``
    does: the same consumer group, its own HTTP port and ``SHUANGDA_INSTANCE`` (the relay and the other
    singleton jobs elect one leader among them). The first of each keeps the service's own port."""

    def __init__(self, iso: stackenv.Isolated, env: dict[str, str], log_dir: Path, *, split_intake: bool,
                 replicas: int = 1) -> None:
        super().__init__(iso, env, log_dir)
        self.split_intake = split_intake
        self.replicas = max(1, replicas)
        self.urls: dict[str, str] = {}

    def _spawn(self, proc: str, module: str, env: dict[str, str], port: str | None) -> None:
        self.procs[proc] = self.spawner(module, env, self.log_dir / f"{proc}.log")
        self.urls[proc] = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        # the case pipeline only: custody, appraisal and inspection take no part in a complaint's way
        for name in stackenv.PIPELINE:
            upper = name.upper()
            if name == "intake" and self.split_intake:
                roles = {"intake-api": "api", "intake-worker": "worker"}
            else:
                roles = {name: ""}
            for proc, role in roles.items():
                for i in range(self.replicas):
                    keeps_own_port = i == 0 and role != "worker"
                    port = str(self.iso.ports[name]) if keeps_own_port else str(stackenv.free_port())
                    extra = {"SHUANGDA_INSTANCE": str(i), f"SHUANGDA_{upper}_HTTP_PORT": port, f"SHUANGDA_{upper}_PORT": port}
                    if role:
                        extra[f"SHUANGDA_{upper}_ROLE"] = role
                    self._spawn(proc if i == 0 else f"{proc}-{i + 1}", f"services.{name}", {**self.env, **extra}, port)

    def hotline_urls(self) -> list[str]:
        """Where complaints are posted: every process that serves intake's API."""
        first = "intake-api" if self.split_intake else "intake"
        return [url for proc, url in self.urls.items() if proc == first or proc.startswith(f"{first}-")]

    async def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        waiting = set(self.urls)
        async with httpx.AsyncClient(trust_env=False, timeout=2.0) as http:
            while waiting:
                for name in sorted(waiting):
                    proc = self.procs[name]
                    if proc.poll() is not None:
                        raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.log_dir / f'{name}.log'}")
                    try:
                        if (await http.get(f"{self.urls[name]}/readyz")).status_code == 200:
                            waiting.discard(name)
                    except httpx.HTTPError:
                        pass
                if waiting and time.monotonic() > deadline:
                    raise TimeoutError(f"not ready after {timeout:.0f} s: {', '.join(sorted(waiting))} (logs in {self.log_dir})")
                if waiting:
                    await asyncio.sleep(0.3)


def _spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before.get(name, 0.0), 2) for name in sorted(after)}


class RssSampler:
    """The largest resident set each service process reached (VmHWM from /proc), sampled while the run goes."""

    def __init__(self, services: PipelineServices) -> None:
        self.services = services
        self.max_mb: dict[str, float] = {}

    def sample(self) -> None:
        for name, proc in self.services.procs.items():
            try:
                text = Path(f"/proc/{proc.pid}/status").read_text()
            except OSError:
                continue
            for line in text.splitlines():
                if line.startswith("VmHWM:"):
                    mb = int(line.split()[1]) / 1024
                    self.max_mb[name] = round(max(self.max_mb.get(name, 0.0), mb), 1)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds (user + system) each service process has used so far: what a stage cost, whatever
        share of the machine others left it (on a shared machine the rates swing, CPU per item does not)."""
        tick = os.sysconf("SC_CLK_TCK")
        out: dict[str, float] = {}
        for name, proc in self.services.procs.items():
            try:
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[name] = (int(fields[11]) + int(fields[12])) / tick
        return out

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample()
            try:
                await asyncio.wait_for(stop.wait(), 0.5)
            except asyncio.TimeoutError:
                pass


async def main(args: argparse.Namespace) -> dict[str, Any]:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # "topic not in metadata yet" while topics are made
    ep = endpoints()
    bootstrap, dsn = ep.kafka_bootstrap, ep.pg_dsn
    iso = stackenv.Isolated.make(stackenv.new_unique("b"))
    tag = iso.unique
    work = Path(tempfile.mkdtemp(prefix=f"shuangda-bench-{tag}-"))
    receiver: ReceiverProcess | None = None
    services: PipelineServices | None = None
    stop_sampling = asyncio.Event()
    sampling: asyncio.Task[None] | None = None
    t_start = time.perf_counter()
    try:
        await stackenv.prepare(iso, dsn, bootstrap)
        port = stackenv.free_port()
        today = dt.datetime.now(SHANGHAI).date()
        document, secrets = build_directory(f"http://127.0.0.1:{port}", today, version=f"bench-{tag}", concurrency=16)
        receiver = ReceiverProcess(work, secrets, port)
        await receiver.started()
        hotline_id, monitor_id = f"hotline-{tag}", f"monitor-{tag}"
        keys = await register_intake_clients(dsn, iso.schemas.identity, bootstrap,
                                             {hotline_id: "hotline", monitor_id: "platform"}, [monitor_id])
        env = iso.env(directory_path=write_directory(work / "directory.yaml", document),
                      sms_url=f"http://127.0.0.1:{port}/sms")
        services = PipelineServices(iso, env, work / "logs", split_intake=args.split_intake, replicas=args.replicas)
        services.start()
        rss = RssSampler(services)
        sampling = asyncio.create_task(rss.run(stop_sampling))

        # (a) the raw baseline, while the services start
        raw_src, raw_dst = iso.topic("bench.raw.in"), iso.topic("bench.raw.out")
        await ensure_topics(bootstrap, [TopicSpec(raw_src, "key", "bench", partitions=3, has_dlq=False),
                                        TopicSpec(raw_dst, "key", "bench", partitions=3, has_dlq=False)])
        await preload(bootstrap, raw_src, args.raw_events, "shuangda.bench.passthrough.v1")
        await services.wait_ready(timeout=180)
        raw_rate = await raw_passthrough(bootstrap, raw_src, raw_dst, args.raw_events, f"bench-raw-{tag}")

        # (b) sustained leads/s, ingress → routed case
        cpu_before_b = rss.cpu_seconds()
        counter = asyncio.create_task(count_routed(bootstrap, iso.topic("case.routing"), args.leads, timeout=300))
        await asyncio.sleep(2)
        produce_started = await publish_leads(bootstrap, f"ingress.{monitor_id}", args.leads, tag)
        routed, last = await counter
        leads_rate = routed / (last - produce_started) if last else 0.0
        cpu_b = _spent(cpu_before_b, rss.cpu_seconds())

        # notify fans out the leads' webhooks behind routing: measure how long it takes to drain them,
        # so the latency runs below start from an idle pipeline
        drained_after = await notify_drained(dsn, iso.schemas.notify, timeout=240)
        deliveries_rate = drained_after[1] / (drained_after[0] - produce_started) if drained_after[1] else 0.0

        # (c) hotline POST → bureau webhook at a paced rate while a burst of leads arrives on ingress
        hotline = Hotline(services.hotline_urls(), keys[hotline_id], tag + "m")
        cpu_before_c = rss.cpu_seconds()
        burst = asyncio.create_task(publish_leads(bootstrap, f"ingress.{monitor_id}", args.burst, tag + "x"))
        await hotline.paced(args.rate, args.seconds)
        await burst
        cpu_c = _spent(cpu_before_c, rss.cpu_seconds())
        load_c = os.getloadavg()[0]
        latencies = await wait_for_webhooks(receiver, hotline.posted, timeout=120)
        await notify_drained(dsn, iso.schemas.notify, timeout=240)
        try:
            stages = await complaint_stages(bootstrap, dsn, iso, hotline.posted, receiver)
        except Exception as exc:  # a breakdown that fails must not lose the run's figures
            stages = {"complaint_stages_error": f"{type(exc).__name__}: {exc}"}

        figures: dict[str, Any] = {
            "intake_processes": "api+worker" if args.split_intake else "one",
            "replicas": args.replicas,
            "raw_events": args.raw_events,
            "raw_per_s": round(raw_rate, 1),
            "leads": args.leads,
            "leads_routed": routed,
            "pipeline_leads_per_s": round(leads_rate, 1),
            "pipeline_leads_ratio": round(leads_rate / raw_rate, 3) if raw_rate else None,
            "lead_notices_delivered": drained_after[1],
            "notices_per_s_ingress_to_delivered": round(deliveries_rate, 1),
            "complaint_rate_per_s": args.rate,
            "complaint_burst_leads": args.burst,
            "complaints_posted": len(hotline.posted),
            "complaint_webhooks": len(latencies),
            "complaint_to_webhook_p50_ms": summary(latencies)["p50_ms"],
            "complaint_to_webhook_p99_ms": summary(latencies)["p99_ms"],
            "complaint_post_answered_p50_ms": summary(hotline.answered)["p50_ms"] if hotline.answered else None,
            "complaint_post_answered_p99_ms": summary(hotline.answered)["p99_ms"] if hotline.answered else None,
            **stages,
            # CPU seconds per service: while the leads were routed (b), and while the complaints were posted (c)
            "cpu_s_routing_leads_by_service": cpu_b,
            "cpu_ms_per_routed_lead": round(sum(cpu_b.values()) * 1000 / routed, 2) if routed else None,
            "cpu_s_complaint_phase_by_service": cpu_c,
            "intake_api_cpu_ms_per_complaint": (round(cpu_c["intake-api"] * 1000 / max(1, hotline.n), 2)
                                                if "intake-api" in cpu_c else None),
            "load_average_1m_complaint_phase": round(load_c, 1),
            "http_errors": hotline.errors,
            "http_error_kinds": hotline.error_kinds,
            "webhook_signatures_rejected": receiver.rejected_signatures,
        }
        await hotline.http.close()
        if args.saturation:
            saturated = Hotline(services.hotline_urls(), keys[hotline_id], tag + "s")
            sat_started = time.perf_counter()
            await saturated.flat_out(args.callers, args.seconds)
            sat_posted_rate = len(saturated.posted) / (time.perf_counter() - sat_started)
            sat_lat = await wait_for_webhooks(receiver, saturated.posted, timeout=120)
            figures.update({
                "saturation_callers": args.callers,
                "saturation_complaints_per_s": round(sat_posted_rate, 1),
                **{f"saturation_post_to_webhook_{k}": v for k, v in summary(sat_lat).items()},
            })
            await saturated.http.close()
        rss.sample()
        figures["rss_mb_max_by_service"] = dict(sorted(rss.max_mb.items()))
        figures["rss_mb_max"] = max(rss.max_mb.values(), default=None)
        figures["seconds"] = round(time.perf_counter() - t_start, 1)
        report("pipeline", figures)
        return figures
    finally:
        stop_sampling.set()
        if sampling is not None:
            await sampling
        if services is not None:
            await asyncio.to_thread(services.stop)
        if receiver is not None:
            receiver.stop()
        await stackenv.cleanup(iso, dsn, bootstrap)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--raw-events", type=int, default=10_000, help="records for the raw pass-through baseline")
    p.add_argument("--leads", type=int, default=5000, help="leads published at once on the ingress topic")
    p.add_argument("--rate", type=float, default=100.0, help="complaints per second in the latency run")
    p.add_argument("--burst", type=int, default=5000, help="leads arriving on ingress during the latency run")
    p.add_argument("--seconds", type=float, default=20.0, help="length of the latency (and saturation) run")
    p.add_argument("--saturation", action="store_true", help="also run as many concurrent callers as --callers")
    p.add_argument("--callers", type=int, default=32, help="concurrent callers at saturation")
    p.add_argument("--one-intake", dest="split_intake", action="store_false",
                   help="intake as one process (role all) instead of its API and worker processes")
    p.add_argument("--replicas", type=int, default=1,
                   help="processes of each service (one consumer group, a port each), as `shuangda up --replicas N`")
    p.add_argument("--json", action="store_true", help="print only one JSON object with the figures")
    return p


if __name__ == "__main__":
    asyncio.run(main(parser().parse_args()))
