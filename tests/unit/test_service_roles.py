"""Process roles (shared.runtime.service): one service as an API process and a worker process, so an
HTTP request never waits for the CPU a consumer batch holds in the same event loop (issue 11 §5)."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from shared.runtime.service import Parts, service_role


class Job:
    def __init__(self, name: str) -> None:
        self.name = name

    async def run(self, stop: asyncio.Event) -> None:
        await stop.wait()


async def ready() -> bool:
    return True


async def not_ready() -> bool:
    return False


def parts(worker_ready=not_ready) -> tuple[Parts, Job, Job, Job]:
    consumer, relay, pruning = Job("consumer"), Job("relay"), Job("pruning")
    app = FastAPI(title="the service's API")
    return Parts(app, [consumer.run, relay.run], api_loops=[relay.run, pruning.run],
                 worker_readiness=[worker_ready]), consumer, relay, pruning


def test_role_all_runs_every_loop_once_and_keeps_the_api() -> None:
    whole, consumer, relay, pruning = parts()
    running = whole.for_role("svc", "all")
    assert running.app is whole.app
    assert running.loops == [consumer.run, relay.run, pruning.run]


def test_the_api_role_serves_the_api_and_runs_only_the_api_loops() -> None:
    whole, consumer, relay, pruning = parts()
    running = whole.for_role("svc", "api")
    assert running.app is whole.app
    assert running.loops == [relay.run, pruning.run]
    assert consumer.run not in running.loops


async def test_the_worker_role_runs_the_consumer_behind_ops_routes_whose_readiness_is_the_workers() -> None:
    whole, consumer, relay, pruning = parts(worker_ready=not_ready)
    running = whole.for_role("svc", "worker")
    assert running.app is not whole.app
    assert running.loops == [consumer.run, relay.run]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=running.app), base_url="http://worker") as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 503
        assert (await http.get("/metrics")).status_code == 200
        assert (await http.post("/v1/complaints", json={})).status_code in (404, 405)
    ready_worker = parts(worker_ready=ready)[0].for_role("svc", "worker")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=ready_worker.app), base_url="http://worker") as http:
        assert (await http.get("/readyz")).status_code == 200


def test_the_role_comes_from_the_settings_and_defaults_to_all() -> None:
    assert service_role(SimpleNamespace()) == "all"
    assert service_role(SimpleNamespace(role="worker")) == "worker"
    with pytest.raises(ValueError, match="role"):
        service_role(SimpleNamespace(role="both"))
    with pytest.raises(ValueError, match="role"):
        parts()[0].for_role("svc", "both")


def test_intake_takes_its_role_from_its_own_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.intake.settings import IntakeSettings

    monkeypatch.setenv("SHUANGDA_DEV", "true")
    monkeypatch.setenv("SHUANGDA_INTAKE_ROLE", "api")
    assert service_role(IntakeSettings()) == "api"
    monkeypatch.setenv("SHUANGDA_INTAKE_ROLE", "both")
    with pytest.raises(ValueError):
        IntakeSettings()


def test_a_service_whose_wiring_declares_no_split_refuses_the_api_and_worker_roles() -> None:
    app = FastAPI()
    whole = Parts(app, [])
    assert whole.for_role("routing", "all").app is app
    for role in ("api", "worker"):
        with pytest.raises(ValueError, match="routing runs as one process"):
            whole.for_role("routing", role)


def test_every_service_reads_its_role_from_its_own_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.routing.settings import RoutingSettings

    monkeypatch.setenv("SHUANGDA_ROUTING_ROLE", "worker")
    assert RoutingSettings(dev=True).role == "worker"
    monkeypatch.setenv("SHUANGDA_ROUTING_ROLE", "both")
    with pytest.raises(ValueError, match="role"):
        RoutingSettings(dev=True)
