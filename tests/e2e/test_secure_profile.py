"""The secure profile as an operator runs it (`shuangda up --profile secure`), on a stack of its
own (its own state dir and ports 28500-28799): three KRaft brokers on SASL_SSL with the ACLs of
compose's acls.sh, one Postgres login role per service, every service's API over HTTPS with a
certificate from the stack's own CA.

In order, on one stack: every service answers /readyz 200 over TLS (and nothing over plain HTTP);
routing's role cannot read intake's schema; a complaint goes all the way to a webhook, signed and
over TLS, at a receiver that verifies it; one broker is killed -9 while a producer and a consumer
run, which both carry on with nothing lost, and `shuangda status` shows the cluster degraded,
then healthy again; a small `shuangda chaos` run passes on the profile; a short `shuangda demo`
runs on it (its simulator over HTTPS and SASL_SSL, the monitor as a Kafka principal of its own) and
its report counts real work.

Marked ``chaos`` (it SIGKILLs brokers and services, of its own stack only) and ``stack``.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import asyncpg
import httpx
import pytest

from deploy.launcher import proc
from shared.config import REPO_ROOT
from shared.workdays import SHANGHAI
from tests.support import stack

pytestmark = [pytest.mark.stack, pytest.mark.chaos]

SERVICES = ("intake", "routing", "notify", "credit", "custody", "appraisal", "inspection", "console")
#: the launcher runs intake as its api (``intake``) and its worker (``intake-worker``) process
COMPONENTS = ("intake-worker", *SERVICES)
#: the short demo's namespace: its monitor publishes as ``monitor-bigdata-<namespace>``, recorded before
#: the stack comes up so the profile's one ACL job already grants it its ingress topic
DEMO_NAMESPACE = "securedemo"
#: below Linux's ephemeral range (32768-60999): a port in it can be taken, between the check for busy ports
#: and a service's bind, by any socket opened meanwhile (the test's own webhook receiver, a client's
#: connection) — custody once failed to bind 36704 that way
PORTS = {"SHUANGDA_KAFKA_PORT": 28500, "SHUANGDA_KAFKA_CONTROLLER_PORT": 28501, "SHUANGDA_PG_PORT": 28600,
         "SHUANGDA_PROMETHEUS_PORT": 28601, "SHUANGDA_INTAKE_WORKER_PORT": 28708,
         **{f"SHUANGDA_{s.upper()}_PORT": 28700 + i for i, s in enumerate(SERVICES)}}


@dataclass
class Secure:
    env: dict[str, str]
    state: Path
    receiver: Any
    ca: str

    def url(self, service: str) -> str:
        variable = f"SHUANGDA_{service.upper().replace('-', '_')}_PORT"
        return f"https://127.0.0.1:{self.env[variable]}"

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca)


def cli(env: dict[str, str], *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deploy.cli", *args], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def status_rows(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    done = cli(env, "status", "--json", timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    return {r["component"]: r for r in json.loads(done.stdout)}


class in_state_dir:
    """This process's launcher calls (credentials, TLS material, one component) against the test's stack."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.saved = env, {}

    def __enter__(self) -> None:
        for key in ("SHUANGDA_STATE_DIR", "SHUANGDA_PG_DSN", "SHUANGDA_KAFKA_BOOTSTRAP", *PORTS):
            self.saved[key] = os.environ.get(key)
            if key in self.env:
                os.environ[key] = self.env[key]
            else:
                os.environ.pop(key, None)

    def __exit__(self, *exc: object) -> None:
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secure]:
    from deploy.launcher import profile, secure as launcher_secure
    from sim.directory import build_directory, write_directory
    from sim.receiver import Receiver

    busy = [p for p in PORTS.values() if proc.port_open("127.0.0.1", p)]
    if busy:
        pytest.skip(f"ports {busy} are taken; the secure-profile test needs 28500-28799")
    state = tmp_path_factory.mktemp("secure-state")
    env = {k: v for k, v in os.environ.items() if k not in ("SHUANGDA_PG_DSN", "SHUANGDA_KAFKA_BOOTSTRAP")
           and not k.startswith("SHUANGDA_KAFKA_SASL") and k != "SHUANGDA_KAFKA_SECURITY_PROTOCOL"}
    env.update({"PYTHONPATH": str(REPO_ROOT), "SHUANGDA_STATE_DIR": str(state),
                **{k: str(v) for k, v in PORTS.items()}})
    # the CA first (the launcher keeps it), so notify's webhooks can go to a receiver with its certificate
    with in_state_dir(env):
        profile.choose("secure")
        material = launcher_secure.tls()
        profile.outside_client(f"monitor-bigdata-{DEMO_NAMESPACE}")
    loop = asyncio.new_event_loop()
    receiver = Receiver(secrets={}, keep=True)
    port = loop.run_until_complete(receiver.start(tls_certfile=str(material.server_cert),
                                                  tls_keyfile=str(material.server_key)))
    today = dt.datetime.now(SHANGHAI).date()
    document, secrets = build_directory(f"https://127.0.0.1:{port}", today, version="secure-e2e")
    receiver.secrets.update(secrets)
    env["SHUANGDA_NOTIFY_DIRECTORY_PATH"] = str(write_directory(state / "directory.yaml", document))
    env["SHUANGDA_NOTIFY_DIRECTORY_CHECK_SECONDS"] = "1"
    started = time.monotonic()
    up = cli(env, "up", "--profile", "secure", timeout=900)
    print(f"secure profile up in {time.monotonic() - started:.0f}s")
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        secure_stack = Secure(env, state, receiver, str(material.ca_file))
        secure_stack.loop = loop  # type: ignore[attr-defined]
        yield secure_stack
    finally:
        cli(env, "down", timeout=300)
        loop.run_until_complete(receiver.stop())
        loop.close()


