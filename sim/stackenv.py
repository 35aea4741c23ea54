"""The services under their own names: schemas, consumer groups, topics,
ports — so an end-to-end test, a benchmark or a test run of the demo shares
Kafka and Postgres with everyone else without touching anyone's records.

    iso = Isolated.make(new_unique("e"))
    env = iso.env(directory_path=..., sms_url=..., clock="accelerated:…")   # one env for all of them
    target = iso.target(dsn, bootstrap)                                       # what the simulator talks to

The simulated clients get the namespace as a suffix (``hotline-12315-a1b2c3d4``),
and intake only reads the ingress topics of clients with that suffix.
"""
from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import httpx

from sim.observe import Schemas
from sim.world import Target

SERVICES = ("intake", "routing", "notify", "credit", "custody", "appraisal", "inspection")
#: the services a complaint passes through on its way to a bureau and a notice
PIPELINE = ("intake", "routing", "notify", "credit")


def new_unique(kind: str) -> str:
    """A fresh namespace: ``z``, a letter for what it is for (e2e, demo test, bench), 8 hex digits."""
    import uuid

    return f"z{kind}{uuid.uuid4().hex[:8]}"
REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Isolated:
    unique: str
    ports: Mapping[str, int]

    @classmethod
    def make(cls, unique: str, ports: Mapping[str, int] | None = None) -> "Isolated":
        if not re.fullmatch(r"z[a-z][a-z0-9]{2,22}", unique):
            # 'z' and a letter: never a hex prefix like the other tests' t<hex> topics, so cleanup() takes only ours
            raise ValueError("unique: 'z', a letter, then 2-22 lower-case letters and digits (e.g. ze1a2b3c4d)")
        return cls(unique, dict(ports) if ports else {name: free_port() for name in SERVICES})

    @property
    def schemas(self) -> Schemas:
        u = self.unique
        return Schemas(intake=f"intake_{u}", routing=f"routing_{u}", notify=f"notify_{u}", credit=f"credit_{u}",
                       identity=f"identity_{u}", custody=f"custody_{u}", appraisal=f"appraisal_{u}",
                       inspection=f"inspection_{u}")

    def topic(self, name: str) -> str:
        return f"t{self.unique}.{name}"

    @property
    def inspection_lead_topic(self) -> str:
        """Inspection's leads: an ingress topic of the namespace's own (intake reads only those), whose
        owner is the keyless principal ``inspection-<unique>`` (`prepare` registers it)."""
        return f"ingress.inspection-{self.unique}"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def target(self, dsn: str, bootstrap: str) -> Target:
        return Target(intake=self.url("intake"), routing=self.url("routing"), credit=self.url("credit"),
                      custody=self.url("custody"), appraisal=self.url("appraisal"), inspection=self.url("inspection"), dsn=dsn,
                      bootstrap=bootstrap, schemas=self.schemas, namespace=self.unique, egress_prefix=f"t{self.unique}.",
                      precreate_egress=False)

    def env(self, *, directory_path: Path | None = None, sms_url: str | None = None, clock: str | None = None,
            fast_polls: bool = True) -> dict[str, str]:
        """Environment variables for all the services (each reads its own prefix)."""
        u, s, t = self.unique, self.schemas, self.topic
        env = {
            "SHUANGDA_DEV": "true",
            "SHUANGDA_IDENTITY_SCHEMA": s.identity,
            "SHUANGDA_INTAKE_SCHEMA": s.intake, "SHUANGDA_INTAKE_CONSUMER_GROUP": f"intake-{u}",
            "SHUANGDA_INTAKE_CASE_TOPIC": t("case.intake"),
            # routing's case topic: intake learns each case's assignee and closing from it (evidence
            # files, the survey) — without it an isolated intake read the shared stack's topic
            "SHUANGDA_INTAKE_ROUTING_TOPIC": t("case.routing"),
            "SHUANGDA_INTAKE_INGRESS_PATTERN": rf"ingress\.[a-z0-9][a-z0-9_-]*-{u}",
            "SHUANGDA_ROUTING_SCHEMA": s.routing, "SHUANGDA_ROUTING_CONSUMER_GROUP": f"routing-{u}",
            "SHUANGDA_ROUTING_INTAKE_TOPIC": t("case.intake"), "SHUANGDA_ROUTING_ROUTING_TOPIC": t("case.routing"),
            "SHUANGDA_ROUTING_REFERRAL_TOPIC": t("referral.lifecycle"), "SHUANGDA_ROUTING_ALERT_TOPIC": t("alert.hotspot"),
            "SHUANGDA_ROUTING_INGRESS_PREFIX": t("ingress."), "SHUANGDA_ROUTING_EGRESS_PREFIX": f"t{u}.",
            "SHUANGDA_ROUTING_WARNINGS_APP_ID": f"routing-warnings-{u}",
            "SHUANGDA_ROUTING_APPRAISAL_TOPIC": t("appraisal.lifecycle"),
            "SHUANGDA_NOTIFY_SCHEMA": s.notify, "SHUANGDA_NOTIFY_CONSUMER_GROUP": f"notify-{u}",
            "SHUANGDA_NOTIFY_INTAKE_TOPIC": t("case.intake"), "SHUANGDA_NOTIFY_ROUTING_TOPIC": t("case.routing"),
            "SHUANGDA_NOTIFY_REFERRAL_TOPIC": t("referral.lifecycle"), "SHUANGDA_NOTIFY_ALERT_TOPIC": t("alert.hotspot"),
            "SHUANGDA_NOTIFY_CREDIT_TOPIC": t("credit.records"),
            "SHUANGDA_NOTIFY_NOTIFICATION_TOPIC": t("notification.status"),
            "SHUANGDA_CREDIT_SCHEMA": s.credit, "SHUANGDA_CREDIT_CONSUMER_GROUP": f"credit-{u}",
            "SHUANGDA_CREDIT_INGRESS_PATTERN": rf"t{u}\.ingress\.[a-z][a-z0-9_]*-[0-9]{{6}}",
            "SHUANGDA_CREDIT_REFERRAL_TOPIC": t("referral.lifecycle"), "SHUANGDA_CREDIT_PENALTY_TOPIC": t("penalty.decisions"),
            "SHUANGDA_CREDIT_CREDIT_TOPIC": t("credit.records"), "SHUANGDA_CREDIT_INSPECTION_TOPIC": t("inspection.lifecycle"),
            "SHUANGDA_CUSTODY_SCHEMA": s.custody, "SHUANGDA_CUSTODY_CONSUMER_GROUP": f"custody-{u}",
            "SHUANGDA_CUSTODY_CUSTODY_TOPIC": t("custody.lifecycle"), "SHUANGDA_CUSTODY_REFERRAL_TOPIC": t("referral.lifecycle"),
            "SHUANGDA_CUSTODY_CASE_ROUTING_TOPIC": t("case.routing"),
            "SHUANGDA_APPRAISAL_SCHEMA": s.appraisal, "SHUANGDA_APPRAISAL_CONSUMER_GROUP": f"appraisal-{u}",
            "SHUANGDA_APPRAISAL_APPRAISAL_TOPIC": t("appraisal.lifecycle"),
            "SHUANGDA_APPRAISAL_CUSTODY_TOPIC": t("custody.lifecycle"),
            # routing's case topic: custody and appraisal learn which bureau each case is assigned to
            "SHUANGDA_APPRAISAL_CASE_ROUTING_TOPIC": t("case.routing"),
            "SHUANGDA_APPRAISAL_EGRESS_PREFIX": f"t{u}.",
            "SHUANGDA_INSPECTION_SCHEMA": s.inspection, "SHUANGDA_INSPECTION_INSPECTION_TOPIC": t("inspection.lifecycle"),
            "SHUANGDA_INSPECTION_LEAD_TOPIC": self.inspection_lead_topic,
            "SHUANGDA_INSPECTION_CREDIT_TOPIC": t("credit.records"), "SHUANGDA_INSPECTION_CONSUMER_GROUP": f"inspection-{u}",
        }
        for name in SERVICES:
            env[f"SHUANGDA_{name.upper()}_HTTP_PORT"] = str(self.ports[name])
            env[f"SHUANGDA_{name.upper()}_PORT"] = str(self.ports[name])
        env.update(demo_tuning(fast_polls=fast_polls))
        if directory_path is not None:
            env["SHUANGDA_NOTIFY_DIRECTORY_PATH"] = str(directory_path)
        if sms_url is not None:
            env["SHUANGDA_NOTIFY_SMS_GATEWAY_URL"] = sms_url
        if clock is not None:
            env["SHUANGDA_CLOCK"] = clock
        return env


