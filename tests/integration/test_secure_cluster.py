"""The production topology on this machine: three KRaft nodes, SASL_SSL with SCRAM-SHA-512,
a CA of the project's own, the ACLs of ``deploy/compose/kafka/acls.sh``, replication
factor 3 with ``min.insync.replicas=2`` (``tests/support/secure_cluster.py``).

A real service process on the shared runtime (``tests/support/echo_service.py``) runs as
the ``intake`` principal, configured only through the ``SHUANGDA_KAFKA_*`` settings a
deployed service gets. Its topics are intake's private ones (``intake-…``) and its
consumer group is one of intake's (``intake…``), so the ACLs it meets are production's.
Records and results go through the shared Postgres (a schema per test); the shared
Kafka on 9092 is not used.

Marked ``chaos``: they start three brokers and SIGKILL one of them.
"""
from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAuthorizationFailedError

from shared.db import connect
from shared.kafka import KafkaConnection
from shared.topics import TopicSpec, ensure_topics
from tests.support import stack
from tests.support.echo_service import ECHO_TYPE, Echo, prepare_schema
from tests.support.secure_cluster import SecureCluster

pytestmark = [pytest.mark.stack, pytest.mark.chaos]

PRINCIPALS = ("intake", "routing", "notify", "credit", "custody", "appraisal", "inspection", "console", "migrate")
#: seconds for one client operation against the cluster under test
STEP = 30.0


@dataclass
class Secure:
    cluster: SecureCluster
    passwords: dict[str, str]

    def kafka(self, principal: str, password: str | None = None) -> KafkaConnection:
        return self.cluster.connection(principal, self.passwords[principal] if password is None else password)


@pytest.fixture(scope="module")
def secure(tmp_path_factory) -> Iterator[Secure]:
    cluster = SecureCluster(tmp_path_factory.mktemp("secure-cluster"), nodes=3)
    cluster.start()
    try:
        passwords = {p: secrets.token_hex(24) for p in PRINCIPALS}
        started = time.monotonic()
        cluster.run_acl_job({f"SHUANGDA_KAFKA_{p.upper()}_PASSWORD": pw for p, pw in passwords.items()})
        print(f"3-node secure cluster healthy in {cluster.start_seconds:.1f}s; acls.sh took "
              f"{time.monotonic() - started:.1f}s")
        yield Secure(cluster, passwords)
    finally:
        cluster.stop()