def run(secure: Secure, coro: Any) -> Any:
    """Run a coroutine on the loop the receiver serves on (it answers notify while we wait)."""
    return secure.loop.run_until_complete(coro)  # type: ignore[attr-defined]


def test_every_service_answers_readyz_over_https_verified_against_the_stacks_ca(secure: Secure) -> None:
    async def check() -> None:
        async with httpx.AsyncClient(trust_env=False, timeout=10, verify=secure.tls()) as http:
            for service in COMPONENTS:
                answer = await http.get(f"{secure.url(service)}/readyz")
                assert answer.status_code == 200, (service, answer.text)
        async with httpx.AsyncClient(trust_env=False, timeout=5) as plain:
            with pytest.raises(httpx.HTTPError):  # the system's CAs do not know the stack's
                await plain.get(f"{secure.url('intake')}/readyz")
            with pytest.raises(httpx.HTTPError):  # and nothing answers plain HTTP
                await plain.get(secure.url("intake").replace("https://", "http://") + "/readyz")

    run(secure, check())
    rows = status_rows(secure.env)
    assert all(rows[s]["state"] == "running" and rows[s]["address"].startswith("https://") for s in COMPONENTS), rows
    assert rows["kafka"]["state"] == "healthy", rows["kafka"]
    assert [rows[f"kafka-{i}"]["state"] for i in (1, 2, 3)] == ["running"] * 3


def test_routings_postgres_role_reads_its_own_schema_and_cannot_read_intakes(secure: Secure) -> None:
    from deploy.launcher import settings

    with in_state_dir(secure.env):
        routing_dsn = settings.local_pg_dsn("routing")

    async def check() -> None:
        conn = await asyncpg.connect(routing_dsn)
        try:
            assert await conn.fetchval("SELECT count(*) FROM routing.schema_migrations") > 0
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch("SELECT * FROM intake.schema_migrations LIMIT 1")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("CREATE SCHEMA routing_owns_nothing_more")
            assert not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        finally:
            await conn.close()

    run(secure, check())


