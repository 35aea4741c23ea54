"""One simulated day against running services: plan, register, replay, observe.

    world = World(RunConfig(seed=11, size=SIZES["small"], day=date(2026, 11, 11), speed=6000), target)
    prepared = await world.prepare(state_dir)       # gateway up, notify directory written, keys registered
    # … (re)start the services with SHUANGDA_CLOCK=clock_spec, the directory path and the SMS URL …
    result = await world.run(on_tick=print)          # replays the day and the follow-up days
    await world.close()

`World` owns the simulated outside world: the hotline/platform/monitor clients
(`sim.outside`), the bureaus' webhook gateway (`sim.receiver`), the back ends,
the office and the police (`sim.backends`), and an observer of the database
(`sim.observe`). It does not start services; the demo and the tests do.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from shared.reference import categories, city, counties, directory
from sim.api import call, client as http_client
from sim.backends import Backends
from sim.clock import SimClock, accelerated_spec
from sim.directory import build_directory, office_bureau, write_directory
from sim.goods import SeizedGoods
from sim.inspections import Inspections
from sim.observe import Observer, Schemas, Scope, Snapshot
from sim.outside import Outside
from sim.receiver import Receiver, ReceiverStats
from sim.reporters import Reporters
from sim.registration import (
    Keys,
    all_bureaus,
    create_egress_topics,
    likely_bureaus,
    register_appraisers,
    register_bureau_keys,
    register_credit_bureaus,
    register_intake_clients,
    register_kafka_submitter,
)
from sim.scenario import CLIENTS, SIZES, DayPlan, Size, plan_day
from sim.schedule import Scheduler
from sim.stats import SimStats

log = logging.getLogger(__name__)

#: a code the credit probe asks about (any valid code will do)
PROBE_CODE = "91110000600037341L"


@dataclass(frozen=True)
class Target:
    """Where the services run and what they are called there."""

    intake: str
    routing: str
    credit: str
    dsn: str
    bootstrap: str
    schemas: Schemas = field(default_factory=Schemas)
    #: appended to the simulated clients' ids (``hotline-12315-<namespace>``): isolates a test's clients
    namespace: str = ""
    #: routing's SHUANGDA_ROUTING_EGRESS_PREFIX
    egress_prefix: str = ""
    #: create the bureaus' egress topics before the day (routing otherwise creates each on first use,
    #: holding up its consumer); off for throw-away namespaces, whose topics would pile up on the broker
    precreate_egress: bool = True
    #: issue 15's services; empty: not run, the simulated day leaves seized goods, appraisals and
    #: inspections alone (and the report says so)
    custody: str = ""
    appraisal: str = ""
    inspection: str = ""
    #: the secure profile: the CA of the services' HTTPS certificates (None: plain http) …
    ca_file: str | None = None
    #: … the replication factor of the topics the simulator creates (`bootstrap` may then be a
    #: shared.kafka.KafkaConnection, the operator's) …
    replication_factor: int = 1
    #: … how an outside client (by its id) reaches Kafka: its own principal, which the ACLs let write
    #: only its ``ingress.<id>`` (None: as `bootstrap`) …
    client_kafka: Callable[[str], Any] | None = None
    #: … and the webhook gateway's certificate chain and key (notify then delivers over HTTPS)
    gateway_tls: tuple[str, str] | None = None


@dataclass(frozen=True)
class RunConfig:
    seed: int
    day: dt.date
    size: Size = SIZES["medium"]
    speed: float = 6000.0
    #: simulated days the bureaus keep working after the day (deadlines run 7 working days and more)
    follow_days: float = 10.0
    run_id: str = ""
    #: share of first webhook attempts the gateway answers 503 (notify retries them)
    busy_share: float = 0.01
    #: simulated time before the day starts that the services' clocks are started at (covers their start-up)
    lead_in_wall_seconds: float = 45.0

    @property
    def start(self) -> dt.datetime:
        from sim.scenario import day_start

        return day_start(self.day)

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(days=1 + self.follow_days)

    def clock_spec(self) -> str:
        """What every service and the simulators run with: the clock starts a little before the day."""
        lead_in = dt.timedelta(seconds=self.lead_in_wall_seconds * self.speed)
        return accelerated_spec(self.start - lead_in, self.speed)


@dataclass
class Progress:
    sim_now: dt.datetime
    start: dt.datetime
    end: dt.datetime
    wall_elapsed: float
    snapshot: Snapshot
    events_per_second: float
    stats: SimStats
    receiver: ReceiverStats
    pending_actions: int
    phase: str

    @property
    def fraction(self) -> float:
        total = (self.end - self.start).total_seconds()
        return min(1.0, max(0.0, (self.sim_now - self.start).total_seconds() / total)) if total > 0 else 1.0


@dataclass
class Prepared:
    directory_path: Path
    sms_url: str
    gateway_port: int


@dataclass
class Result:
    run_id: str
    plan: DayPlan
    final: Snapshot
    stats: SimStats
    receiver: ReceiverStats
    wall_seconds: float
    clock_spec: str
    #: simulated seconds the services' clock (read from credit) differed from the simulator's: a check that
    #: the anchored clock agrees across processes (a few seconds × the speed at most), never a correction
    skews: dict[str, float]


def county_weights() -> list[tuple[str, str, object]]:
    return [(c.code, c.name_zh, c.population_weight) for c in counties()]


class World:
    def __init__(self, cfg: RunConfig, target: Target) -> None:
        self.cfg = cfg
        self.target = target
        self.run_id = cfg.run_id or f"r{int(time.time()) % 10**8:08d}"
        self.plan = plan_day(seed=cfg.seed, run_id=self.run_id, day=cfg.day, size=cfg.size, counties=county_weights(),
                             categories={c.id for c in categories()})
        self.stats = SimStats()
        self.keys = Keys()
        self.secrets: dict[str, str] = {}
        self.receiver = Receiver(secrets=self.secrets, busy_share=cfg.busy_share, seed=cfg.seed)
        self.clock: SimClock | None = None
        self.backends: Backends | None = None
        self.outside: Outside | None = None

    # -- naming ----------------------------------------------------------------------------------

    def client_id(self, logical: str) -> str:
        return f"{logical}-{self.target.namespace}" if self.target.namespace else logical

    @property
    def client_ids(self) -> dict[str, str]:
        return {logical: self.client_id(logical) for logical in CLIENTS}

    @property
    def kafka_clients(self) -> list[str]:
        return [self.client_id(c) for c, (_, transport, _) in CLIENTS.items() if transport == "lead_kafka"]

    def scope(self) -> Scope:
        return Scope(self.run_id, self.target.schemas, tuple(self.kafka_clients))

    # -- before the services start -----------------------------------------------------------------

    async def prepare(self, work_dir: Path) -> Prepared:
        """Start the gateway, write notify's directory, register every client and bureau."""
        t = self.target
        certfile, keyfile = t.gateway_tls or (None, None)
        port = await self.receiver.start(tls_certfile=certfile, tls_keyfile=keyfile)
        base = f"{'https' if t.gateway_tls else 'http'}://127.0.0.1:{port}"
        document, secrets = build_directory(base, self.cfg.day, version=f"sim-{self.run_id}")
        self.secrets.update(secrets)
        path = write_directory(work_dir / "directory.yaml", document)
        self.keys.intake = await register_intake_clients(
            t.dsn, t.schemas.identity, t.bootstrap, {self.client_id(c): kind for c, (kind, _, _) in CLIENTS.items()},
            self.kafka_clients, replication_factor=t.replication_factor)
        if t.precreate_egress:
            await create_egress_topics(t.bootstrap, likely_bureaus(self.cfg.day), prefix=t.egress_prefix,
                                       replication_factor=t.replication_factor)
        bureaus = all_bureaus(self.cfg.day)
        self.keys.routing = await register_bureau_keys(t.dsn, t.schemas.identity, bureaus, label=f"sim {self.run_id}")
        self.keys.credit = await register_credit_bureaus(t.dsn, t.schemas.identity, bureaus)
        if t.appraisal:
            self.keys.appraisal = await register_appraisers(t.dsn, t.schemas.identity, [self.centre])
        if t.inspection and t.namespace:
            # inspection's leads come on ingress.inspection-<namespace> (sim.stackenv), owned by this principal;
            # without a namespace `shuangda migrate` registers ``inspection``
            await register_kafka_submitter(t.dsn, t.schemas.identity, self.client_id("inspection"))
        return Prepared(path, f"{base}/sms", port)

    @property
    def centre(self) -> str:
        """The appraisal centre's principal (kind ``appraisal``)."""
        return self.client_id("appraisal-centre")

    # -- the run -------------------------------------------------------------------------------------

    async def service_clock_skew(self, clock: SimClock, credit: object) -> dict[str, float]:
        """How far the services' clock (credit's ``as_of``) reads from the simulator's, in simulated seconds."""
        token = self.keys.credit.get(office_bureau(self.cfg.day)) or next(iter(self.keys.credit.values()))
        for _ in range(20):
            before = clock.now()
            answer = await call(credit, "POST", "/v1/entities:check", token=token, json={"codes": [PROBE_CODE]})  # type: ignore[arg-type]
            after = clock.now()
            if answer.ok and isinstance(answer.body, dict) and answer.body.get("as_of"):
                service = dt.datetime.fromisoformat(str(answer.body["as_of"]).replace("Z", "+00:00"))
                return {"credit": (service - (before + (after - before) / 2)).total_seconds()}
            await asyncio.sleep(0.5)
        log.warning("could not read the services' clock from credit")
        return {}

    async def run(self, clock_spec: str | None = None, *, on_tick: Callable[[Progress], None] | None = None,
                  tick_seconds: float = 1.0, stop: asyncio.Event | None = None) -> Result:
        cfg, t = self.cfg, self.target
        spec = clock_spec or cfg.clock_spec()
        clock = self.clock = SimClock(spec)
        stop = stop or asyncio.Event()
        started = time.monotonic()
        intake, routing, credit = (http_client(url, ca_file=t.ca_file) for url in (t.intake, t.routing, t.credit))
        extra = {name: http_client(url, ca_file=t.ca_file) for name, url in (("custody", t.custody),
                                                                            ("appraisal", t.appraisal),
                                                                            ("inspection", t.inspection)) if url}
        scheduler = Scheduler(clock)
        view = directory(at=cfg.day)
        from shared.reference import category

        self.backends = backends = Backends(
            seed=cfg.seed, run_id=self.run_id, clock=clock, scheduler=scheduler, routing=routing, credit=credit,
            keys=self.keys, population=self.plan.population, city=city().code, office=office_bureau(cfg.day),
            lead_of=lambda cat: view.resolve(category(cat).lead), stats=self.stats,
        )
        if "custody" in extra and "appraisal" in extra:
            backends.goods = SeizedGoods(seed=cfg.seed, run_id=self.run_id, clock=clock, scheduler=scheduler,
                                         custody=extra["custody"], appraisal=extra["appraisal"], keys=self.keys,
                                         centre=self.centre, office=office_bureau(cfg.day), stats=self.stats)
        if "inspection" in extra:
            Inspections(seed=cfg.seed, run_id=self.run_id, clock=clock, scheduler=scheduler, http=extra["inspection"],
                        keys=self.keys, population=self.plan.population, stats=self.stats,
                        credit=credit).plan_day(cfg.start)
        self.receiver.on_webhook = backends.on_webhook
        reporters = Reporters(seed=cfg.seed, clock=clock, scheduler=scheduler, intake=intake, client_ids=self.client_ids,
                              api_keys=self.keys.intake, stats=self.stats)
        self.receiver.on_sms = reporters.on_sms
        self.outside = outside = Outside(plan=self.plan, clock=clock, scheduler=scheduler, intake=intake,
                                         client_ids=self.client_ids, api_keys=self.keys.intake, bootstrap=t.bootstrap,
                                         stats=self.stats, client_kafka=t.client_kafka, on_filed=reporters.filed)
        observer = Observer(t.dsn, self.scope())
        last = Snapshot()
        rate = 0.0
        phase = "calibrating the clock"

        def tick(snap: Snapshot) -> None:
            nonlocal last, rate
            dt_s = snap.taken - last.taken
            if last.events_emitted and dt_s > 0:
                rate = max(0.0, (snap.events_emitted - last.events_emitted) / dt_s)
            last = snap
            if on_tick is not None:
                on_tick(Progress(clock.now(), cfg.start, cfg.end, time.monotonic() - started, snap, rate,
                                 self.stats, self.receiver.stats, scheduler.pending, phase))

        async def ticker() -> None:
            while not stop.is_set():
                try:
                    tick(await observer.snapshot())
                except Exception as exc:  # the view must never stop the run
                    log.debug("snapshot failed: %s", exc)
                try:
                    await asyncio.wait_for(stop.wait(), timeout=tick_seconds)
                except asyncio.TimeoutError:
                    pass

        tasks: list[asyncio.Task[None]] = []
        actors = asyncio.Event()  # set when the simulated world stops acting
        try:
            skews = await self.service_clock_skew(clock, credit)
            tasks = [asyncio.create_task(scheduler.run(actors)), asyncio.create_task(ticker())]
            day = asyncio.create_task(outside.run(actors))  # each client waits for its time itself
            tasks.append(day)
            if clock.now() < cfg.start:
                phase = "waiting for the day to begin"
                await clock.sleep_until(cfg.start, stop)
            phase = "the day"
            await clock.sleep_until(cfg.start + dt.timedelta(days=1), stop)
            phase = "follow-up"
            await clock.sleep_until(cfg.end, stop)
            phase = "settling"
            actors.set()
            await scheduler.drain(timeout=15)
            await self._settle(observer)
        finally:
            actors.set()
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await scheduler.drain(timeout=15)
            await outside.close()
            for c in (intake, routing, credit, *extra.values()):
                await c.aclose()
        final = await observer.snapshot()
        tick(final)
        await observer.close()
        return Result(self.run_id, self.plan, final, self.stats, self.receiver.stats, time.monotonic() - started, spec,
                      skews)

    async def _settle(self, observer: Observer, *, every: float = 2.0, stalled: float = 60.0,
                      limit: float = 900.0) -> None:
        """Let what is in flight reach the databases: every report routed, no notice waiting, and
        nothing changing between two looks (the services' clocks run on — deadlines keep coming
        due — so the report reads its figures as of the end of the period). Gives up when nothing
        has moved for `stalled` seconds (or after `limit`): on a loaded machine the services may
        still be working through the day well after it ended, and a report read then would count
        only part of the cases."""
        started = moved = time.monotonic()
        previous: tuple[int, ...] | None = None
        while time.monotonic() - moved < stalled and time.monotonic() - started < limit:
            snap = await observer.snapshot()
            waiting = snap.deliveries_by_state.get("pending", 0) + snap.deliveries_by_state.get("in_flight", 0)
            now = (snap.reports, snap.opened, snap.cases, snap.penalties, snap.referrals, waiting)
            if now == previous and snap.cases == snap.opened and waiting == 0:
                return
            if now != previous:
                moved = time.monotonic()
            previous = now
            await asyncio.sleep(every)
        log.warning("the pipeline had not caught up (nothing moved for %.0f s, or %.0f s passed) after the period "
                    "ended; the report shows what it had", stalled, limit)

    async def close(self) -> None:
        await self.receiver.stop()
