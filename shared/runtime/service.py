"""Running one service process: the HTTP app, consumers, relay and any other
loops side by side until SIGTERM/SIGINT, then a clean stop.

Every service has the same composition root::

    # services/<name>/__main__.py
    from services.<name> import wiring
    from services.<name>.settings import <Name>Settings
    from shared.runtime.service import main

    if __name__ == "__main__":
        main(wiring.SERVICE, <Name>Settings, wiring.build)

`main` reads the settings, configures JSON logging, opens the pool on the
service's schema, calls ``wiring.build(settings, pool)`` (which returns `Parts`),
and runs them with `run_service` until SIGTERM. Migrations and topics are never
applied here: that is ``shuangda migrate``'s job (each service's `wiring.prepare`).
Nothing here connects at import time.

Roles (``SHUANGDA_<SERVICE>_ROLE``, `shared.config.ServiceSettings.role`, see `service_role`): one service may run as
two kinds of process, so a request never waits for the CPU a consumer batch
holds in the same event loop (issue 11 §5):

- ``all`` (the default): the HTTP app and every loop in one process;
- ``api``: the HTTP app and `Parts.api_loops` only (its readiness must not
  depend on a consumer: the wiring leaves the worker's checks out of the app);
- ``worker``: `Parts.loops` behind an ops-only app (``/healthz``, ``/readyz``
  from `Parts.worker_readiness`, ``/metrics``) on the process's own port.

A service whose `Parts` declare no `worker_readiness` has no split: ``api`` or ``worker`` is refused
at start (today intake is split; the others run as ``all``).

A loop listed in both `loops` and `api_loops` (an outbox relay: leader by
advisory lock, so the other one stands by) runs in either process, once.
"""
from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import signal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Sequence

from fastapi import FastAPI

from shared.http import serve

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import asyncpg

    from shared.config import ServiceSettings

Loop = Callable[[asyncio.Event], Awaitable[None]]
ReadinessCheck = Callable[[], Awaitable[bool]]

#: what one process of a service runs (module docstring)
ROLES = ("all", "api", "worker")


def service_role(settings: Any) -> str:
    """The process's role: the settings' ``role`` field (``SHUANGDA_<SERVICE>_ROLE``), ``all`` when the
    service's settings have none."""
    role = str(getattr(settings, "role", "all") or "all")
    if role not in ROLES:
        raise ValueError(f"role: one of {', '.join(ROLES)}, not {role!r}")
    return role


@dataclass
class Parts:
    """What a service's `wiring.build` returns: its HTTP app, the loops that run beside it
    (consumer, relay, watchers …), what to close on the way out, and the named pieces tests
    and benchmarks reach for (``parts.components["consumer"]``)."""

    app: FastAPI | None
    #: the worker's loops (consumers, relay, jobs); role ``all`` runs them beside `api_loops`
    loops: list[Loop]
    closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    components: dict[str, Any] = field(default_factory=dict)
    #: loops the API process runs (role ``api``; role ``all`` too), e.g. Idempotency-Key pruning
    api_loops: list[Loop] = field(default_factory=list)
    #: the worker's own readiness (its consumers polling …): a role ``worker`` process's ``/readyz``
    worker_readiness: list[ReadinessCheck] = field(default_factory=list)

    def for_role(self, service: str, role: str) -> "Parts":
        """What a process of `role` runs: the app and loops of that role (module docstring)."""
        if role not in ROLES:
            raise ValueError(f"role: one of {', '.join(ROLES)}, not {role!r}")
        if role != "all" and not self.worker_readiness:
            # its app's readiness would wait for consumers that run in the other process, and its relay
            # would run in only one of the two: the wiring has to say what each half is
            raise ValueError(f"role: {service} runs as one process (role all); its wiring declares no api/worker split")
        if role == "api":
            return Parts(self.app, list(self.api_loops), self.closers, self.components, [], [])
        if role == "worker":
            from shared.http import create_app

            ops = create_app(service, title=f"{service} worker", readiness=self.worker_readiness,
                             description=f"{service}'s worker process: consumers and jobs; ops routes only")
            return Parts(ops, list(self.loops), self.closers, self.components, [], self.worker_readiness)
        loops: list[Loop] = []
        for loop in [*self.loops, *self.api_loops]:  # a loop in both lists runs once
            if not any(loop is seen or loop == seen for seen in loops):
                loops.append(loop)
        return Parts(self.app, loops, self.closers, self.components, [], self.worker_readiness)

    def __getattr__(self, name: str) -> Any:  # parts.consumer, parts.relay …
        try:
            return self.__dict__["components"][name]
        except KeyError:
            raise AttributeError(name) from None


