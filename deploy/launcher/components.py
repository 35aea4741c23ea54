"""The stack's components and the operations over several of them.

Singletons (each a :class:`deploy.launcher.base.Component`)::

    from deploy.launcher import components
    components.KAFKA        # KafkaBroker   (deploy.launcher.kafka)
    components.POSTGRES     # Postgres      (deploy.launcher.postgres)
    components.PROMETHEUS   # Prometheus    (deploy.launcher.prometheus)
    components.INTAKE, components.ROUTING, … components.APPRAISAL, components.INSPECTION, components.CONSOLE   # Service
    components.INTAKE_WORKER  # intake's worker process (``intake-worker``; INTAKE is its API process)

Chaos tests use the per-component API directly, e.g.::

    components.POSTGRES.stop(); time.sleep(10); components.POSTGRES.start()
    components.KAFKA.kill(); components.KAFKA.start()      # SIGKILL, then restart
    await components.KAFKA.arestart()                      # from async code

Stack operations (what the CLI's ``up``/``down``/``status`` call):

``get(name) -> Component``
    By name (``kafka``, ``postgres``/``pg``, ``prometheus``, ``intake`` …).
``select(only=None, infra_only=False) -> list[Component]``
    Naming a split service's API component (``intake``, ``intake-1``) selects its worker too.
``up(only=None, infra_only=False, timeout=None, report=None, replicas=None) -> list[UpResult]``
    Start what is selected (default: the infrastructure plus every service that
    exists, :func:`replicas` instances each), in dependency order, leaving running
    components alone. Kafka's JVM is launched first so its start-up overlaps Postgres
    and Prometheus. The launcher lock is held per launch only; readiness is awaited
    without it, so nothing waits behind another component's readiness. ``report`` is
    called with each :class:`UpResult` as it completes. Raises
    :class:`~deploy.launcher.errors.LauncherError` naming every failure.
``down(only=None) -> list[tuple[str, bool]]``
    Stop what is selected (services first, Postgres last); only processes of the
    launcher's own pid files. ``(name, stopped)`` pairs.
``status(leaders=False) -> list[Status]``
    supervisord, every component and every service instance; with ``leaders`` the
    singleton jobs each leads (:func:`leadership`).
``ensure_infra() -> Endpoints``
    ``up(infra_only=True)`` and return :func:`deploy.launcher.settings.endpoints`
    (what an integration-test fixture wants).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Callable, Iterable

from deploy.launcher import proc, settings
from deploy.launcher.base import ABSENT, EXTERNAL, RUNNING, Component, Launch, Status
from deploy.launcher.errors import LauncherError
from deploy.launcher.kafka import KafkaBroker
from deploy.launcher.postgres import Postgres
from deploy.launcher.prometheus import Prometheus
from deploy.launcher.proc import stack_lock
from deploy.launcher.secure import NODES, KafkaNode
from deploy.launcher.services import Service
from deploy.launcher.supervisor import SUPERVISOR

log = logging.getLogger(__name__)

KAFKA = KafkaBroker()
POSTGRES = Postgres()
PROMETHEUS = Prometheus()
#: intake's API process (role api: HTTP and relay) and its worker process (role worker: the consumers,
#: ops routes only, port 8009 + 10·i); the only service the launcher runs split (services.SPLIT)
INTAKE = Service("intake", role="api")
INTAKE_WORKER = Service("intake", role="worker")
ROUTING = Service("routing")
NOTIFY = Service("notify")
CREDIT = Service("credit")
#: seized goods in custody (port 8006)
CUSTODY = Service("custody")
#: rapid appraisal of seized goods (port 8007)
APPRAISAL = Service("appraisal")
#: 双随机、一公开 random inspections (port 8008)
INSPECTION = Service("inspection")
#: the web console (port 8005): pages for people over the other services' APIs
CONSOLE = Service("console")

#: status/down order is the reverse of dependency: Postgres, Kafka, Prometheus, then services
INFRA: tuple[Component, ...] = (POSTGRES, KAFKA, PROMETHEUS)
SERVICES: tuple[Service, ...] = (INTAKE, INTAKE_WORKER, ROUTING, NOTIFY, CREDIT, CUSTODY, APPRAISAL, INSPECTION, CONSOLE)

#: the secure profile's brokers (deploy.launcher.secure), in place of KAFKA
KAFKA_NODES: tuple[KafkaNode, ...] = tuple(KafkaNode(i) for i in range(1, NODES + 1))

ALIASES = {"pg": "postgres", "postgresql": "postgres", "supervisord": "supervisor"}


def kafka_components() -> tuple[Component, ...]:
    """The broker(s) of this state dir's profile: KAFKA (dev) or the three KAFKA_NODES (secure)."""
    from deploy.launcher import profile

    return KAFKA_NODES if profile.is_secure() else (KAFKA,)


