"""The effectively-once runtime on the real broker and database (issue: foundation)."""
from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import Counter
from pathlib import Path
from typing import AsyncIterator

import asyncpg
import pytest

from shared.db import connect, create_pool
from shared.envelope import new_envelope
from shared.topics import TopicSpec, ensure_topics
from tests.support import stack
from tests.support.echo_service import ECHO_TYPE, Echo, EchoSettings, build, prepare_schema

pytestmark = pytest.mark.stack


class EchoWorld:
    """Topics, schema and group of one test's echo service."""

    def __init__(self, unique: str, partitions: int = 3, mode: str = "record") -> None:
        self.mode = mode
        self.schema = f"echo_{unique}"
        self.in_topic = f"test.echo.in.{unique}"
        self.out_topic = f"test.echo.out.{unique}"
        self.group = f"echo-{unique}"
        self.partitions = partitions

    async def create(self) -> None:
        await ensure_topics(stack.bootstrap(), [
            TopicSpec(self.in_topic, "key", "test input", partitions=self.partitions),
            TopicSpec(self.out_topic, "key", "test output", partitions=self.partitions, has_dlq=False),
        ])
        await prepare_schema(stack.dsn(), self.schema)

    def env(self, **extra: str) -> dict[str, str]:
        return {"ECHO_SCHEMA": self.schema, "ECHO_IN": self.in_topic, "ECHO_OUT": self.out_topic, "ECHO_GROUP": self.group,
                "ECHO_MODE": self.mode, **extra}

    async def applied(self) -> list[asyncpg.Record]:
        conn = await connect(stack.dsn(), self.schema)
        try:
            return await conn.fetch("SELECT event_id, record_key, seq FROM echo_applied ORDER BY n")
        finally:
            await conn.close()

    async def unsent(self) -> int:
        conn = await connect(stack.dsn(), self.schema)
        try:
            return await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        finally:
            await conn.close()


def echo_records(n: int, keys: int = 5, start: int = 0):
    return [
        stack.event_record(Echo(seq=i, body="x" * 200), type=ECHO_TYPE, key=f"case-{i % keys}")
        for i in range(start, start + n)
    ]


@contextlib.asynccontextmanager
async def running_echo(world: EchoWorld, **settings: object) -> AsyncIterator[None]:
    """The echo service's consumer and relay running in this process."""
    cfg = EchoSettings(dev=True, kafka_bootstrap=stack.bootstrap(), pg_dsn=stack.dsn(), consumer_poll_ms=100,
                       relay_poll_seconds=0.5, **settings)
    pool = await create_pool(cfg.dsn, world.schema)
    consumer, relay = build(cfg, pool, world.schema, world.in_topic, world.out_topic, world.group, world.mode)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(consumer.run(stop)), asyncio.create_task(relay.run(stop))]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await pool.close()


#: the two ways a service hands records to its code: a handler per record, or one set-based call per batch
handler_modes = pytest.mark.parametrize("mode", ["record", "batch"])


def assert_each_applied_once(rows: list[asyncpg.Record], expected: int) -> None:
    counts = Counter(r["event_id"] for r in rows)
    twice = {k: v for k, v in counts.items() if v > 1}
    assert not twice, f"applied more than once: {twice}"
    assert len(counts) == expected, f"applied {len(counts)} distinct events, expected {expected}"


async def test_a_message_delivered_twice_is_applied_once(unique: str) -> None:
    world = EchoWorld(unique)
    await world.create()
    record = stack.event_record(Echo(seq=1), type=ECHO_TYPE, key="case-1")
    await stack.produce(world.in_topic, [record, record])
    async with running_echo(world):
        rows = await stack.eventually(world.applied, until=lambda r: len(r) >= 1, what="the event applied")
        out = await stack.eventually(lambda: stack.read_all(world.out_topic), until=lambda r: len(r) >= 1, what="the echo published")
        await asyncio.sleep(1.0)  # give a second application every chance to show up
        rows = await world.applied()
    assert_each_applied_once(rows, 1)
    assert len(await stack.read_all(world.out_topic)) == 1
    assert stack.header(out[0], "ce_causationid") == record[1][0][1].decode()