Build = Callable[..., "Parts | Awaitable[Parts]"]


#: allocations of container objects between two young-generation collections (CPython's default: 700)
GC_YOUNG_THRESHOLD = 50_000


def settle_heap() -> None:
    """Once the parts are built: collect, then freeze what is left (modules, reference tables, the
    wiring — alive for the whole process) so the cyclic collector never walks it again, and collect
    the young generation every `GC_YOUNG_THRESHOLD` allocations instead of every 700. Under load a
    consumer batch allocates hundreds of thousands of short-lived objects (records, envelopes,
    pydantic models); with the defaults one routing bench ran 1,683 young, 153 middle and 14 full
    collections, 4.1 s of CPU (docs/scaling.md "Profiles"); with this, 6 young ones, 0.26 s."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


async def build_parts(build: Build, settings: "ServiceSettings", pool: "asyncpg.Pool", **kwargs: Any) -> Parts:
    """Call a wiring's `build`, whether it is a plain or an async function."""
    parts = build(settings, pool, **kwargs)
    if inspect.isawaitable(parts):
        parts = await parts
    return parts  # type: ignore[return-value]


async def serve_service(service: str, settings: "ServiceSettings", build: Build) -> None:
    """The body of every service's `main`: logging, pool, parts, run, close."""
    from shared.config import settings_summary
    from shared.db import create_pool
    from shared.logging import configure_logging

    configure_logging(service, settings.log_level)
    log.info("starting", extra={"settings": settings_summary(settings)})
    pool = await create_pool(settings.dsn, settings.schema, max_size=settings.pool_max_size)
    parts: Parts | None = None
    try:
        parts = await build_parts(build, settings, pool)
        settle_heap()
        role = service_role(settings)
        running = parts.for_role(service, role)
        if role != "all":
            log.info("%s runs as its %s process", service, role)
        await run_service(
            service if role == "all" else f"{service}-{role}",
            app=running.app,
            host=settings.http_host,
            port=settings.http_port,
            loops=running.loops,
            tls=(settings.http_tls_certfile, settings.http_tls_keyfile) if settings.http_tls_certfile else None,
        )
    finally:
        for close in reversed(parts.closers if parts is not None else []):
            try:
                await close()
            except Exception:  # closing is best effort; the process is ending
                log.warning("%s: closing %s failed", service, getattr(close, "__qualname__", close), exc_info=True)
        await pool.close()


def main(service: str, settings_cls: "type[ServiceSettings]", build: Build) -> None:
    """Run one service process (see the module docstring)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is in the lock; plain asyncio still works
        asyncio.run(serve_service(service, settings_cls(), build))
    else:
        uvloop.run(serve_service(service, settings_cls(), build))


async def run_service(
    name: str,
    *,
    app: FastAPI | None,
    host: str,
    port: int,
    loops: Sequence[Loop],
    stop: asyncio.Event | None = None,
    shutdown_grace: float = 10.0,
    tls: tuple[str, str] | None = None,
) -> None:
    """Run until a signal (or `stop`) arrives. A loop that dies stops the process
    (non-zero exit through the raised error), so a supervisor restarts it
    instead of leaving a half-working service."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    tasks = [asyncio.create_task(fn(stop), name=getattr(fn, "__qualname__", "loop")) for fn in loops]
    if app is not None:
        certfile, keyfile = tls if tls else (None, None)
        tasks.append(
            asyncio.create_task(serve(app, host, port, stop, tls_certfile=certfile, tls_keyfile=keyfile), name="http")
        )
    log.info("%s started", name, extra={"port": port})
    failed: BaseException | None = None
    pending = set(tasks)
    while pending and not stop.is_set():
        done, pending = await asyncio.wait(pending | {asyncio.ensure_future(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
        pending = {t for t in pending if t in tasks}
        for task in done:
            if task in tasks and task.exception() is not None:
                failed = task.exception()
                log.error("%s: %s failed", name, task.get_name(), exc_info=failed)
                stop.set()
    stop.set()
    _, still_running = await asyncio.wait(tasks, timeout=shutdown_grace)
    for task in still_running:  # e.g. a client stuck talking to a broker that is down
        log.warning("%s: %s did not stop within %.0fs; cancelling", name, task.get_name(), shutdown_grace)
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    log.info("%s stopped", name)
    if failed is not None:
        raise SystemExit(1)
