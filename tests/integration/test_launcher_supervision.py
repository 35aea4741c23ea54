"""Issue 10 §3 and §6: the launcher's processes run under supervisord, which restarts
what dies on its own; services run as several instances; a singleton job fails over to
another instance when its leader dies.

Everything the launcher starts here lives in a temporary state dir on free ports (its
own supervisord, its own broker): the shared stack is never stopped or killed. The
fail-over test runs two echo-service instances against the shared Kafka and Postgres in a
schema and topics of its own, like every other integration test.
"""
from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import textwrap
import time
from pathlib import Path

import pytest

from deploy.launcher import components, proc, settings
from deploy.launcher.kafka import KafkaBroker, metadata_ok
from deploy.launcher.services import Service
from deploy.launcher.supervisor import SUPERVISOR
from tests.support import stack

DEADLINE = 30.0  # issue 10 §6: a killed broker or service is serving again within 30 s

FAKE_SERVICE = textwrap.dedent('''
    import os
    from http.server import BaseHTTPRequestHandler, HTTPServer

    port = int(os.environ["SHUANGDA_FAKE_HTTP_PORT"])
    instance = os.environ["SHUANGDA_INSTANCE"].encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path in ("/readyz", "/healthz") else 404)
            self.end_headers()
            self.wfile.write(instance)

        def log_message(self, *args):
            pass

    HTTPServer(("127.0.0.1", port), Handler).serve_forever()
''')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _free_base_port(replicas: int) -> int:
    """A port p such that p, p+10, … p+10*(replicas-1) are all free."""
    for _ in range(50):
        base = _free_port()
        if base + 10 * replicas < 65000 and not any(proc.port_open("127.0.0.1", base + 10 * i) for i in range(replicas)):
            return base
    raise AssertionError("no free port range")


def _serving(url: str) -> bool:
    return proc.http_status(f"{url}/readyz", 1.0) == 200


def _poll(predicate, timeout: float, what: str) -> float:  # noqa: ANN001
    """Seconds until ``predicate()`` held; fail after ``timeout``."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)
    return time.monotonic() - started


@pytest.fixture
def own_state(tmp_path, monkeypatch) -> Path:
    """A state dir of this test's own; its supervisord (if any) is shut down at the end."""
    state = tmp_path / "state"
    monkeypatch.setenv("SHUANGDA_STATE_DIR", str(state))
    yield state
    components.down()  # every component and instance of this state dir, then its supervisord
    SUPERVISOR.stop(timeout=30)


@pytest.fixture
def fake(own_state, tmp_path, monkeypatch) -> Service:
    package = tmp_path / "fakesvc"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(FAKE_SERVICE)
    svc = Service("fake", module="fakesvc", root=tmp_path, port=_free_base_port(3))
    monkeypatch.setattr(components, "SERVICES", (svc,))
    monkeypatch.setattr(components, "all_components", lambda: (svc,))
    return svc


def test_a_service_killed_hard_is_restarted_by_the_supervisor_and_serves_again_within_30_s(fake: Service) -> None:
    first = fake.start(timeout=30)
    assert SUPERVISOR.is_running()
    os.killpg(first.pid, signal.SIGKILL)
    took = _poll(lambda: fake.pid() not in (None, first.pid) and _serving(fake.address()), DEADLINE,
                 "the killed service to serve again")
    assert took < DEADLINE
    row = fake.status()
    assert row.state == "running" and row.pid != first.pid
    assert row.restarts == 1


def test_a_service_stopped_through_the_launcher_stays_stopped_and_counts_no_restart(fake: Service) -> None:
    fake.start(timeout=30)
    assert fake.stop() is True
    row = fake.status()
    assert row.state == "stopped" and row.pid is None and row.restarts == 0
    assert not _serving(fake.address())


def test_up_with_replicas_runs_every_instance_on_its_own_port_and_fewer_replicas_stop_the_extra_ones(
        fake: Service) -> None:
    results = {r.status.component: r for r in components.up(replicas=3, timeout=30)}
    assert set(results) == {"fake", "fake-1", "fake-2"}
    ports = [fake.port() + 10 * i for i in range(3)]
    for i, port in enumerate(ports):
        assert proc.http_status(f"http://127.0.0.1:{port}/readyz", 2.0) == 200, f"instance {i} on {port}"
    rows = {r.component: r for r in components.status()}
    assert {"supervisor", "fake", "fake-1", "fake-2"} <= set(rows)
    assert len({rows[n].pid for n in ("fake", "fake-1", "fake-2")}) == 3
    assert rows["fake-2"].address == f"http://127.0.0.1:{ports[2]}"

    again = {r.status.component: r for r in components.up(timeout=30)}
    assert set(again) == {"fake", "fake-1", "fake-2"}, "the replica count is kept for later ups"
    assert not any(r.started for r in again.values()), "up leaves running instances alone"

    components.up(replicas=1, timeout=30)
    assert {r.component for r in components.status()} == {"supervisor", "fake"}
    assert not proc.port_open("127.0.0.1", ports[1]) and not proc.port_open("127.0.0.1", ports[2])

    stopped = dict(components.down())
    assert stopped == {"fake": True, "supervisor": True}
    assert not proc.port_open("127.0.0.1", ports[0])