def demo_tuning(*, fast_polls: bool = True) -> dict[str, str]:
    """Settings that make sense when time runs fast: check deadlines and the directory often."""
    env = {
        "SHUANGDA_ROUTING_WATCH_INTERVAL_SECONDS": "1",
        "SHUANGDA_ROUTING_GAUGES_INTERVAL_SECONDS": "5",
        "SHUANGDA_NOTIFY_DIRECTORY_CHECK_SECONDS": "1",
        "SHUANGDA_CREDIT_SCHEDULER_INTERVAL_SECONDS": "1",
        "SHUANGDA_CUSTODY_DEADLINE_WATCH_SECONDS": "1",
        "SHUANGDA_APPRAISAL_DEADLINE_WATCH_SECONDS": "1",
        "SHUANGDA_INSPECTION_DEADLINE_WATCH_SECONDS": "1",
    }
    if fast_polls:
        # the case pipeline only: custody's and appraisal's consumers wait for a referral step or a receipt
        # now and then, and seven services polling every 50 ms load a small machine (connections dropped
        # under test_bounded_memory's flood)
        for name in PIPELINE:
            env[f"SHUANGDA_{name.upper()}_CONSUMER_POLL_MS"] = "50"
            env[f"SHUANGDA_{name.upper()}_RELAY_POLL_SECONDS"] = "0.5"
    return env