@handler_modes
async def test_events_for_one_key_come_out_in_the_order_they_went_in(unique: str, mode: str) -> None:
    world = EchoWorld(unique + mode[0], mode=mode)
    await world.create()
    await stack.produce(world.in_topic, echo_records(300, keys=7))
    async with running_echo(world, consumer_batch_size=50, relay_batch_size=40):
        await stack.eventually(world.applied, until=lambda r: len(r) >= 300, what="300 applied")
        out = await stack.read_all(world.out_topic, expect=300, timeout=30)
    by_key: dict[str, list[int]] = {}
    for rec in out:
        by_key.setdefault(rec.key.decode(), []).append(Echo.model_validate_json(rec.value).seq)
    assert len(by_key) == 7
    for key, seqs in by_key.items():
        assert seqs == sorted(seqs), f"{key} out of order: {seqs}"
    applied_by_key: dict[str, list[int]] = {}
    for row in await world.applied():
        applied_by_key.setdefault(row["record_key"], []).append(row["seq"])
    assert all(s == sorted(s) for s in applied_by_key.values())


@handler_modes
async def test_a_poison_message_goes_to_the_dlq_and_the_messages_behind_it_are_processed(unique: str, mode: str) -> None:
    world = EchoWorld(unique + mode[0], partitions=1, mode=mode)
    await world.create()
    good1 = stack.event_record(Echo(seq=1), type=ECHO_TYPE, key="case-1")
    bad_env = new_envelope(type=ECHO_TYPE, source="/tests", subject="case-1")
    invalid = ("case-1", bad_env.to_headers(), b'{"seq": "not a number"}')
    no_envelope = ("case-1", [], b'{"seq": 5}')
    rejected = stack.event_record(Echo(seq=3, reject=True), type=ECHO_TYPE, key="case-1")
    good2 = stack.event_record(Echo(seq=2), type=ECHO_TYPE, key="case-1")
    await stack.produce(world.in_topic, [good1, invalid, no_envelope, rejected, good2])
    async with running_echo(world):
        rows = await stack.eventually(world.applied, until=lambda r: len(r) >= 2, what="both good records applied")
        dlq = await stack.eventually(lambda: stack.read_all(world.in_topic + ".dlq"), until=lambda r: len(r) >= 3, what="3 dead letters")
    assert [r["seq"] for r in rows] == [1, 2]
    reasons = {stack.header(r, "dlq-reason"): r for r in dlq}
    assert set(reasons) == {"validation_failed", "invalid_envelope", "echo_rejected"}
    invalid_dl = reasons["validation_failed"]
    assert stack.header(invalid_dl, "dlq-field") == "seq"
    assert "seq" in stack.header(invalid_dl, "dlq-detail")
    assert stack.header(invalid_dl, "dlq-origin-topic") == world.in_topic
    assert stack.header(invalid_dl, "dlq-origin-offset") == "1"
    assert stack.header(invalid_dl, "dlq-group") == world.group
    assert stack.header(invalid_dl, "ce_id") == bad_env.id, "the original headers travel with the dead letter"
    assert invalid_dl.value == b'{"seq": "not a number"}'
    assert stack.header(reasons["invalid_envelope"], "dlq-field") == "id"
    assert stack.header(reasons["echo_rejected"], "dlq-field") == "reject"


@handler_modes
async def test_a_batch_full_of_rejected_records_dead_letters_each_once_and_applies_the_rest(unique: str, mode: str) -> None:
    world = EchoWorld(unique + mode[0], partitions=1, mode=mode)
    await world.create()
    records = [stack.event_record(Echo(seq=i, reject=i % 2 == 1), type=ECHO_TYPE, key="case-1") for i in range(100)]
    await stack.produce(world.in_topic, records)
    async with running_echo(world, consumer_batch_size=100):
        rows = await stack.eventually(world.applied, until=lambda r: len(r) >= 50, what="the 50 good records applied")
        dlq = await stack.eventually(lambda: stack.read_all(world.in_topic + ".dlq"), until=lambda r: len(r) >= 50,
                                     what="50 dead letters")
        out = await stack.eventually(lambda: stack.read_all(world.out_topic), until=lambda r: len(r) >= 50, what="50 echoes")
    assert sorted(r["seq"] for r in rows) == list(range(0, 100, 2))
    assert len(dlq) == 50 and {stack.header(d, "dlq-reason") for d in dlq} == {"echo_rejected"}
    assert sorted(Echo.model_validate_json(r.value).seq for r in out) == list(range(0, 100, 2)), \
        "a rejected record's emitted events were rolled back with it"