def infra() -> tuple[Component, ...]:
    """Postgres, the broker(s) of the profile, Prometheus (status/down order)."""
    return (POSTGRES, *kafka_components(), PROMETHEUS)


def all_components() -> tuple[Component, ...]:
    return infra() + SERVICES

#: the most instances of a service ``up --replicas`` runs (ports base + 10·i stay below the next service's range)
MAX_REPLICAS = 9


@dataclass(frozen=True)
class UpResult:
    """One component's outcome of :func:`up`."""

    status: Status
    #: True when this call started it, False when it was running already (or external/absent)
    started: bool
    seconds: float


def names() -> list[str]:
    return [c.name for c in all_components()]


def get(name: str) -> Component:
    """The component called ``name`` (aliases: ``pg``, ``postgresql``; ``kafka-1`` … on the secure profile)."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    for comp in all_components():
        if comp.name == key:
            return comp
    if key == SUPERVISOR.name:
        return SUPERVISOR
    base, _, number = key.rpartition("-")
    if number.isdigit() and 1 <= int(number) <= MAX_REPLICAS:
        for svc in SERVICES:
            if svc.name == base:
                return svc.replica(int(number))
    raise LauncherError(f"unknown component {name!r}; known: {', '.join(names())}")


def select(only: Iterable[str] | None = None, infra_only: bool = False) -> list[Component]:
    """The components named by ``only`` (all when None), minus services when ``infra_only``."""
    every = all_components()
    if only is None:
        chosen = list(every)
    else:  # "kafka" is every broker of the profile (kafka-1..3 on the secure one)
        chosen = [c for n in only for c in (kafka_components() if n.strip().lower() == "kafka" else (get(n),))]
        # intake is its api and worker processes: naming one instance of it names both
        chosen += [w for c in list(chosen) if isinstance(c, Service) and c.role == "api"
                   for w in _worker_of(c)]
    if infra_only:
        chosen = [c for c in chosen if c in infra()]
    names_ = {c.name for c in chosen}
    extra = sorted({c.name: c for c in chosen if c not in every}.values(), key=lambda c: c.name)
    return [c for c in every if c.name in names_] + extra  # canonical order, no duplicates


def _worker_of(api: Service) -> list[Service]:
    """The worker component paired with a split service's API instance (``intake-1`` -> ``intake-worker-1``)."""
    return [w.replica(api.instance) if api.instance else w
            for w in SERVICES if w.service == api.service and w.role == "worker"]


def _lock():  # noqa: ANN202
    return stack_lock(settings.run_dir() / "launcher.lock")


# -- replicas ------------------------------------------------------------------------

def replicas() -> int:
    """How many instances of each service ``up`` runs (``<state>/run/replicas``; default 1)."""
    return settings.replicas()


def set_replicas(n: int) -> None:
    if not 1 <= n <= MAX_REPLICAS:
        raise LauncherError(f"--replicas {n}: between 1 and {MAX_REPLICAS}")
    settings.set_replicas(n)


def instances(svc: Service, n: int | None = None) -> list[Service]:
    """Instances 0..n-1 of ``svc`` (n: :func:`replicas`)."""
    count = replicas() if n is None else n
    return [svc if i == 0 else svc.replica(i) for i in range(count)]


def _known_extra_instances(svc: Service) -> list[Service]:
    """Instances >= 1 of ``svc`` that supervisord knows (running or not)."""
    from deploy.launcher import supervisor as sv

    found: list[Service] = []
    prefix = f"{svc.name}-"
    for info in sv.all_process_info():
        rest = str(info.get("name", ""))[len(prefix):] if str(info.get("name", "")).startswith(prefix) else ""
        if rest.isdigit() and int(rest) >= 1:
            found.append(svc.replica(int(rest)))
    return sorted(found, key=lambda s: s.instance)


def _scale_down(services: Iterable[Service], n: int) -> list[str]:
    """Stop and forget instances >= n; their names."""
    from deploy.launcher import supervisor as sv

    removed = []
    for svc in services:
        for extra in _known_extra_instances(svc):
            if extra.instance >= n:
                log.info("%s: scaling down to %d instance(s): stopping %s", svc.name, n, extra.name)
                sv.uninstall(extra.name)
                removed.append(extra.name)
    return removed