def test_init_roles_fails_the_initialisation_when_one_of_its_statements_fails(secure: Secure) -> None:
    # compose's init-roles.sh, as the launcher runs it against the profile's own Postgres: once in a
    # database that does not exist (every psql fails; before, `set -e` was ignored inside the function
    # called as `f || exit 1`, so the script went on and ended "ready" with status 0), then as it should
    from deploy.launcher import components
    from deploy.launcher.errors import LauncherError

    with in_state_dir(secure.env):
        with pytest.raises(LauncherError) as failed:
            components.POSTGRES.ensure_service_roles(database=f"no_such_db_{int(time.time())}")
        again = components.POSTGRES.ensure_service_roles()
    assert "does not exist" in str(failed.value) and "init-roles: failed" in str(failed.value), failed.value
    assert "service roles and schemas ready" not in str(failed.value)
    assert "init-roles: service roles and schemas ready" in again


def test_a_complaint_goes_all_the_way_to_a_signed_webhook_over_tls(secure: Secure) -> None:
    from deploy.launcher import settings
    from sim.api import call
    from sim.population import credit_code, mobile
    from sim.registration import register_intake_clients
    from sim.scenario import stable_random

    with in_state_dir(secure.env):
        dsn = settings.local_pg_dsn()
    rng = stable_random("secure-e2e", "complaint")
    code = credit_code(rng, "610402")

    async def check() -> None:
        keys = await register_intake_clients(dsn, "identity", "unused:9092", {"hotline-secure": "hotline"}, [])
        body = {
            "source_id": f"secure-e2e-{code}", "kind": "complaint", "channel": "hotline", "category": "trademarks",
            "county": "610402", "description": "在商场买到疑似假冒的运动鞋，要求处理",
            "suspect": {"credit_code": code, "name": f"咸阳{code[-6:]}商贸有限公司"},
            "complainant": {"name": "张三", "phone": mobile(rng)}, "figures": {"sales": "899.00", "pieces": 1},
        }
        async with httpx.AsyncClient(trust_env=False, timeout=30, verify=secure.tls()) as http:
            answer = await call(http, "POST", f"{secure.url('intake')}/v1/complaints", token=keys["hotline-secure"],
                                json=body, idempotency_key=body["source_id"])
        assert answer.status == 201, answer.body
        case_id = answer.body["case_id"]

        async def arrived() -> list[Any]:
            # the receiver keeps only webhooks whose Standard Webhooks signature verified
            return [a for a in secure.receiver.arrivals if a.type == "shuangda.case.assigned.v1"
                    and a.case_id == case_id and a.recipient == "market_regulation@610402"]

        found = await stack.eventually(arrived, until=bool, timeout=120, interval=0.5, what=f"webhook for {case_id}")
        assert found[0].body["data"]["event"]["category"] == "trademarks"
        assert secure.receiver.stats.rejected_signatures == 0

    run(secure, check())