@handler_modes
async def test_a_consumer_killed_between_db_commit_and_offset_commit_loses_nothing_and_applies_nothing_twice(unique: str, mode: str, tmp_path: Path) -> None:
    world = EchoWorld(unique + mode[0], mode=mode)
    await world.create()
    await stack.produce(world.in_topic, echo_records(200))
    crashing = stack.spawn("tests.support.echo_service", world.env(SHUANGDA_ECHO_CRASH_AT="consumer.after_db_commit", SHUANGDA_ECHO_CONSUMER_BATCH_SIZE="40"), tmp_path / "echo.log")
    assert await asyncio.to_thread(crashing.wait, 60) == -signal.SIGKILL
    rows = await world.applied()
    assert 0 < len(rows) < 200, "the crash came after some records were committed to the database"
    restarted = stack.spawn("tests.support.echo_service", world.env(SHUANGDA_ECHO_CONSUMER_BATCH_SIZE="40"), tmp_path / "echo.log")
    try:
        rows = await stack.eventually(world.applied, until=lambda r: len(r) >= 200, timeout=60, what="all 200 applied")
        await stack.eventually(world.unsent, until=lambda n: n == 0, what="the outbox drained")
        await asyncio.sleep(1.0)
        rows = await world.applied()
    finally:
        restarted.terminate()
        await asyncio.to_thread(restarted.wait, 30)
    assert_each_applied_once(rows, 200)
    out = await stack.read_all(world.out_topic, expect=200)
    assert len({stack.header(r, "ce_id") for r in out}) == 200


async def test_a_relay_killed_after_producing_resends_with_the_same_ids_and_downstream_dedupes(unique: str, tmp_path: Path) -> None:
    world = EchoWorld(unique)
    await world.create()
    await stack.produce(world.in_topic, echo_records(30))
    crashing = stack.spawn("tests.support.echo_service", world.env(SHUANGDA_ECHO_CRASH_AT="relay.after_produce"), tmp_path / "echo.log")
    assert await asyncio.to_thread(crashing.wait, 60) == -signal.SIGKILL
    published_before = await stack.read_all(world.out_topic)
    assert published_before, "the relay produced before it was killed"
    assert await world.unsent() > 0, "the rows it produced were not marked sent"
    restarted = stack.spawn("tests.support.echo_service", world.env(), tmp_path / "echo.log")
    try:
        await stack.eventually(world.unsent, until=lambda n: n == 0, timeout=60, what="the outbox drained")
    finally:
        restarted.terminate()
        await asyncio.to_thread(restarted.wait, 30)
    out = await stack.read_all(world.out_topic)
    ids = [stack.header(r, "ce_id") for r in out]
    assert len(set(ids)) == 30
    assert len(ids) > 30, "some events were published twice, with the same id"
    # a downstream consumer of the output dedupes the re-sent events
    downstream = EchoWorld(unique + "d")
    downstream.in_topic = world.out_topic
    await downstream.create()
    async with running_echo(downstream):
        rows = await stack.eventually(downstream.applied, until=lambda r: len(r) >= 30, what="downstream applied")
        await asyncio.sleep(1.0)
        rows = await downstream.applied()
    assert_each_applied_once(rows, 30)


