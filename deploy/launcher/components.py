"""The stack's components and the operations over several of them.

Singletons (each a :class:`deploy.launcher.base.Component`)::

    from deploy.launcher import components
    components.KAFKA        # KafkaBroker   (deploy.launcher.kafka)
    components.POSTGRES     # Postgres      (deploy.launcher.postgres)
    components.PROMETHEUS   # Prometheus    (deploy.launcher.prometheus)
    components.INTAKE, components.ROUTING, components.NOTIFY, components.CREDIT   # Service

Chaos tests use the per-component API directly, e.g.::

    components.POSTGRES.stop(); time.sleep(10); components.POSTGRES.start()
    components.KAFKA.kill(); components.KAFKA.start()      # SIGKILL, then restart
    await components.KAFKA.arestart()                      # from async code

Stack operations (what the CLI's ``up``/``down``/``status`` call):

``get(name) -> Component``
    By name (``kafka``, ``postgres``/``pg``, ``prometheus``, ``intake`` …).
``select(only=None, infra_only=False) -> list[Component]``
``up(only=None, infra_only=False, timeout=None, report=None) -> list[UpResult]``
    Start what is selected (default: the infrastructure plus every service that
    exists), in dependency order, leaving running components alone. Kafka's JVM is
    launched first so its start-up overlaps Postgres and Prometheus. ``report`` is
    called with each :class:`UpResult` as it completes. Raises
    :class:`~deploy.launcher.errors.LauncherError` naming every failure.
``down(only=None) -> list[tuple[str, bool]]``
    Stop what is selected (services first, Postgres last); only processes of the
    launcher's own pid files. ``(name, stopped)`` pairs.
``status() -> list[Status]``
``ensure_infra() -> Endpoints``
    ``up(infra_only=True)`` and return :func:`deploy.launcher.settings.endpoints`
    (what an integration-test fixture wants).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from deploy.launcher import settings
from deploy.launcher.base import ABSENT, EXTERNAL, RUNNING, Component, Launch, Status
from deploy.launcher.errors import LauncherError
from deploy.launcher.kafka import KafkaBroker
from deploy.launcher.postgres import Postgres
from deploy.launcher.prometheus import Prometheus
from deploy.launcher.proc import stack_lock
from deploy.launcher.services import Service

log = logging.getLogger(__name__)

KAFKA = KafkaBroker()
POSTGRES = Postgres()
PROMETHEUS = Prometheus()
INTAKE = Service("intake")
ROUTING = Service("routing")
NOTIFY = Service("notify")
CREDIT = Service("credit")

#: status/down order is the reverse of dependency: Postgres, Kafka, Prometheus, then services
INFRA: tuple[Component, ...] = (POSTGRES, KAFKA, PROMETHEUS)
SERVICES: tuple[Service, ...] = (INTAKE, ROUTING, NOTIFY, CREDIT)
ALL: tuple[Component, ...] = INFRA + SERVICES

ALIASES = {"pg": "postgres", "postgresql": "postgres"}


@dataclass(frozen=True)
class UpResult:
    """One component's outcome of :func:`up`."""

    status: Status
    #: True when this call started it, False when it was running already (or external/absent)
    started: bool
    seconds: float


def names() -> list[str]:
    return [c.name for c in ALL]


def get(name: str) -> Component:
    """The component called ``name`` (aliases: ``pg``, ``postgresql``)."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    for comp in ALL:
        if comp.name == key:
            return comp
    raise LauncherError(f"unknown component {name!r}; known: {', '.join(names())}")


def select(only: Iterable[str] | None = None, infra_only: bool = False) -> list[Component]:
    """The components named by ``only`` (all when None), minus services when ``infra_only``."""
    chosen = list(ALL) if only is None else [get(n) for n in only]
    if infra_only:
        chosen = [c for c in chosen if c in INFRA]
    return [c for c in ALL if c in chosen]  # canonical order, no duplicates


def _lock():  # noqa: ANN202
    return stack_lock(settings.run_dir() / "launcher.lock")


def up(
    only: Iterable[str] | None = None,
    infra_only: bool = False,
    timeout: float | None = None,
    report: Callable[[UpResult], None] | None = None,
) -> list[UpResult]:
    """Start the selected components; see the module docstring."""
    explicit = only is not None
    chosen = select(only, infra_only)
    results: list[UpResult] = []
    errors: list[str] = []

    def done(result: UpResult) -> None:
        results.append(result)
        if report is not None:
            report(result)

    with _lock():
        infra = [c for c in chosen if c in INFRA]
        services = [c for c in chosen if c in SERVICES]
        launch_order = sorted(infra, key=lambda c: 0 if c is KAFKA else 1)
        pending: list[tuple[Component, Launch, float]] = []
        for comp in launch_order:
            t0 = time.monotonic()
            ext = comp.external()
            if ext is not None:
                done(UpResult(Status(comp.name, ext, EXTERNAL), False, 0.0))
                continue
            try:
                pending.append((comp, comp.launch(), t0))
            except LauncherError as exc:
                errors.append(f"{comp.name}: {exc}")
        for comp, launched, t0 in sorted(pending, key=lambda p: INFRA.index(p[0])):
            try:
                comp.wait_ready(launched, timeout)
            except LauncherError as exc:
                errors.append(f"{comp.name}: {exc}")
                continue
            done(UpResult(Status(comp.name, comp.address(), RUNNING, comp.pid()), launched.started,
                          time.monotonic() - t0))
        if errors:
            raise LauncherError("\n".join(errors))

        pending = []
        for svc in services:
            if not svc.exists():
                if explicit:
                    errors.append(f"{svc.name}: cannot be started: {svc.absent_reason()}")
                else:
                    done(UpResult(Status(svc.name, svc.address(), ABSENT, detail=svc.absent_reason()), False, 0.0))
                continue
            t0 = time.monotonic()
            try:
                pending.append((svc, svc.launch(), t0))
            except LauncherError as exc:
                errors.append(f"{svc.name}: {exc}")
        for svc, launched, t0 in pending:
            try:
                svc.wait_ready(launched, timeout)
            except LauncherError as exc:
                errors.append(f"{svc.name}: {exc}")
                continue
            done(UpResult(Status(svc.name, svc.address(), RUNNING, svc.pid()), launched.started,
                          time.monotonic() - t0))
        if errors:
            raise LauncherError("\n".join(errors))
    return results


def down(only: Iterable[str] | None = None) -> list[tuple[str, bool]]:
    """Stop the selected components (services first); see the module docstring."""
    chosen = select(only)
    stopped: list[tuple[str, bool]] = []
    with _lock():
        for comp in reversed(chosen):
            if comp.external() is not None:
                continue
            stopped.append((comp.name, comp.stop()))
    return stopped


def status() -> list[Status]:
    """One :class:`Status` per component."""
    return [c.status() for c in ALL]


def ensure_infra(timeout: float | None = None) -> settings.Endpoints:
    """Bring up Kafka, Postgres and Prometheus (idempotent) and return the endpoints."""
    up(infra_only=True, timeout=timeout)
    return settings.endpoints()