def test_one_broker_killed_mid_stream_leaves_producers_and_consumers_going_and_status_degraded_then_healthy(
        secure: Secure) -> None:
    from aiokafka import TopicPartition

    from deploy.launcher import components, settings
    from shared.kafka import KafkaConnection
    from shared.topics import TopicSpec, ensure_topics

    with in_state_dir(secure.env):
        client = settings.client_env()
        broker = components.get("kafka-2")
    kafka = KafkaConnection(bootstrap=client["SHUANGDA_KAFKA_BOOTSTRAP"], security_protocol="SASL_SSL",
                            sasl_mechanism="PLAIN", username=client["SHUANGDA_KAFKA_SASL_USERNAME"],
                            password=client["SHUANGDA_KAFKA_SASL_PASSWORD"], ca_file=client["SHUANGDA_KAFKA_SSL_CAFILE"])
    topic = f"case.secure-e2e-{int(time.time())}"
    total = 600
    degraded_seen: list[str] = []

    def kill_broker() -> bool:
        with in_state_dir(secure.env):
            return broker.kill()

    async def check() -> None:
        await ensure_topics(kafka, [TopicSpec(topic, "k", "broker-kill test", partitions=3, has_dlq=False)],
                            replication_factor=3)
        producer = kafka.producer(acks="all", enable_idempotence=True, request_timeout_ms=30_000,
                                  retry_backoff_ms=200)
        consumer = kafka.consumer(enable_auto_commit=False, request_timeout_ms=30_000)
        await producer.start()
        await consumer.start()
        consumer.assign([TopicPartition(topic, p) for p in range(3)])
        await consumer.seek_to_beginning()
        seen: set[bytes] = set()

        async def consume() -> None:
            deadline = time.monotonic() + 240
            while len(seen) < total and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    seen.update(r.key for r in records)

        async def produce() -> None:
            for i in range(total):
                if i == total // 3:
                    assert await asyncio.to_thread(kill_broker), "kafka-2 was running"
                    rows = await asyncio.to_thread(status_rows, secure.env)
                    degraded_seen.append(rows["kafka"]["state"])
                await producer.send_and_wait(topic, key=f"k{i:05d}".encode(), value=b"x")
                await asyncio.sleep(0.02)

        try:
            await asyncio.gather(produce(), consume())
        finally:
            await producer.stop()
            await consumer.stop()
        assert len(seen) == total, f"{total - len(seen)} records lost"

    run(secure, check())
    deadline = time.monotonic() + 180
    states: list[str] = list(degraded_seen)
    while time.monotonic() < deadline:
        rows = status_rows(secure.env)
        states.append(rows["kafka"]["state"])
        if states[-1] == "healthy" and "degraded" in states:
            break
        time.sleep(2)
    assert "degraded" in states, states
    assert states[-1] == "healthy", (states, rows["kafka"])
    assert rows["kafka-2"]["state"] == "running" and rows["kafka-2"]["restarts"] >= 1


def test_a_small_chaos_run_on_the_secure_profile_loses_nothing_and_applies_nothing_twice(secure: Secure) -> None:
    done = cli(secure.env, "chaos", "--profile", "secure", "--events", "300", "--window", "30", "--kills", "1",
               "--drain-timeout", "300", "--json", timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stdout[-2000:] + done.stderr[-4000:]
    figures = json.loads(lines[-1])
    assert figures["reports_sent"] == 300
    assert figures["cases_opened"] == figures["cases_assigned"] == 300, figures
    assert (figures["lost"], figures["applied_twice"], figures["duplicate_deliveries"]) == (0, 0, 0), figures
    assert figures["faults"]["broker"] == 1 and figures["faults"]["postgres"] == 1
    assert done.returncode == 0 and figures["passed"] is True


def test_a_short_demo_on_the_secure_profile_reports_work_done_over_tls_and_sasl(secure: Secure) -> None:
    import re

    from deploy.launcher import settings

    env = {**secure.env, "SHUANGDA_DEMO_NAMESPACE": DEMO_NAMESPACE}
    done = cli(env, "demo", "--complaints", "30", "--speed", "8000", "--follow-days", "2", "--lead-in", "30",
               "--keep-demo-services", "--plain", timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = re.search(r"assessment report: (\S+\.html)", done.stdout)
    assert report, done.stdout[-3000:]
    figures = json.loads(Path(report.group(1)).with_suffix(".json").read_text(encoding="utf-8"))
    totals = figures["totals"]
    assert totals["reports"] > 0 and totals["cases"] > 0, totals
    # the simulated bureaus heard of their cases by webhook (over TLS) and acted through routing's API (HTTPS)
    assert totals["cases_by_state"].get("accepted", 0) + totals["cases_by_state"].get("closed", 0) > 0, totals
    assert re.search(r"· console: https://127\.0\.0\.1:\d+", done.stdout), done.stdout[-2000:]
    with in_state_dir(secure.env):
        dsn = settings.local_pg_dsn()

    async def monitor_leads() -> int:
        conn = await asyncpg.connect(dsn)
        try:  # what the monitor published as its own SCRAM principal, read by intake from its ingress topic
            return int(await conn.fetchval("SELECT count(*) FROM intake.reports WHERE client_id = $1 AND source_id LIKE $2",
                                           f"monitor-bigdata-{DEMO_NAMESPACE}", figures["run_id"] + "-%"))
        finally:
            await conn.close()

    assert run(secure, monitor_leads()) > 0