def _launch_all(comps: list[Component], errors: list[str], done: Callable[[UpResult], None]
                ) -> list[tuple[Component, Launch, float]]:
    pending: list[tuple[Component, Launch, float]] = []
    for comp in comps:
        t0 = time.monotonic()
        ext = comp.external()
        if ext is not None:
            done(UpResult(Status(comp.name, ext, EXTERNAL), False, 0.0))
            continue
        try:
            with _lock():  # only the launch: readiness is awaited without the lock
                pending.append((comp, comp.launch(), t0))
        except LauncherError as exc:
            errors.append(f"{comp.name}: {exc}")
    return pending


def _await_all(pending: list[tuple[Component, Launch, float]], timeout: float | None, errors: list[str],
               done: Callable[[UpResult], None]) -> None:
    for comp, launched, t0 in pending:
        try:
            comp.wait_ready(launched, timeout)
        except LauncherError as exc:
            errors.append(f"{comp.name}: {exc}")
            continue
        done(UpResult(Status(comp.name, comp.address(), RUNNING, comp.pid()), launched.started,
                      time.monotonic() - t0))


def up(
    only: Iterable[str] | None = None,
    infra_only: bool = False,
    timeout: float | None = None,
    report: Callable[[UpResult], None] | None = None,
    replicas: int | None = None,
) -> list[UpResult]:
    """Start the selected components; see the module docstring. ``replicas``: run that many
    instances of each selected service from now on (extra ones are stopped); None keeps
    the count of the last ``up --replicas`` (default 1)."""
    explicit = only is not None
    chosen = select(only, infra_only)
    results: list[UpResult] = []
    errors: list[str] = []

    def done(result: UpResult) -> None:
        results.append(result)
        if report is not None:
            report(result)

    order = infra()
    chosen_infra = [c for c in chosen if c in order]
    services = [c for c in chosen if c in SERVICES]
    if replicas is not None and services:
        with _lock():
            set_replicas(replicas)
            _scale_down(services, replicas)
    brokers = kafka_components()
    launch_order = sorted(chosen_infra, key=lambda c: 0 if c in brokers else 1)
    pending = _launch_all(launch_order, errors, done)
    _await_all(sorted(pending, key=lambda p: order.index(p[0])), timeout, errors, done)
    if errors:
        raise LauncherError("\n".join(errors))
    _secure_setup(chosen_infra)

    present: list[Component] = [c for c in chosen if isinstance(c, Service) and c not in SERVICES]
    for svc in services:
        if not svc.exists():
            if explicit:
                errors.append(f"{svc.name}: cannot be started: {svc.absent_reason()}")
            else:
                done(UpResult(Status(svc.name, svc.address(), ABSENT, detail=svc.absent_reason()), False, 0.0))
            continue
        present.extend(instances(svc))
    _await_all(_launch_all(present, errors, done), timeout, errors, done)
    if errors:
        raise LauncherError("\n".join(errors))
    return results


def _secure_setup(started: list[Component]) -> None:
    """Secure profile, once the infrastructure is up: the service roles in Postgres (compose's
    init-roles.sh) and the SCRAM users and ACLs on the brokers (compose's acls.sh). Both idempotent;
    the ACL job (~30 JVM calls) runs only when it has not completed in this state dir with the
    principals and acls.sh of now (secure.acls_fingerprint)."""
    from deploy.launcher import profile, secure

    if not profile.is_secure():
        return
    if POSTGRES in started and POSTGRES.external() is None:
        POSTGRES.ensure_service_roles()
    if any(c in KAFKA_NODES for c in started) and settings.external_kafka() is None \
            and not secure.acls_current():
        log.info("kafka: creating the SCRAM users and ACLs with deploy/compose/kafka/acls.sh")
        secure.apply_acls()


def _with_instances(chosen: list[Component]) -> list[Component]:
    out: list[Component] = []
    for comp in chosen:
        out.append(comp)
        if isinstance(comp, Service) and comp.instance == 0:
            out.extend(_known_extra_instances(comp))
    return out


def down(only: Iterable[str] | None = None) -> list[tuple[str, bool]]:
    """Stop the selected components (services first, every instance), then, when all
    were selected, supervisord; see the module docstring."""
    chosen = [c for c in reversed(_with_instances(select(only))) if c.external() is None]
    stopped: list[tuple[str, bool]] = []
    # every service instance at once, then every broker at once (each waits out its own shutdown), then the rest
    services = [c for c in chosen if isinstance(c, Service)]
    brokers = [c for c in chosen if c in KAFKA_NODES]
    rest = [c for c in chosen if c not in services and c not in brokers]
    for group in (services, brokers):
        if group:
            stopped.extend(_stop_together(group))
    for comp in rest:
        stopped.append((comp.name, comp.stop()))
    if only is None:
        stopped.append((SUPERVISOR.name, SUPERVISOR.stop()))
    return stopped