def test_prometheus_scrapes_every_instance(own_state, monkeypatch) -> None:
    monkeypatch.setenv("SHUANGDA_INTAKE_PORT", "18001")
    monkeypatch.setenv("SHUANGDA_INTAKE_WORKER_PORT", "18009")
    settings.set_replicas(2)
    import yaml

    jobs = {j["job_name"]: j for j in yaml.safe_load(components.PROMETHEUS.render_config())["scrape_configs"]}
    # intake's api instances, then its worker instances, in the one intake job
    assert jobs["intake"]["static_configs"][0]["targets"] == ["127.0.0.1:18001", "127.0.0.1:18011",
                                                               "127.0.0.1:18009", "127.0.0.1:18019"]


@pytest.mark.stack
def test_a_broker_killed_hard_is_serving_again_within_30_s(own_state, monkeypatch) -> None:
    for var in ("SHUANGDA_KAFKA_BOOTSTRAP", "SHUANGDA_PG_DSN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SHUANGDA_KAFKA_PORT", str(_free_port()))
    monkeypatch.setenv("SHUANGDA_KAFKA_CONTROLLER_PORT", str(_free_port()))
    monkeypatch.setenv("SHUANGDA_KAFKA_HEAP", "256m")
    broker = KafkaBroker()
    assert broker.address() != "127.0.0.1:9092"
    try:
        first = broker.start(timeout=120)
        proc.signal_process(first.pid, signal.SIGKILL)
        bootstrap = broker.address()
        took = _poll(lambda: broker.pid() not in (None, first.pid)
                     and proc.run_coro(lambda: metadata_ok(bootstrap, 2.0), 5.0), DEADLINE,
                     "the killed broker to answer metadata again")
        assert took < DEADLINE
        assert broker.status().restarts == 1
    finally:
        broker.stop(timeout=30)


@pytest.mark.stack
async def test_when_the_leading_instance_is_killed_another_takes_the_relay_over_and_the_outbox_drains(
        unique: str, tmp_path: Path) -> None:
    from tests.integration.test_runtime import EchoWorld, echo_records

    world = EchoWorld(unique)
    await world.create()
    tag = secrets.token_hex(3)
    instances = {f"a{tag}": None, f"b{tag}": None}
    for name in instances:
        instances[name] = stack.spawn("tests.support.echo_service", world.env(SHUANGDA_INSTANCE=name),
                                      tmp_path / f"echo-{name}.log")
    try:
        def leader() -> str | None:
            held = [name for name in instances if "outbox-relay" in components.leadership().get(f"echo-{name}", [])]
            return held[0] if held else None

        first = await stack.eventually(lambda: asyncio.to_thread(leader), until=lambda n: n is not None,
                                       timeout=60, what="one instance leading the relay")
        await stack.produce(world.in_topic, echo_records(100))
        await stack.eventually(world.unsent, until=lambda n: n == 0, timeout=60, what="the outbox drained")

        instances[first].kill()  # SIGKILL: its session, and with it the advisory lock, dies with it
        await asyncio.to_thread(instances[first].wait, 10)
        other = next(n for n in instances if n != first)
        await stack.eventually(lambda: asyncio.to_thread(leader), until=lambda n: n == other, timeout=60,
                               what=f"instance {other} taking the relay over")
        await stack.produce(world.in_topic, echo_records(100, start=100))
        await stack.eventually(world.applied, until=lambda r: len(r) >= 200, timeout=90, what="all 200 applied")
        await stack.eventually(world.unsent, until=lambda n: n == 0, timeout=60,
                               what="the outbox drained by the new leader")
    finally:
        for child in instances.values():
            if child is not None and child.poll() is None:
                child.terminate()
                await asyncio.to_thread(child.wait, 30)
    out = await stack.read_all(world.out_topic, expect=200, timeout=30)
    assert len({stack.header(r, "ce_id") for r in out}) == 200
