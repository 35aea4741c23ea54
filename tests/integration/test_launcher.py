"""The local launcher against the real Kafka, Postgres and Prometheus.

The stack tests bring the infrastructure up (idempotently) and leave it up:
other tests use it. The chaos tests stop/kill one component and start it again
before they finish. The service code path is exercised with a stand-in service
module in a temporary state dir, so the real services need not exist yet.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from deploy import cli, launcher
from deploy.launcher import components, proc, settings
from deploy.launcher.errors import LauncherError
from deploy.launcher.kafka import metadata_ok
from deploy.launcher.postgres import select_one
from deploy.launcher.services import Service
from deploy.launcher.supervisor import SUPERVISOR

INFRA = ("postgres", "kafka", "prometheus")
SERVICE_JOBS = {"intake", "routing", "notify", "credit"}


def _expected_state(name: str) -> str:
    return "external" if launcher.components.get(name).external() else "running"


@pytest.fixture(scope="module")
def stack() -> launcher.Endpoints:
    """The infrastructure, up; brought up again at the end in case a test failed half-way."""
    endpoints = launcher.ensure_infra()
    yield endpoints
    launcher.ensure_infra()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the real stack -----------------------------------------------------------------

@pytest.mark.stack
def test_status_reports_running_infrastructure_with_addresses_after_up(stack: launcher.Endpoints) -> None:
    rows = {row.component: row for row in launcher.status()}
    for name in INFRA:
        assert rows[name].state == _expected_state(name), rows[name]
        assert rows[name].address
    if not components.KAFKA.external():
        assert rows["kafka"].address == stack.kafka_bootstrap
        assert rows["kafka"].pid == components.KAFKA.pid()
    if not components.POSTGRES.external():
        assert rows["postgres"].pid is not None
        assert f":{settings.port('pg')}/" in rows["postgres"].address
    assert rows["prometheus"].address == stack.prometheus_url
    assert rows["prometheus"].pid is not None


@pytest.mark.stack
def test_up_twice_leaves_running_components_alone(stack: launcher.Endpoints) -> None:
    before = {row.component: row.pid for row in launcher.status()}
    results = launcher.up(infra_only=True)
    assert {r.status.component for r in results} == set(INFRA)
    assert not any(r.started for r in results)
    after = {row.component: row.pid for row in launcher.status()}
    assert after == before


@pytest.mark.stack
def test_prometheus_is_ready_and_lists_the_local_scrape_jobs(stack: launcher.Endpoints) -> None:
    import httpx

    with httpx.Client(base_url=stack.prometheus_url, timeout=5.0, trust_env=False) as client:
        assert client.get("/-/ready").status_code == 200
        targets = client.get("/api/v1/targets").json()["data"]["activeTargets"]
    jobs: dict[str, list[dict]] = {}
    for target in targets:
        jobs.setdefault(target["labels"]["job"], []).append(target)
    assert SERVICE_JOBS | {"prometheus"} <= set(jobs)
    for job in SERVICE_JOBS:
        assert all(t["labels"]["service"] == job for t in jobs[job])
        workers = {f"http://127.0.0.1:{settings.port('intake_worker') + 10 * i}/metrics"
                   for i in range(settings.replicas())} if job == "intake" else set()  # intake's worker processes
        assert {t["scrapeUrl"] for t in jobs[job]} == {
            f"http://127.0.0.1:{settings.instance_port(job, i)}/metrics" for i in range(settings.replicas())
        } | workers, "one target per service instance"


@pytest.mark.stack
async def test_postgres_answers_select_1_through_the_dsn(stack: launcher.Endpoints) -> None:
    import asyncpg

    conn = await asyncpg.connect(stack.pg_dsn, timeout=5)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()


@pytest.mark.stack
async def test_kafka_answers_a_metadata_request(stack: launcher.Endpoints) -> None:
    from aiokafka import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=stack.kafka_bootstrap)
    try:
        await client.bootstrap()
        assert client.cluster.brokers()
    finally:
        await client.close()


@pytest.mark.stack
def test_status_command_prints_a_table_of_components(stack: launcher.Endpoints, capsys) -> None:
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["COMPONENT", "ADDRESS", "STATE", "PID", "RESTARTS", "LEADS", "DETAIL"]
    kafka = next(line for line in lines if line.startswith("kafka "))
    assert _expected_state("kafka") in kafka.split()


@pytest.mark.stack
def test_logs_command_prints_the_tail_of_a_component_log(stack: launcher.Endpoints, capsys) -> None:
    assert cli.main(["logs", "prometheus", "-n", "3"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert 0 < len(out) <= 3


@pytest.mark.stack
@pytest.mark.chaos
async def test_postgres_can_be_stopped_and_started_again(stack: launcher.Endpoints) -> None:
    if components.POSTGRES.external():
        pytest.skip("Postgres is external (SHUANGDA_PG_DSN)")
    old_pid = components.POSTGRES.pid()
    try:
        assert await components.POSTGRES.astop() is True
        assert not components.POSTGRES.is_running()
        assert components.POSTGRES.status().state == "stopped"
        assert not await select_one(stack.pg_dsn, 2.0)
    finally:
        status = await components.POSTGRES.astart()
    assert status.state == "running"
    assert status.pid != old_pid
    assert await select_one(stack.pg_dsn, 5.0)


@pytest.mark.stack
@pytest.mark.chaos
async def test_kafka_can_be_killed_hard_and_restarted(stack: launcher.Endpoints) -> None:
    if components.KAFKA.external():
        pytest.skip("Kafka is external (SHUANGDA_KAFKA_BOOTSTRAP)")
    old_pid = components.KAFKA.pid()
    try:
        assert await components.KAFKA.akill() is True
        assert not proc.is_alive(old_pid)
        assert components.KAFKA.status().pid != old_pid
    finally:
        status = await components.KAFKA.astart()
    assert status.state == "running"
    assert status.pid != old_pid
    assert await metadata_ok(stack.kafka_bootstrap, 10.0)


# -- no stack needed -----------------------------------------------------------------

def test_endpoints_default_to_the_local_stack(monkeypatch) -> None:
    for var in ("SHUANGDA_KAFKA_BOOTSTRAP", "SHUANGDA_PG_DSN", "SHUANGDA_PG_PORT", "SHUANGDA_KAFKA_PORT",
                "SHUANGDA_PROMETHEUS_PORT", "SHUANGDA_INTAKE_PORT", "SHUANGDA_INTAKE_HTTP_PORT"):
        monkeypatch.delenv(var, raising=False)
    ep = launcher.endpoints()
    assert ep.kafka_bootstrap == "127.0.0.1:9092"
    assert ep.pg_dsn == "postgresql://shuangda:shuangda@127.0.0.1:55432/shuangda"
    assert ep.prometheus_url == "http://127.0.0.1:9090"
    assert ep.services["intake"] == "http://127.0.0.1:8001"
    assert not ep.kafka_external and not ep.pg_external


def test_external_endpoints_are_used_and_never_started(monkeypatch) -> None:
    monkeypatch.setenv("SHUANGDA_PG_DSN", "postgresql://svc:s3cret@db.example:5432/shuangda")
    monkeypatch.setenv("SHUANGDA_KAFKA_BOOTSTRAP", "broker-1:9092,broker-2:9092")
    ep = launcher.endpoints()
    assert ep.pg_dsn == "postgresql://svc:s3cret@db.example:5432/shuangda" and ep.pg_external
    assert ep.kafka_bootstrap == "broker-1:9092,broker-2:9092" and ep.kafka_external
    pg = components.POSTGRES.status()
    assert pg.state == "external" and "s3cret" not in pg.address
    assert components.KAFKA.status().state == "external"
    assert components.KAFKA.start().state == "external"
    assert components.POSTGRES.stop() is False
    assert components.KAFKA.kill() is False


def test_port_overrides_reach_the_rendered_kafka_and_prometheus_configs(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SHUANGDA_STATE_DIR", str(tmp_path / "state"))  # one instance per service
    monkeypatch.setenv("SHUANGDA_KAFKA_PORT", "19092")
    monkeypatch.setenv("SHUANGDA_KAFKA_CONTROLLER_PORT", "19093")
    monkeypatch.setenv("SHUANGDA_PROMETHEUS_PORT", "19090")
    monkeypatch.setenv("SHUANGDA_INTAKE_PORT", "18001")
    monkeypatch.setenv("SHUANGDA_INTAKE_WORKER_PORT", "18009")
    props = dict(
        line.split("=", 1) for line in components.KAFKA.render_server_properties().splitlines()
        if line and not line.startswith("#")
    )
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["process.roles"] == "broker,controller"
    assert props["auto.create.topics.enable"] == "false"
    assert props["num.partitions"] == "3"
    import yaml

    config = yaml.safe_load(components.PROMETHEUS.render_config())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["intake"]["static_configs"][0]["targets"] == ["127.0.0.1:18001", "127.0.0.1:18009"]  # api, worker
    assert jobs["prometheus"]["static_configs"][0]["targets"] == ["127.0.0.1:19090"]
    assert config["rule_files"] == [str(settings.repo_root() / "deploy/prometheus/rules/*.yml")]
    assert config["global"]["scrape_interval"] == "5s"


def test_a_service_that_does_not_exist_is_absent_and_cannot_be_started(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SHUANGDA_STATE_DIR", str(tmp_path / "state"))
    ghost = Service("ghost", module="nosuchservice", root=tmp_path, port=_free_port())
    assert ghost.status().state == "absent"
    with pytest.raises(LauncherError, match="__main__.py does not exist"):
        ghost.start()
    assert not SUPERVISOR.is_running(), "nothing to supervise: no supervisord"


FAKE_SERVICE = textwrap.dedent('''
    import json, os
    from http.server import BaseHTTPRequestHandler, HTTPServer

    port = int(os.environ["SHUANGDA_FAKE_PORT"])
    with open(os.path.join(os.environ["SHUANGDA_STATE_DIR"], "fake-env.json"), "w") as fh:
        json.dump({k: v for k, v in os.environ.items() if k.startswith("SHUANGDA_")}, fh)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path in ("/readyz", "/healthz") else 404)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    print("fake service listening", flush=True)
    HTTPServer(("127.0.0.1", port), Handler).serve_forever()
''')


@pytest.fixture
def fake_service(tmp_path, monkeypatch) -> Service:
    state = tmp_path / "state"
    monkeypatch.setenv("SHUANGDA_STATE_DIR", str(state))
    package = tmp_path / "fakesvc"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(FAKE_SERVICE)
    svc = Service("fake", module="fakesvc", root=tmp_path, port=_free_port())
    yield svc
    svc.stop(timeout=5)
    SUPERVISOR.stop(timeout=10)


def test_a_service_is_started_with_the_stack_endpoints_and_left_alone_when_running(fake_service: Service) -> None:
    status = fake_service.start(timeout=20)
    assert status.state == "running" and status.pid
    assert fake_service.status().state == "running"
    assert proc.http_status(f"{fake_service.address()}/readyz", 2.0) == 200
    env = json.loads((settings.state_dir() / "fake-env.json").read_text())
    ep = launcher.endpoints()
    assert env["SHUANGDA_KAFKA_BOOTSTRAP"] == ep.kafka_bootstrap
    assert env["SHUANGDA_PG_DSN"] == ep.pg_dsn
    assert env["SHUANGDA_STATE_DIR"] == str(settings.state_dir())
    assert env["SHUANGDA_FAKE_PORT"] == env["SHUANGDA_FAKE_HTTP_PORT"] == str(fake_service.port())
    assert "fake service listening" in settings.log_file("fake").read_text()
    assert fake_service.start().pid == status.pid
    assert fake_service.stop() is True
    assert not proc.is_alive(status.pid)
    assert fake_service.status().state == "stopped"
    assert not fake_service.pid_path.exists()


def test_stop_never_signals_a_pid_that_is_not_the_component(fake_service: Service) -> None:
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        proc.write_pid(fake_service.pid_path, stranger.pid)
        assert fake_service.status().state == "stale"
        assert fake_service.stop() is False
        assert stranger.poll() is None, "a foreign process was signalled"
        assert not fake_service.pid_path.exists(), "the stale pid file should be cleaned"
    finally:
        stranger.kill()
        stranger.wait()


def test_a_stale_pid_file_is_cleaned_when_the_component_starts(fake_service: Service) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    proc.write_pid(fake_service.pid_path, dead.pid)
    assert fake_service.status().state == "stale"
    status = fake_service.start(timeout=20)
    assert status.state == "running" and status.pid != dead.pid


def test_up_starts_the_services_that_exist_and_reports_the_absent_ones(fake_service: Service, tmp_path,
                                                                       monkeypatch) -> None:
    ghost = Service("ghost", module="nosuchservice", root=tmp_path, port=_free_port())
    monkeypatch.setattr(components, "SERVICES", (fake_service, ghost))
    monkeypatch.setattr(components, "all_components", lambda: (fake_service, ghost))
    first = {r.status.component: r for r in components.up(timeout=20)}
    assert first["fake"].started and first["fake"].status.state == "running"
    assert first["ghost"].status.state == "absent" and not first["ghost"].started
    again = {r.status.component: r for r in components.up(timeout=20)}
    assert not again["fake"].started and again["fake"].status.pid == first["fake"].status.pid
    with pytest.raises(LauncherError, match="nosuchservice/__main__.py does not exist"):
        components.up(only=["ghost"])
    assert ("fake", True) in components.down()
    assert fake_service.status().state == "stopped"
    assert not SUPERVISOR.is_running(), "down stops supervisord too"


def test_a_service_that_dies_during_start_up_fails_with_its_log_tail(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SHUANGDA_STATE_DIR", str(tmp_path / "state"))
    package = tmp_path / "crashsvc"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text("raise SystemExit('cannot reach the database')\n")
    svc = Service("crash", module="crashsvc", root=tmp_path, port=_free_port())
    started = time.monotonic()
    try:
        with pytest.raises(LauncherError, match="cannot reach the database"):
            svc.start(timeout=20)
        assert time.monotonic() - started < 15
        assert svc.status().state == "stopped"
    finally:
        SUPERVISOR.stop(timeout=10)


def test_cli_verbs_are_registered_and_unknown_components_are_refused(capsys) -> None:
    assert {"up", "down", "status", "logs"} <= set(cli.COMMANDS)
    assert cli.main(["down", "--only", "nosuchthing"]) == 1
    assert "unknown component" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["nosuchverb"])


def test_shuangda_help_lists_the_launcher_verbs() -> None:
    result = subprocess.run([sys.executable, "-m", "deploy.cli", "--help"], capture_output=True, text=True,
                            cwd=settings.repo_root(), env=dict(os.environ), timeout=60)
    assert result.returncode == 0
    for verb in ("up", "down", "status", "logs"):
        assert verb in result.stdout


FAKE_SPLIT_SERVICE = textwrap.dedent('''
    import json, os
    from http.server import BaseHTTPRequestHandler, HTTPServer

    role = os.environ.get("SHUANGDA_FAKE_ROLE", "all")
    port = int(os.environ["SHUANGDA_FAKE_HTTP_PORT"])
    with open(os.path.join(os.environ["SHUANGDA_STATE_DIR"], f"fake-env-{role}.json"), "w") as fh:
        json.dump({k: v for k, v in os.environ.items() if k.startswith("SHUANGDA_")}, fh)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path in ("/readyz", "/healthz") else 404)
            self.end_headers()
            self.wfile.write(role.encode())

        def log_message(self, *args):
            pass

    HTTPServer(("127.0.0.1", port), Handler).serve_forever()
''')


def test_a_split_service_runs_as_an_api_and_a_worker_component_each_with_its_role_and_port(tmp_path,
                                                                                           monkeypatch) -> None:
    monkeypatch.setenv("SHUANGDA_STATE_DIR", str(tmp_path / "state"))
    package = tmp_path / "fakesplit"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(FAKE_SPLIT_SERVICE)
    api = Service("fake", module="fakesplit", root=tmp_path, port=_free_port(), role="api")
    worker = Service("fake", module="fakesplit", root=tmp_path, port=_free_port(), role="worker")
    monkeypatch.setattr(components, "SERVICES", (api, worker))
    monkeypatch.setattr(components, "all_components", lambda: (api, worker))
    try:
        started = {r.status.component: r for r in components.up(only=["fake"], timeout=30)}  # the api's name
        assert set(started) == {"fake", "fake-worker"} and all(r.started for r in started.values())
        rows = {row.component: row for row in components.status()}
        assert rows["fake"].state == rows["fake-worker"].state == "running"
        assert rows["fake"].pid != rows["fake-worker"].pid
        assert rows["fake"].address.endswith(f":{api.port()}") and rows["fake-worker"].address.endswith(
            f":{worker.port()}")
        for role, comp in (("api", api), ("worker", worker)):
            env = json.loads((settings.state_dir() / f"fake-env-{role}.json").read_text())
            assert env["SHUANGDA_FAKE_ROLE"] == role
            assert env["SHUANGDA_FAKE_HTTP_PORT"] == env["SHUANGDA_FAKE_PORT"] == str(comp.port())
        stopped = dict(components.down(only=["fake"]))
        assert stopped == {"fake": True, "fake-worker": True}
        assert api.status().state == worker.status().state == "stopped"
    finally:
        api.stop(timeout=5)
        worker.stop(timeout=5)
        SUPERVISOR.stop(timeout=10)


def test_intake_is_launched_as_its_api_and_its_worker_on_port_8009_plus_ten_per_instance(monkeypatch) -> None:
    monkeypatch.delenv("SHUANGDA_INTAKE_WORKER_PORT", raising=False)
    assert (components.INTAKE.role, components.INTAKE_WORKER.role) == ("api", "worker")
    assert components.get("intake-worker-2").name == "intake-worker-2"
    assert components.get("intake-worker-2").port() == 8009 + 20
    assert [c.name for c in components.select(["intake-1"])] == ["intake-1", "intake-worker-1"]
    monkeypatch.setenv("SHUANGDA_INTAKE_WORKER_PORT", "36999")
    assert components.INTAKE_WORKER.environment()["SHUANGDA_INTAKE_HTTP_PORT"] == "36999"
    assert components.INTAKE_WORKER.environment()["SHUANGDA_INTAKE_ROLE"] == "worker"
    assert components.INTAKE.environment()["SHUANGDA_INTAKE_ROLE"] == "api"


def test_notify_is_told_the_stacks_own_console_address_for_the_links_in_complainants_sms(monkeypatch) -> None:
    monkeypatch.setenv("SHUANGDA_CONSOLE_PORT", "36005")
    monkeypatch.delenv("SHUANGDA_NOTIFY_CONSOLE_PUBLIC_URL", raising=False)
    assert components.NOTIFY.environment()["SHUANGDA_NOTIFY_CONSOLE_PUBLIC_URL"] == "http://127.0.0.1:36005"
    monkeypatch.setenv("SHUANGDA_NOTIFY_CONSOLE_PUBLIC_URL", "https://shuangda.example.gov.cn")
    assert components.NOTIFY.environment()["SHUANGDA_NOTIFY_CONSOLE_PUBLIC_URL"] == "https://shuangda.example.gov.cn"