def _stop_together(comps: list[Component]) -> list[tuple[str, bool]]:
    """Ask supervisord to stop every one of ``comps`` without waiting, then wait for all of them."""
    from deploy.launcher import supervisor as sv

    asked: list[Component] = []
    with _lock():
        for comp in comps:
            info = comp.supervisor_info()
            if info is not None and info["statename"] in ("STARTING", "RUNNING", "BACKOFF"):
                try:
                    sv.rpc(30.0).supervisor.stopProcess(comp.name, False)
                    asked.append(comp)
                except Exception as exc:  # NOT_RUNNING: it died meanwhile
                    log.debug("%s: supervisord stop: %s", comp.name, exc)
    deadline = time.monotonic() + max(c.stop_timeout for c in comps) + 30.0
    alive = ("STARTING", "RUNNING", "STOPPING", "BACKOFF")
    while asked and time.monotonic() < deadline:
        if all((c.supervisor_info() or {}).get("statename") not in alive for c in asked):
            break
        time.sleep(0.3)
    return [(c.name, c.stop() or c in asked) for c in comps]


def status(leaders: bool = False) -> list[Status]:
    """One :class:`Status` per component and service instance (supervisord first when it
    runs). ``leaders``: fill in ``Status.leads`` from Postgres (:func:`leadership`)."""
    rows = [SUPERVISOR.status()] if SUPERVISOR.is_running() else []
    rows += [c.status() for c in _with_instances(list(all_components()))]
    cluster = cluster_status()
    if cluster is not None:
        at = next((i for i, r in enumerate(rows) if r.component.startswith("kafka-")), len(rows))
        rows.insert(at, cluster)
    if not leaders:
        return rows
    held = leadership()
    return [replace(r, leads=tuple(sorted(held.get(r.component, ())))) for r in rows]


HEALTHY = "healthy"
DEGRADED = "degraded"
DOWN = "down"


def cluster_status(timeout: float = 8.0) -> Status | None:
    """Secure profile: one ``kafka`` row for the cluster: ``healthy`` (every broker in the
    metadata, no under-replicated or offline partition), ``degraded`` (a broker missing or
    partitions under-replicated) or ``down`` (no broker answers). None on the dev profile."""
    from deploy.launcher import profile, secure

    if not profile.is_secure() or settings.external_kafka():
        return None
    config = secure.cluster()
    address = config.bootstrap("CLIENT") if "CLIENT" in config.listener_names else config.bootstrap(
        config.inter_broker_listener)
    try:
        health = proc.run_coro(lambda: config.health(timeout), timeout * 4)
    except Exception as exc:  # no broker answers, or one request timed out
        log.debug("cluster health failed: %s", exc)
        if proc.run_coro(lambda: config.broker_count(timeout=timeout), timeout + 2.0) == 0:
            return Status("kafka", address, DOWN, detail="no broker answers")
        return Status("kafka", address, DEGRADED, detail=f"metadata incomplete: {type(exc).__name__}")
    return Status("kafka", address, HEALTHY if health.healthy else DEGRADED, detail=health.describe())


def leadership(timeout: float = 3.0) -> dict[str, list[str]]:
    """Component name (``routing``, ``routing-1`` …) -> the singleton jobs it leads now, read
    from Postgres: sessions holding an advisory lock whose ``application_name`` is
    ``<service>/<instance>/<job>`` (shared.runtime.leader). Empty when Postgres is unreachable."""
    from deploy.launcher.services import instance_name

    try:
        rows = proc.run_coro(lambda: _leaders(settings.endpoints().pg_dsn, timeout), timeout + 2.0)
    except Exception as exc:  # Postgres down: status still works
        log.debug("leadership query failed: %s", exc)
        return {}
    held: dict[str, list[str]] = {}
    for app in rows:
        parts = app.split("/")
        if len(parts) != 3:
            continue
        service, instance, job = parts
        name = instance_name(service, int(instance)) if instance.isdigit() else f"{service}-{instance}"
        held.setdefault(name, []).append(job)
    return held


LEADERS_SQL = """
SELECT DISTINCT a.application_name
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE '%/%/%'
"""


async def _leaders(dsn: str, timeout: float) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=timeout)
    try:
        return [r["application_name"] for r in await conn.fetch(LEADERS_SQL, timeout=timeout)]
    finally:
        await conn.close()


def ensure_infra(timeout: float | None = None) -> settings.Endpoints:
    """Bring up Kafka, Postgres and Prometheus (idempotent) and return the endpoints."""
    up(infra_only=True, timeout=timeout)
    return settings.endpoints()