class EchoWorld:
    """One test's topics (intake-private), consumer group and schema."""

    def __init__(self, secure: Secure, unique: str, partitions: int = 3) -> None:
        self.secure = secure
        self.schema = f"echo_{unique}"
        self.in_topic = f"intake-secure-{unique}.in"
        self.out_topic = f"intake-secure-{unique}.out"
        self.group = f"intake-secure-{unique}"
        self.partitions = partitions
        self.kafka = secure.kafka("intake")

    async def create(self) -> None:
        await ensure_topics(self.kafka, [
            TopicSpec(self.in_topic, "key", "test input", partitions=self.partitions),
            TopicSpec(self.out_topic, "key", "test output", partitions=self.partitions, has_dlq=False),
        ], replication_factor=3)
        await prepare_schema(stack.dsn(), self.schema)

    def spawn(self, log: Path) -> subprocess.Popen[bytes]:
        env = {"ECHO_SCHEMA": self.schema, "ECHO_IN": self.in_topic, "ECHO_OUT": self.out_topic,
               "ECHO_GROUP": self.group, "ECHO_MODE": "batch", "SHUANGDA_ECHO_CONSUMER_POLL_MS": "100",
               "SHUANGDA_ECHO_RELAY_POLL_SECONDS": "0.2",
               **self.secure.cluster.settings_env("intake", self.secure.passwords["intake"])}
        return stack.spawn("tests.support.echo_service", env, log)

    async def applied(self) -> list:
        conn = await connect(stack.dsn(), self.schema)
        try:
            return await conn.fetch("SELECT event_id, seq FROM echo_applied ORDER BY n")
        finally:
            await conn.close()

    async def published(self) -> list[int]:
        """The seqs on the output topic, read from the beginning without a group."""
        consumer = self.kafka.consumer(enable_auto_commit=False, auto_offset_reset="earliest")
        await asyncio.wait_for(consumer.start(), STEP)
        try:
            tps = [TopicPartition(self.out_topic, p) for p in range(self.partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            seqs: list[int] = []
            async def behind() -> bool:
                return any([await consumer.position(tp) < end[tp] for tp in tps])

            while await behind():
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    seqs.extend(Echo.model_validate_json(r.value).seq for r in records)
            return seqs
        finally:
            await consumer.stop()


async def produce(kafka: KafkaConnection, topic: str, seqs: range, *, pause_every: int = 0,
                  pause: float = 0.0, progress: list[int] | None = None) -> None:
    """Publish echo records with ``acks=all`` and the idempotent producer; every send must be acknowledged
    (`progress`, when given, holds the number handed to the producer so far)."""
    producer = kafka.producer(acks="all", enable_idempotence=True, request_timeout_ms=15_000)
    await asyncio.wait_for(producer.start(), STEP)
    try:
        pending = []
        for i in seqs:
            key, headers, value = stack.event_record(Echo(seq=i, body="x" * 200), type=ECHO_TYPE, key=f"case-{i % 11}")
            pending.append(await producer.send(topic, value, key=key.encode(), headers=headers))
            if progress is not None:
                progress[0] = i + 1
            if pause_every and (i + 1) % pause_every == 0:
                await producer.flush()
                await asyncio.sleep(pause)
        await producer.flush()
        for future in pending:
            await future  # raises if any record was not acknowledged
    finally:
        await producer.stop()


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def assert_each_applied_once(rows: list, expected: int) -> None:
    counts = Counter(r["event_id"] for r in rows)
    twice = {k: v for k, v in counts.items() if v > 1}
    assert not twice, f"applied more than once: {len(twice)} events, e.g. {list(twice.items())[:3]}"
    assert sorted(r["seq"] for r in rows) == list(range(expected)), "some seqs were lost or applied twice"


# -- tests ------------------------------------------------------------------------------------------


async def test_the_cluster_runs_three_brokers_with_production_replication(secure: Secure) -> None:
    cluster = secure.cluster
    props = cluster.server_properties(cluster.nodes[0])
    assert props["default.replication.factor"] == "3"
    assert props["min.insync.replicas"] == "2"
    assert props["unclean.leader.election.enable"] == "false"
    assert props["offsets.topic.replication.factor"] == "3"
    assert {cluster.protocol(n) for n in cluster.listener_names} == {"SASL_SSL"}
    assert await cluster._broker_count() == 3


async def test_a_service_on_the_runtime_applies_every_record_exactly_once_over_sasl_ssl(
        secure: Secure, unique: str, tmp_path: Path) -> None:
    world = EchoWorld(secure, unique)
    await world.create()
    n = 1500
    started = time.monotonic()
    await produce(world.kafka, world.in_topic, range(n))
    service = world.spawn(tmp_path / "echo.log")
    try:
        rows = await stack.eventually(world.applied, until=lambda r: len(r) >= n, timeout=90, interval=0.5,
                                      what=f"{n} records applied")
        elapsed = time.monotonic() - started
        published = await stack.eventually(world.published, until=lambda s: len(s) >= n, timeout=60, interval=1.0,
                                           what=f"{n} echoes published")
        await asyncio.sleep(1.0)  # a second application would have shown up by now
        rows = await world.applied()
    finally:
        stop(service)
    print(f"secure cluster: {n} records produced and applied in {elapsed:.1f}s ({n / elapsed:.0f}/s)")
    assert_each_applied_once(rows, n)
    assert sorted(published) == list(range(n)), "the echoes on the output topic are not each record once"


async def test_with_a_broker_killed_mid_stream_and_restarted_nothing_is_lost_or_applied_twice(
        secure: Secure, unique: str, tmp_path: Path) -> None:
    cluster = secure.cluster
    world = EchoWorld(secure, unique)
    await world.create()
    n = 3000
    service = world.spawn(tmp_path / "echo.log")
    victim = 2
    try:
        sent = [0]
        producing = asyncio.create_task(
            produce(world.kafka, world.in_topic, range(n), pause_every=100, pause=0.25, progress=sent))
        await stack.eventually(world.applied, until=lambda r: len(r) >= n // 5, timeout=90, interval=0.3,
                               what="a fifth applied before the kill")
        assert not producing.done(), "the producer finished before the kill: the kill would not be mid-stream"
        cluster.kill(victim)
        sent_at_kill = sent[0]
        killed_at = time.monotonic()
        applied_at_kill = len(await world.applied())
        # acks=all with min ISR 2: two nodes still take writes, and the consumer carries on
        await stack.eventually(world.applied, until=lambda r: len(r) >= applied_at_kill + 200, timeout=60,
                               interval=0.3, what="records applied while a broker is down")
        applied_while_down = len(await world.applied()) - applied_at_kill
        cluster.start_node(victim)
        await asyncio.wait_for(producing, 120)
        cluster.wait_healthy(time.monotonic() + 60)
        await stack.eventually(lambda: cluster.under_replicated([world.in_topic, world.out_topic]),
                               until=lambda u: not any(u.values()), timeout=60, interval=1.0,
                               what="the restarted broker back in sync")
        back_in_sync = time.monotonic() - killed_at
        rows = await stack.eventually(world.applied, until=lambda r: len(r) >= n, timeout=90, interval=0.5,
                                      what=f"all {n} applied")
        published = await stack.eventually(world.published, until=lambda s: len(s) >= n, timeout=60, interval=1.0,
                                           what=f"{n} echoes published")
        await asyncio.sleep(1.0)
        rows = await world.applied()
    finally:
        stop(service)
    print(f"broker {victim} killed after {sent_at_kill} sent and {applied_at_kill} applied; {applied_while_down}+ applied while it was down; "
          f"back in sync {back_in_sync:.1f}s after the kill; applied {len(rows)} rows for {n} records, "
          f"{len(published)} echoes")
    assert_each_applied_once(rows, n)
    assert sorted(published) == list(range(n)), "the echoes on the output topic are not each record once"


async def test_a_wrong_password_or_a_missing_acl_is_refused_and_so_is_a_client_without_the_ca(
        secure: Secure, unique: str) -> None:
    topic = f"intake-secure-{unique}.private"
    await ensure_topics(secure.kafka("intake"), [TopicSpec(topic, "key", "intake's own", has_dlq=False)],
                        replication_factor=3)
    # a wrong password: the client cannot even bootstrap
    wrong = secure.kafka("intake", password="not-" + secrets.token_hex(20))
    consumer = wrong.consumer(request_timeout_ms=5_000)
    try:
        with pytest.raises(KafkaConnectionError):
            await asyncio.wait_for(consumer.start(), STEP)
    finally:
        await consumer.stop()
    # the right password, but notify has no ACL on intake's private topics
    producer = secure.kafka("notify").producer(acks="all", request_timeout_ms=10_000)
    await asyncio.wait_for(producer.start(), STEP)
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await asyncio.wait_for(producer.send_and_wait(topic, b"forged"), STEP)
    finally:
        await producer.stop()
    # TLS: a client that trusts only the system's CAs does not accept the brokers' certificates
    untrusting = KafkaConnection(bootstrap=secure.cluster.bootstrap("CLIENT"), security_protocol="SASL_SSL",
                                 sasl_mechanism="SCRAM-SHA-512", username="intake",
                                 password=secure.passwords["intake"], ca_file=None)
    consumer = untrusting.consumer(request_timeout_ms=5_000)
    try:
        with pytest.raises(KafkaError):
            await asyncio.wait_for(consumer.start(), STEP)
    finally:
        await consumer.stop()