async def _stream(topic: str, total: int, per_second: float) -> None:
    """Produce `total` echo records at about `per_second`."""
    sent = 0
    while sent < total:
        chunk = min(int(per_second // 5) or 1, total - sent)
        await stack.produce(topic, echo_records(chunk, start=sent))
        sent += chunk
        await asyncio.sleep(0.2)


@pytest.mark.chaos
async def test_postgres_stopped_for_ten_seconds_mid_stream_skips_nothing_and_resumes_by_itself(unique: str, tmp_path: Path) -> None:
    from deploy.launcher import components

    world = EchoWorld(unique)
    await world.create()
    service = stack.spawn("tests.support.echo_service", world.env(), tmp_path / "echo.log")
    try:
        producing = asyncio.create_task(_stream(world.in_topic, 600, per_second=40))
        await stack.eventually(world.applied, until=lambda r: len(r) >= 50, timeout=60, what="the stream flowing")
        await asyncio.to_thread(components.POSTGRES.stop)
        try:
            await asyncio.sleep(10)
            assert service.poll() is None, "the service survived the database outage"
        finally:
            await asyncio.to_thread(components.POSTGRES.start)
        await producing
        rows = await stack.eventually(world.applied, until=lambda r: len(r) >= 600, timeout=90, what="all 600 applied")
        await stack.eventually(world.unsent, until=lambda n: n == 0, timeout=60, what="the outbox drained")
    finally:
        service.terminate()
        await asyncio.to_thread(service.wait, 30)
    assert_each_applied_once(rows, 600)
    out = await stack.read_all(world.out_topic, expect=600)
    assert len({stack.header(r, "ce_id") for r in out}) == 600


@pytest.mark.chaos
async def test_the_broker_killed_and_restarted_mid_stream_loses_nothing(unique: str, tmp_path: Path) -> None:
    from deploy.launcher import components

    world = EchoWorld(unique)
    await world.create()
    await stack.produce(world.in_topic, echo_records(300))
    service = stack.spawn("tests.support.echo_service", world.env(SHUANGDA_ECHO_CONSUMER_BATCH_SIZE="20"), tmp_path / "echo.log")
    try:
        await stack.eventually(world.applied, until=lambda r: len(r) >= 20, timeout=60, what="the stream flowing")
        await asyncio.to_thread(components.KAFKA.kill)
        await asyncio.sleep(3)
        await asyncio.to_thread(components.KAFKA.start)
        await stack.produce(world.in_topic, echo_records(300, start=300))
        rows = await stack.eventually(world.applied, until=lambda r: len(r) >= 600, timeout=120, what="all 600 applied")
        await stack.eventually(world.unsent, until=lambda n: n == 0, timeout=60, what="the outbox drained")
        assert service.poll() is None, "the service survived the broker restart"
    finally:
        service.terminate()
        await asyncio.to_thread(service.wait, 30)
    assert_each_applied_once(rows, 600)
    out = await stack.read_all(world.out_topic, expect=600, timeout=30)
    assert len({stack.header(r, "ce_id") for r in out}) == 600


@handler_modes
async def test_a_dead_letter_replayed_after_its_cause_is_fixed_is_applied_once(unique: str, mode: str) -> None:
    from shared.runtime.dlq import read_dead_letters, replay

    world = EchoWorld(unique + mode[0], partitions=1, mode=mode)
    await world.create()
    rejected = stack.event_record(Echo(seq=7, reject=True), type=ECHO_TYPE, key="case-7")
    await stack.produce(world.in_topic, [rejected])
    async with running_echo(world):
        letters = await stack.eventually(
            lambda: read_dead_letters(stack.bootstrap(), world.in_topic + ".dlq"), until=lambda d: len(d) == 1,
            what="the rejection dead-lettered",
        )
        assert letters[0].reason == "echo_rejected"
        assert letters[0].event_id == rejected[1][0][1].decode()
        conn = await connect(stack.dsn(), world.schema)
        try:
            await conn.execute("INSERT INTO echo_allow (seq) VALUES (7)")
        finally:
            await conn.close()
        assert await replay(stack.bootstrap(), letters) == 1
        rows = await stack.eventually(world.applied, until=lambda r: len(r) >= 1, what="the replayed record applied")
    assert [r["event_id"] for r in rows] == [letters[0].event_id], "the replay kept the original event id"
    assert len(await read_dead_letters(stack.bootstrap(), world.in_topic + ".dlq")) == 1


async def test_a_batch_handler_that_fails_on_one_record_is_re_run_record_by_record_and_only_that_record_is_dead_lettered(unique: str) -> None:
    world = EchoWorld(unique, partitions=1, mode="batch")
    await world.create()
    records = [stack.event_record(Echo(seq=i, explode=i == 13), type=ECHO_TYPE, key=f"case-{i % 3}") for i in range(40)]
    await stack.produce(world.in_topic, records)
    async with running_echo(world, consumer_batch_size=40):
        rows = await stack.eventually(world.applied, until=lambda r: len(r) >= 39, what="the 39 good records applied")
        dlq = await stack.eventually(lambda: stack.read_all(world.in_topic + ".dlq"), until=lambda r: len(r) >= 1,
                                     what="the failing record dead-lettered")
        out = await stack.read_all(world.out_topic, expect=39, timeout=30)
    assert sorted(r["seq"] for r in rows) == [i for i in range(40) if i != 13]
    assert [stack.header(d, "dlq-reason") for d in dlq] == ["echo_exploded"]
    assert len({stack.header(r, "ce_id") for r in out}) == 39
    assert {stack.header(r, "ce_causationid") for r in out} <= {r[1][0][1].decode() for r in records}, \
        "each echo names the record that caused it"
