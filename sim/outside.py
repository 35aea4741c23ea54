"""The hotline centres, the web form, the platforms and the big-data monitor.

Each sends the day's submissions (`sim.scenario`) at their simulated time
through a real intake channel:

* hotlines and the web form: ``POST /v1/complaints``, one per call, with an
  ``Idempotency-Key``; a 422 is read out to the operator, who corrects the
  typo and submits again a little later;
* platforms: ``POST /v1/leads:batch`` every few simulated minutes with what
  their monitoring found since the last push;
* the big-data monitor: CloudEvents on its own Kafka topic ``ingress.<client>``
  (what it gets wrong lands in the topic's dead-letter twin).

Duplicates are sent as real systems send them: a retried request with the same
``Idempotency-Key``, a re-entered complaint or a re-pushed lead with the same
source id, a re-published record.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import httpx

from shared.contracts.intake import SubmitLead
from shared.envelope import new_envelope
from shared.kafka import KafkaConnection
from sim.api import call
from sim.clock import SimClock
from sim.scenario import DayPlan, Submission, stable_random
from sim.schedule import Scheduler
from sim.stats import SimStats

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer

log = logging.getLogger(__name__)

BATCH_EVERY = dt.timedelta(minutes=10)
BATCH_MAX = 500


@dataclass
class Outside:
    plan: DayPlan
    clock: SimClock
    scheduler: Scheduler
    intake: httpx.AsyncClient
    #: logical client (``hotline-12315``) → registered client id (with the run's namespace)
    client_ids: dict[str, str]
    api_keys: dict[str, str]          # registered client id → API key
    #: a bootstrap string or a shared.kafka.KafkaConnection
    bootstrap: Any
    stats: SimStats = field(default_factory=SimStats)
    #: how a client (its registered id) reaches Kafka (sim.world.Target.client_kafka); None: as `bootstrap`
    client_kafka: Callable[[str], Any] | None = None
    #: source id → case id, as intake answered
    case_of: dict[str, str] = field(default_factory=dict)
    #: told of each complaint intake registered: (submission, registered client, the body sent, tracking number)
    on_filed: Callable[[Submission, str, dict[str, Any], str | None], None] | None = None
    concurrency: int = 16
    _buffers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _batches: int = 0
    #: one producer per publishing client: each is its own principal on a secure cluster
    _producers: dict[str, AIOKafkaProducer] = field(default_factory=dict)
    _inflight: set[asyncio.Task[None]] = field(default_factory=set)
    finished: bool = False

    def ingress_topic(self, logical: str) -> str:
        return f"ingress.{self.client_ids[logical]}"

    async def run(self, stop: asyncio.Event) -> None:
        """Send every submission at its time; returns when the day's last one is sent."""
        sem = asyncio.Semaphore(self.concurrency)
        for logical in sorted({s.client for s in self.plan.submissions if s.transport == "lead_kafka"}):
            client = self.client_ids[logical]
            kafka = self.client_kafka(client) if self.client_kafka else KafkaConnection.of(self.bootstrap)
            producer = self._producers[logical] = kafka.producer(acks="all", enable_idempotence=True, linger_ms=5)
            await producer.start()
        flusher = asyncio.create_task(self._flush_loop(stop))
        try:
            for s in self.plan.submissions:
                if not await self.clock.sleep_until(s.at, stop):
                    return
                self._send(s, sem)
                if s.resend_after is not None:
                    self.scheduler.at(s.at + s.resend_after, lambda s=s: self._resend(s, sem), "resend")
            # the platforms push what is left at the end of the day
            await self.clock.sleep_until(self.plan.start + dt.timedelta(days=1), stop)
            await self._flush_all()
            if self._inflight:
                await asyncio.wait(set(self._inflight), timeout=60)
        finally:
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)
            self.finished = True

    async def close(self) -> None:
        for producer in self._producers.values():
            await producer.stop()

    def _task(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    def _send(self, s: Submission, sem: asyncio.Semaphore, *, payload: dict[str, Any] | None = None,
              key: str | None = None) -> None:
        self.stats.sent[s.client] += 1
        body = payload or s.payload
        if s.transport == "complaint":
            self._task(self._complaint(s, body, sem, key or s.source_id))
        elif s.transport == "lead_batch":
            self._buffers.setdefault(s.client, []).append(body)
        else:
            self._task(self._publish(s, body))

    async def _resend(self, s: Submission, sem: asyncio.Semaphore) -> None:
        rng = stable_random("resend", self.plan.seed, s.seq)
        same_key = rng.random() < 0.5
        self._send(s, sem, key=s.source_id if same_key else f"{s.source_id}/again")

    async def _complaint(self, s: Submission, body: dict[str, Any], sem: asyncio.Semaphore, key: str) -> None:
        client = self.client_ids[s.client]
        async with sem:
            answer = await call(self.intake, "POST", "/v1/complaints", token=self.api_keys[client], json=body,
                                idempotency_key=key)
        if answer.status in (200, 201) and isinstance(answer.body, dict):
            outcome = answer.body.get("outcome", "opened")
            self.stats.outcomes[outcome] += 1
            if answer.body.get("case_id"):
                self.case_of[s.source_id] = answer.body["case_id"]
            if self.on_filed is not None and outcome in ("opened", "merged"):
                self.on_filed(s, client, body, answer.body.get("tracking_no"))
        elif answer.status == 422:
            self.stats.outcomes["rejected"] += 1
            self.stats.rejected[answer.reason] += 1
            if s.fixed is not None and body is not s.fixed:
                self.stats.resubmitted += 1
                self.scheduler.at(self.clock.now() + s.fix_after,
                                  lambda: self._fixed(s, sem), "resubmit")
        else:
            self.stats.errors[f"complaint:{answer.status}"] += 1
            log.warning("complaint %s: %s %s", s.source_id, answer.status, answer.body)

    async def _fixed(self, s: Submission, sem: asyncio.Semaphore) -> None:
        assert s.fixed is not None
        self._send(s, sem, payload=s.fixed, key=f"{s.source_id}/fixed")

    async def _flush_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(max(0.05, self.clock.wall_seconds(BATCH_EVERY)))
            await self._flush_all()

    async def _flush_all(self) -> None:
        for client, items in list(self._buffers.items()):
            while items:
                batch, items[:] = items[:BATCH_MAX], items[BATCH_MAX:]
                self._task(self._batch(client, batch))

    async def _batch(self, logical: str, leads: list[dict[str, Any]]) -> None:
        client = self.client_ids[logical]
        self._batches += 1
        answer = await call(self.intake, "POST", "/v1/leads:batch", token=self.api_keys[client], json={"leads": leads},
                            idempotency_key=f"{self.plan.run_id}-{logical}-batch-{self._batches:05d}")
        if answer.status == 200 and isinstance(answer.body, dict):
            for result in answer.body.get("results", []):
                outcome = result.get("outcome", "?")
                self.stats.outcomes[outcome] += 1
                if outcome == "rejected":
                    errors = result.get("errors") or [{}]
                    self.stats.rejected[str(errors[0].get("reason", "invalid"))] += 1
                elif result.get("case_id") and result.get("source_id"):
                    self.case_of[result["source_id"]] = result["case_id"]
        else:
            self.stats.errors[f"batch:{answer.status}"] += 1
            log.warning("lead batch from %s: %s %s", client, answer.status, answer.body)

    async def _publish(self, s: Submission, body: dict[str, Any]) -> None:
        producer = self._producers[s.client]
        env = new_envelope(type=SubmitLead.EVENT_TYPE, source=f"/sim/{self.client_ids[s.client]}", subject=s.source_id)
        try:
            await (await producer.send(self.ingress_topic(s.client), value=json.dumps(body, ensure_ascii=False).encode(),
                                              key=s.source_id.encode(), headers=env.to_headers()))
            self.stats.kafka_published += 1
        except Exception as exc:  # the broker's own retries are exhausted
            self.stats.errors["kafka"] += 1
            log.warning("publishing lead %s failed: %s", s.source_id, exc)