Spawn = Callable[[str, dict[str, str], Path], "subprocess.Popen[bytes]"]


def spawn(module: str, env: dict[str, str], log_path: Path) -> "subprocess.Popen[bytes]":
    """`python -m module` with the repo on the path, its output to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full = {**os.environ, **env, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", module], env=full, cwd=REPO_ROOT,
                            stdout=log_path.open("ab"), stderr=subprocess.STDOUT)


class Services:
    """The services as child processes (tests and benchmarks)."""

    def __init__(self, iso: Isolated, env: dict[str, str], log_dir: Path, spawner: Spawn = spawn) -> None:
        self.iso, self.env, self.log_dir, self.spawner = iso, env, log_dir, spawner
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        for name in SERVICES:
            self.procs[name] = self.spawner(f"services.{name}", self.env, self.log_dir / f"{name}.log")

    async def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        waiting = set(SERVICES)
        async with httpx.AsyncClient(trust_env=False, timeout=2.0) as http:
            while waiting:
                for name in sorted(waiting):
                    proc = self.procs.get(name)
                    if proc is not None and proc.poll() is not None:
                        raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.log_dir / f'{name}.log'}")
                    try:
                        if (await http.get(f"{self.iso.url(name)}/readyz")).status_code == 200:
                            waiting.discard(name)
                    except httpx.HTTPError:
                        pass
                if waiting and time.monotonic() > deadline:
                    raise TimeoutError(f"not ready after {timeout:.0f} s: {', '.join(sorted(waiting))} "
                                       f"(logs in {self.log_dir})")
                if waiting:
                    await asyncio.sleep(0.3)

    def stop(self, timeout: float = 20.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.procs.clear()


async def prepare(iso: Isolated, dsn: str, bootstrap: str) -> None:
    """Migrate the services' schemas, create the namespaced internal topics and register inspection's
    keyless principal for its lead topic (what ``shuangda migrate`` does for the default names)."""
    from dataclasses import replace

    from shared.db import migrate
    from shared.topics import APPRAISAL, CUSTODY, INSPECTION, INTERNAL, TopicSpec, ensure_topics
    from sim.registration import register_kafka_submitter

    for name, schema in zip(SERVICES, iso.schemas.all()):
        await migrate(dsn, schema, REPO_ROOT / "services" / name / "migrations")
    await ensure_topics(bootstrap, [replace(spec, name=iso.topic(spec.name))
                                    for spec in (*INTERNAL, CUSTODY, APPRAISAL, INSPECTION)]
                        + [TopicSpec(iso.inspection_lead_topic, "source id", "leads from random inspections")])
    await register_kafka_submitter(dsn, iso.schemas.identity, f"inspection-{iso.unique}")


async def cleanup(iso: Isolated, dsn: str, bootstrap: str) -> list[str]:
    """Delete the namespace's topics and drop its schemas (a throw-away namespace must not pile
    up topics on a shared broker: a small one runs out of heap). Returns the topics deleted."""
    import asyncpg
    from aiokafka.admin import AIOKafkaAdminClient

    mine = re.compile(rf"^(t{iso.unique}\..+|ingress\.[a-z0-9][a-z0-9_-]*-{iso.unique}(\.dlq)?"
                      rf"|routing-warnings-{iso.unique}-.+)$")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=60_000)
    await admin.start()
    try:
        victims = [t for t in await admin.list_topics() if mine.match(t)]
        for i in range(0, len(victims), 100):
            await admin.delete_topics(victims[i:i + 100], timeout_ms=60_000)
    finally:
        await admin.close()
    conn = await asyncpg.connect(dsn)
    try:
        for schema in iso.schemas.all():
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
    return victims
