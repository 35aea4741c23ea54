"""The dispatcher: claims due deliveries, sends them, records what happened.

Loop: claim due deliveries (``FOR UPDATE SKIP LOCKED``, leased) for endpoints
that are available — circuit closed or due for a half-open trial, not paused
by a Retry-After, below their concurrency limit — then send each in its own
task and record the outcome in one transaction with its status event
(``notification.delivered`` / ``notification.failed`` through the outbox).
A slow or dead endpoint holds at most its own few slots and, once its circuit
opens, none: nobody else waits for it.

Outcomes: delivered; retry (the next attempt on the schedule, or when the
receiver's Retry-After says); failed (the schedule is exhausted, or a
permanent rejection) and disabled (the endpoint answered 410 Gone, now or
before) — both activate the recipient's next channel, if any.

The sweep takes back in-flight deliveries whose lease expired (their
dispatcher died mid-send: they are sent again with the SAME webhook-id, which
receivers deduplicate on), fails deliveries an open circuit kept waiting past
their whole retry window, and refreshes the backlog and circuit gauges.
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.notify.adapters import postgres as repo
from services.notify.adapters.directory_file import DirectoryFile
from services.notify.adapters.email import EmailSender
from services.notify.adapters.postgres import Claimed
from services.notify.adapters.sms import SmsGateway
from services.notify.adapters.webhook import WebhookSender
from services.notify.domain.directory import endpoint_key
from services.notify.domain.notices import PRIORITY_BULK
from services.notify.domain.policy import AttemptResult, Breakers, Decision, RetryPolicy, Verdict, decide
from services.notify.metrics import (
    ATTEMPT_DURATION,
    ATTEMPTS,
    BACKLOG,
    BACKLOG_AGE,
    CHANNELS,
    CIRCUIT_OPEN,
    DELIVERY_LATENCY,
    DIGEST_ITEMS_WAITING,
    ERASED_RECIPIENT_SKIPPED,
    LEASES_EXPIRED,
    NOTIFICATIONS,
)
from shared.clock import Clock, WallClock
from shared.contracts.cases import Sealed
from shared.contracts.notification import NotificationDelivered, NotificationFailed
from shared.db import connect
from shared.envelope import deterministic_event_id
from shared.logging import log_context
from shared import vault
from shared.pii import Erased, Keyring, Opener, PiiError
from shared.runtime.backoff import Backoff, sleep_or_stop, wait_any
from shared.runtime.errors import is_transient
from shared.runtime.uow import unit_of_work

log = logging.getLogger(__name__)
#: the level each recorded outcome is logged at (failed, disabled: WARNING)
_LOG_LEVELS = {"delivered": logging.DEBUG, "retry": logging.INFO}


@dataclass(frozen=True)
class DispatchConfig:
    schema: str
    dsn: str
    notification_topic: str
    source: str = "/shuangda/notify"
    endpoint_concurrency: int = 4
    max_in_flight: int = 400
    #: sends of the in-flight budget that bulk (priority 2) never takes: kept for complaints' and critical
    #: notices, so a bulk backlog filling every other slot cannot make them wait for a bulk send to finish
    priority_reserve: int = 40
    #: outcomes sent but not yet recorded; past this the dispatcher stops claiming until the recorder catches up
    max_unrecorded: int = 2000
    claim_batch_size: int = 200
    poll_seconds: float = 0.5
    lease_seconds: float = 60.0
    sweep_interval_seconds: float = 5.0
    keep_finished_seconds: float = 30 * 86400
    webhook_timeout_seconds: float = 15.0
    #: the key store of persons' data keys (shared.vault): a complainant's phone opens through it
    vault_schema: str = "vault"


@dataclass(frozen=True)
class _Target:
    """Where one attempt goes, resolved at send time."""

    endpoint: str
    address: str
    url: str | None = None
    secret: str | None = None
    timeout: float | None = None
    to: tuple[str, ...] = ()


def _is_bulk(row: Claimed) -> int:
    """1 for a bulk delivery (priority 2: held out of the priority reserve), else 0."""
    return 1 if row.priority >= PRIORITY_BULK else 0


class _NoTarget(Exception):
    pass


class _ErasedRecipient(_NoTarget):
    """The recipient's personal data was erased (their data key destroyed): the message is skipped,
    and counted once the skip is recorded (``shuangda_notification_erased_recipient_skipped_total``)."""


def _sealed_json(address: str) -> object:
    """A complainant delivery's address (a sealed phone, JSON) for the key store's look-up; junk is None
    (its delivery fails as no target, see `_target`)."""
    try:
        return json.loads(address)
    except ValueError:
        return None


@dataclass(frozen=True)
class _Outcome:
    """What one attempt came to, waiting to be recorded."""

    row: Claimed
    result: AttemptResult
    target: _Target | None
    started: datetime
    attempted: bool
    #: skipped because the recipient's data key is destroyed (counted after the commit)
    erased: bool = False


class Dispatcher:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        config: DispatchConfig,
        directory: DirectoryFile,
        policy: RetryPolicy,
        breakers: Breakers,
        webhook: WebhookSender,
        email: EmailSender,
        sms: SmsGateway,
        keyring: Keyring,
        clock: Clock | None = None,
        wall: Clock | None = None,
    ) -> None:
        self.pool = pool
        self.config = config
        self.directory = directory
        self.policy = policy
        self.breakers = breakers
        self.webhook = webhook
        self.email = email
        self.sms = sms
        self.keyring = keyring
        #: stamps the status events (`delivered_at`, `failed_at`): the shared clock, possibly accelerated
        self.clock = clock or WallClock()
        #: real time, for what waits on real receivers and is compared with Postgres ``now()`` (retry windows,
        #: attempt times, latency from the event's wall-clock time)
        self.wall = wall or WallClock()
        self.token = f"{uuid.uuid4().hex[:12]}"
        self.busy: dict[str, int] = {}
        #: bulk (priority 2) sends in flight, held to max_in_flight - priority_reserve
        self.bulk_busy = 0
        self.disabled: set[str] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.wake = asyncio.Event()
        self.listening = False
        self._last_prune = 0.0
        #: outcomes waiting to be recorded (batched: one transaction for many), counted in the in-flight budget
        self.outcomes: list[_Outcome] = []
        self.unrecorded = 0
        self._outcome_ready = asyncio.Event()
        self._closing = False

    # -- the claim loop ----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until `stop`; survives database outages (retried with backoff)."""
        self._closing = False
        recorder = asyncio.create_task(self._record_loop(), name="notify-recorder")
        backoff = Backoff(initial=0.5)
        try:
            while not stop.is_set():
                try:
                    await self._dispatch(stop)
                    backoff.reset()
                except Exception as exc:
                    self.listening = False
                    if not is_transient(exc):
                        log.exception("dispatcher failed; restarting")
                    delay = backoff.next()
                    log.warning("dispatcher: %s: %s; retrying in %.1fs", type(exc).__name__, exc, delay)
                    await sleep_or_stop(stop, delay)
        finally:
            await self._drain()
            self._closing = True
            self._outcome_ready.set()
            try:
                await asyncio.wait_for(recorder, timeout=10)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                log.warning("outcomes not recorded at stop; their leases will bring them back")

    async def _dispatch(self, stop: asyncio.Event) -> None:
        listener = await connect(self.config.dsn, self.config.schema)
        try:
            await listener.add_listener(f"{self.config.schema}_deliveries", lambda *_: self.wake.set())
            self.listening = True
            async with self.pool.acquire() as conn:
                self.disabled = await repo.disabled_endpoints(conn)
            while not stop.is_set():
                self.wake.clear()
                claimed, excluded = await self._claim_round()
                if claimed:
                    continue
                if excluded is None:  # every slot is taken: a finishing send wakes us
                    await wait_any(stop, self.wake, self.config.poll_seconds)
                else:
                    delay = await self._idle_seconds(excluded)
                    if self.busy:  # due rows may wait for an endpoint's slot (bulk never takes its last): a
                        delay = max(delay, 0.05)  # finishing send wakes us; no 10 ms polling meanwhile
                    await wait_any(stop, self.wake, delay)
        finally:
            self.listening = False
            await listener.close()

    def _cap(self, endpoint: str) -> int:
        target = self.directory.current.webhook_targets().get(endpoint)
        if target is not None and target.max_concurrency:
            return target.max_concurrency
        return self.config.endpoint_concurrency

    async def _claim_round(self) -> tuple[int, list[str] | None]:
        """Claim and start what is due; returns (started, endpoints excluded), None when saturated."""
        now = time.monotonic()
        excluded = set(self.breakers.unavailable(now))
        caps = {e: self._cap(e) for e in self.busy}
        caps.update(self.directory.current.concurrency_caps)
        for endpoint, breaker in self.breakers.by_endpoint.items():
            if breaker.failures:  # failing: one send at a time until it answers (see CircuitBreaker.limit)
                caps[endpoint] = breaker.limit(caps.get(endpoint, self.config.endpoint_concurrency))
        excluded |= {e for e, n in self.busy.items() if n >= caps.get(e, self.config.endpoint_concurrency)}
        # the budget counts sends only: an outcome waiting for its batch to be recorded holds no connection,
        # so it must not keep a free endpoint idle (it did: with the recorder a commit behind, half the
        # budget sat in unrecorded outcomes). Unrecorded outcomes are bounded on their own.
        free = self.config.max_in_flight - sum(self.busy.values())
        if free <= 0 or self.unrecorded >= self.config.max_unrecorded:
            return 0, None
        bulk_free = min(free, self.config.max_in_flight - self.config.priority_reserve - self.bulk_busy)
        async with self.pool.acquire() as conn:
            rows = await repo.claim(
                conn, limit=min(self.config.claim_batch_size, free), per_endpoint=self.config.endpoint_concurrency,
                excluded=sorted(excluded), busy={e: n for e, n in self.busy.items() if n}, caps=caps,
                lease_seconds=self.config.lease_seconds, token=self.token, bulk_limit=bulk_free,
            )
            # one read of the key store per claimed batch: the complainants' data keys (none for values
            # sealed under the service key); an erased person's phone then gives no target, never a crash
            opener = await vault.opener(conn, self.keyring, [_sealed_json(r.address) for r in rows
                                                             if r.recipient.startswith("complainant:")],
                                        schema=self.config.vault_schema)
            give_back: list[int] = []
            for row in rows:
                breaker = self.breakers.get(row.endpoint, row.channel)
                if row.endpoint not in self.disabled and not breaker.begin(time.monotonic()):
                    give_back.append(row.id)  # e.g. a half-open circuit allows one trial at a time
                    continue
                self.busy[row.endpoint] = self.busy.get(row.endpoint, 0) + 1
                self.bulk_busy += _is_bulk(row)
                task = asyncio.create_task(self._deliver(row, opener))  # unnamed: naming each was ~2 % of the burst
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            if give_back:
                await repo.release(conn, give_back, self.token)
        return len(rows) - len(give_back), sorted(excluded)

    async def _idle_seconds(self, excluded: list[str]) -> float:
        """How long to wait for a wake-up: until the next due delivery, at most the poll interval."""
        try:
            async with self.pool.acquire() as conn:
                due_in = await repo.next_due_in(conn, excluded)
        except Exception:  # the loop's own query will surface a real outage
            return self.config.poll_seconds
        if due_in is None:
            return self.config.poll_seconds
        return min(self.config.poll_seconds, max(0.01, due_in + 0.005))

    async def _drain(self, grace: float = 5.0) -> None:
        """On stop: let sends in progress finish briefly; the rest come back when their lease expires."""
        if self.tasks:
            _, pending = await asyncio.wait(set(self.tasks), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    # -- one delivery --------------------------------------------------------------------------
    async def _deliver(self, row: Claimed, opener: Opener | None = None) -> None:
        started_wall = self.wall.now()
        started = time.perf_counter()
        attempted = True
        erased = False
        try:
            with log_context(event_id=row.event_id, case_id=row.case_id, delivery_id=row.message_id, channel=row.channel):
                try:
                    if row.endpoint in self.disabled:
                        attempted = False
                        result, target = AttemptResult(Verdict.GONE, "disabled", detail="endpoint disabled (410 Gone earlier)"), None
                    else:
                        target = self._target(row, opener)
                        result = await self._send(row, target)
                except _NoTarget as exc:
                    attempted = False
                    erased = isinstance(exc, _ErasedRecipient)
                    result, target = AttemptResult(Verdict.REJECTED, "no_target", detail=str(exc)), None
                except Exception as exc:  # a bug in a sender must not kill the loop; the attempt failed
                    log.exception("send failed unexpectedly")
                    result, target = AttemptResult(Verdict.RETRY, "error", detail=type(exc).__name__), None
                elapsed = time.perf_counter() - started
                if attempted:
                    ATTEMPTS.labels(row.channel, result.result).inc()
                    ATTEMPT_DURATION.labels(row.channel).observe(elapsed)
                self._judge_endpoint(row, result)
                self._enqueue(_Outcome(row, result, target, started_wall, attempted, erased))
        finally:
            self.bulk_busy = max(0, self.bulk_busy - _is_bulk(row))
            self.busy[row.endpoint] = max(0, self.busy.get(row.endpoint, 1) - 1)
            if not self.busy[row.endpoint]:
                del self.busy[row.endpoint]
            self.wake.set()

    def _judge_endpoint(self, row: Claimed, result: AttemptResult) -> None:
        breaker = self.breakers.get(row.endpoint, row.channel)
        was_open = breaker.is_open
        now = time.monotonic()
        if result.verdict is Verdict.DELIVERED:
            breaker.success()
        elif result.endpoint_fault:
            breaker.failure(now)
        else:
            breaker.neutral()
        if result.retry_after is not None:
            breaker.pause(now, min(result.retry_after, self.policy.max_retry_after))
        if breaker.is_open != was_open:
            CIRCUIT_OPEN.labels(row.channel).set(self.breakers.open_by_channel().get(row.channel, 0))

    def _target(self, row: Claimed, opener: Opener | None = None) -> _Target:
        """Resolve the attempt's target from the directory in force (a corrected URL or mailbox applies
        to deliveries already queued); fall back to what was planned."""
        directory = self.directory.current
        entry = directory.recipient_entry(row.recipient) if not row.recipient.startswith("complainant:") else None
        if row.channel == "webhook":
            target = entry.webhook if entry is not None and entry.webhook is not None else None
            if target is None:
                target = directory.webhook_targets().get(row.endpoint)
            if target is None:
                raise _NoTarget("the directory no longer has a webhook for this recipient")
            return _Target(endpoint=target.endpoint, address=target.url, url=target.url,
                           secret=target.secret.get_secret_value(),
                           timeout=target.timeout_seconds or self.config.webhook_timeout_seconds)
        if row.channel == "email":
            to = tuple(entry.email) if entry is not None and entry.email else tuple(a for a in row.address.split(",") if a)
            if not to:
                raise _NoTarget("no mailbox for this recipient")
            return _Target(endpoint=endpoint_key("email"), address=",".join(to), to=to)
        if row.recipient.startswith("complainant:"):
            try:
                phone = (opener or Opener(self.keyring, {})).open(Sealed.model_validate_json(row.address), field="phone")
            except Erased:
                raise _ErasedRecipient("erased: the complainant's data key is destroyed (shuangda pii erase)") from None
            except (PiiError, ValueError) as exc:
                raise _NoTarget(f"the complainant's phone cannot be opened: {type(exc).__name__}") from None
            return _Target(endpoint=endpoint_key("sms"), address=row.address, to=(phone,))
        to = tuple(entry.sms) if entry is not None and entry.sms else tuple(a for a in row.address.split(",") if a)
        if not to:
            raise _NoTarget("no phone for this recipient")
        return _Target(endpoint=endpoint_key("sms"), address=",".join(to), to=to)

    async def _send(self, row: Claimed, target: _Target) -> AttemptResult:
        if row.channel == "webhook":
            assert target.url and target.secret
            return await self.webhook.send(msg_id=row.message_id, url=target.url, secret=target.secret,
                                           body=row.body.encode("utf-8"), timeout=target.timeout,
                                           endpoint=target.endpoint, connections=self._cap(target.endpoint))
        if row.channel == "email":
            return await self.email.send(msg_id=row.message_id, to=list(target.to), subject=row.subject, body=row.body)
        return await self.sms.send(msg_id=row.message_id, to=list(target.to), text=row.body)

    # -- recording -------------------------------------------------------------------------------
    def _enqueue(self, outcome: "_Outcome") -> None:
        self.outcomes.append(outcome)
        self.unrecorded += 1
        self._outcome_ready.set()

    async def _record_loop(self) -> None:
        """Record outcomes in batches: one transaction (one commit) for all that are waiting."""
        while True:
            await self._outcome_ready.wait()
            self._outcome_ready.clear()
            while self.outcomes:
                batch, self.outcomes = self.outcomes[:500], self.outcomes[500:]
                try:
                    await self._record_batch(batch)
                finally:
                    self.unrecorded -= len(batch)
                    self.wake.set()
            if self._closing:
                return

    async def _record_batch(self, batch: list["_Outcome"]) -> None:
        backoff = Backoff(initial=0.2, cap=5.0)
        deadline = time.monotonic() + self.config.lease_seconds / 2
        while True:
            try:
                async with unit_of_work(self.pool, source=self.config.source) as uow:
                    outcomes = await self._record_all(uow, batch)
                    uow.after_commit(lambda: self._recorded(batch, outcomes))
                break
            except Exception as exc:
                if not is_transient(exc):
                    if len(batch) > 1:  # find the one that cannot be recorded; record the others
                        for one in batch:
                            await self._record_batch([one])
                        return
                    log.exception("recording a delivery outcome failed; its lease will bring it back",
                                  extra={"delivery_id": batch[0].row.message_id})
                    return
                if time.monotonic() > deadline:
                    log.error("could not record %d outcome(s) (%s); their leases will bring them back", len(batch), exc)
                    return
                await asyncio.sleep(backoff.next())

    def _recorded(self, batch: list["_Outcome"], outcomes: list[str | None]) -> None:
        """After the outcomes' commit (never before: a rolled-back batch, recorded again, counts once):
        the outcome counters, the latency histogram and the log lines."""
        now = self.wall.now()
        for o, outcome in zip(batch, outcomes):
            if outcome is None:
                continue
            row, result = o.row, o.result
            NOTIFICATIONS.labels(row.channel, outcome).inc()
            if o.erased:
                ERASED_RECIPIENT_SKIPPED.labels(row.channel).inc()
            if outcome == "delivered":
                DELIVERY_LATENCY.labels(row.channel).observe(max(0.0, (now - row.event_time).total_seconds()))
            # a delivered notice is logged at DEBUG only: at 双11 rates a JSON line per webhook was ~18 µs of CPU
            # each, and the deliveries table, the status event and the counters already say it arrived
            level = _LOG_LEVELS.get(outcome, logging.WARNING)
            if log.isEnabledFor(level):
                with log_context(event_id=row.event_id, case_id=row.case_id, delivery_id=row.message_id,
                                 channel=row.channel):
                    log.log(level, "delivery %s: %s", outcome, result.detail or result.result,
                            extra={"attempt": row.attempts + (1 if o.attempted else 0), "result": result.result})

    async def _record_all(self, uow: Any, batch: list["_Outcome"]) -> list[str | None]:
        """Record a batch of outcomes in the batch's transaction, a constant number of statements for the
        common outcomes: one for every attempt, one for every delivered row, one for every retry (give-ups,
        rare, take a few each: the fallback channel is activated per delivery). Returns each outcome's
        label, None where it was not ours to record."""
        conn = uow.conn
        now = self.wall.now()
        attempts: list[repo.Attempt] = []
        delivered: list[tuple[int, repo.Update]] = []
        retries: list[tuple[int, repo.Update]] = []
        give_ups: list[tuple[int, Decision, int]] = []
        for i, o in enumerate(batch):
            row, result = o.row, o.result
            n = row.attempts + (1 if o.attempted else 0)
            if o.attempted:
                attempts.append(repo.Attempt(row.id, n, o.started, result.result, result.status, result.detail))
            decision = decide(self.policy, result, n, give_up_at=row.give_up_at, now=now, rnd=random.random())
            if decision.outcome in ("delivered", "retry"):
                update = repo.Update(row, n, result.result, result.status,
                                     endpoint=o.target.endpoint if o.target else row.endpoint,
                                     address=o.target.address if o.target else row.address,
                                     detail=result.detail, delay=decision.delay or 0.0)
                (delivered if decision.outcome == "delivered" else retries).append((i, update))
            else:
                give_ups.append((i, decision, n))
        await repo.record_attempts(conn, attempts)
        out: list[str | None] = [None] * len(batch)
        done = await repo.mark_delivered_many(conn, [u for _, u in delivered])
        for i, u in delivered:
            if u.claimed.id in done:
                self._emit_delivered(uow, u.claimed, u.attempts)
                out[i] = "delivered"
        again = await repo.schedule_retries(conn, [u for _, u in retries])
        for i, u in retries:
            if u.claimed.id in again:
                out[i] = "retry"
        for i, decision, n in give_ups:
            o = batch[i]
            if decision.outcome == "disabled" and o.row.endpoint not in self.disabled:
                await repo.disable_endpoint(conn, o.row.endpoint, o.row.channel, o.result.detail)
            assert decision.reason is not None
            out[i] = await self._give_up(uow, o.row, n, decision.outcome, decision.reason, o.result)
        return out

    async def _give_up(self, uow: Any, row: Claimed, attempts: int, state: str, reason: str, result: AttemptResult) -> str | None:
        conn = uow.conn
        if not await repo.mark_finished(conn, row, state=state, attempts=attempts, result=result.result,
                                        status=result.status, detail=result.detail):
            return None
        fallback = await repo.activate_fallback(conn, row, give_up_seconds=self.policy.window() + 60)
        if state == "disabled":
            self.disabled.add(row.endpoint)
        uow.emit(
            self.config.notification_topic,
            NotificationFailed(
                delivery_id=row.message_id, event_id=row.event_id, event_type=row.event_type,
                event_ids=list(row.event_ids), case_id=row.case_id, recipient=row.recipient, channel=row.channel,  # type: ignore[arg-type]
                attempts=attempts, reason=reason, detail=result.detail[:300], fallback_channel=fallback,  # type: ignore[arg-type]
                failed_at=self.clock.now(),
            ),
            key=row.recipient, correlationid=row.case_id,
            event_id=deterministic_event_id("notify", row.message_id, "failed"),
        )
        return state

    def _emit_delivered(self, uow: Any, row: Claimed, attempts: int) -> None:
        now = self.wall.now()
        uow.emit(
            self.config.notification_topic,
            NotificationDelivered(
                delivery_id=row.message_id, event_id=row.event_id, event_type=row.event_type,
                event_ids=list(row.event_ids), case_id=row.case_id, recipient=row.recipient, channel=row.channel,  # type: ignore[arg-type]
                attempts=max(1, attempts), fallback=row.rank > 0, digest=bool(row.event_ids),
                delivered_at=self.clock.now(), latency_seconds=max(0.0, (now - row.event_time).total_seconds()),
            ),
            key=row.recipient, correlationid=row.case_id,
            event_id=deterministic_event_id("notify", row.message_id, "delivered"),
        )

    def _leases_expired(self, channels: list[str]) -> None:
        """After the commit that took the leases back: count them and wake the claim loop."""
        for channel in channels:
            LEASES_EXPIRED.labels(channel).inc()
        if channels:
            self.wake.set()

    # -- the sweep ---------------------------------------------------------------------------------
    async def sweep(self, stop: asyncio.Event) -> None:
        """Take back expired leases, fail deliveries an open circuit held past their window, refresh gauges."""
        while not await sleep_or_stop(stop, self.config.sweep_interval_seconds):
            try:
                await self.sweep_once()
            except Exception as exc:  # the next round tries again
                log.warning("delivery sweep failed: %s: %s", type(exc).__name__, exc)

    async def sweep_once(self) -> None:
        async with unit_of_work(self.pool, source=self.config.source) as uow:
            expired_leases = await repo.expire_leases(uow.conn)
            uow.after_commit(lambda: self._leases_expired(expired_leases))
        async with self.pool.acquire() as conn:
            self.disabled = await repo.disabled_endpoints(conn)
            unavailable = self.breakers.unavailable(time.monotonic())
            expired = await repo.claim_expired_waiting(conn, endpoints=unavailable, lease_seconds=self.config.lease_seconds,
                                                       token=self.token)
            stats = await repo.backlog(conn)
            waiting = await repo.digest_items_waiting(conn)
            if self.config.keep_finished_seconds > 0 and time.monotonic() - self._last_prune > 3600:
                self._last_prune = time.monotonic()
                pruned = await repo.prune(conn, self.config.keep_finished_seconds)
                if pruned:
                    log.info("pruned %d finished deliveries", pruned)
        for row in expired:
            result = AttemptResult(Verdict.REJECTED, "expired", detail="endpoint unavailable past the retry window")
            self._enqueue(_Outcome(row, result, None, self.wall.now(), False))
        for channel in CHANNELS:
            n, age = stats.get(channel, (0, 0.0))
            BACKLOG.labels(channel).set(n)
            BACKLOG_AGE.labels(channel).set(age)
        DIGEST_ITEMS_WAITING.set(waiting)
        open_circuits = self.breakers.open_by_channel()
        for channel in CHANNELS:
            CIRCUIT_OPEN.labels(channel).set(open_circuits.get(channel, 0))

