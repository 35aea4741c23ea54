"""Operator views on the real broker: topics, lag and a case's timeline."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from aiokafka import AIOKafkaConsumer

from shared.envelope import new_envelope
from shared.kafka_ops import case_timeline, consumer_lag, describe_topics
from shared.topics import TopicSpec, ensure_topics
from tests.support import stack
from tests.support.echo_service import ECHO_TYPE, Echo

pytestmark = pytest.mark.stack


async def test_a_case_timeline_gathers_its_events_from_every_topic_in_time_order(unique: str) -> None:
    a, b = f"test.ops.a.{unique}", f"test.ops.b.{unique}"
    await ensure_topics(stack.bootstrap(), [TopicSpec(a, "case", "t"), TopicSpec(b, "case", "t")])
    t0 = datetime(2026, 11, 11, 8, tzinfo=timezone.utc)
    case = f"case-{unique}"
    first = new_envelope(type="shuangda.case.opened.v1", source="/intake", subject=case, correlationid=case, time=t0)
    second = first.caused(type="shuangda.case.assigned.v1", source="/routing", time=t0 + timedelta(minutes=1))
    other = new_envelope(type="shuangda.case.opened.v1", source="/intake", subject="other", correlationid="other", time=t0)
    await stack.produce(b, [(case, second.to_headers(), Echo(seq=2).model_dump_json().encode())])
    await stack.produce(a, [(case, first.to_headers(), Echo(seq=1).model_dump_json().encode()),
                            ("other", other.to_headers(), b"{}")])
    entries = await case_timeline(stack.bootstrap(), case, [a, b])
    assert [e.type for e in entries] == ["shuangda.case.opened.v1", "shuangda.case.assigned.v1"]
    assert entries[1].causation == first.id
    assert [e.topic for e in entries] == [a, b]


async def test_topics_and_lag_show_what_a_group_has_not_consumed(unique: str) -> None:
    topic, group = f"test.ops.lag.{unique}", f"ops-{unique}"
    await ensure_topics(stack.bootstrap(), [TopicSpec(topic, "key", "t", partitions=1)])
    await stack.produce(topic, [stack.event_record(Echo(seq=i), type=ECHO_TYPE, key="k") for i in range(5)])
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=stack.bootstrap(), group_id=group,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        batch = await stack.eventually(lambda: consumer.getmany(timeout_ms=500, max_records=2),
                                       until=lambda b: sum(len(v) for v in b.values()) > 0, what="records")
        await consumer.commit()
        consumed = sum(len(v) for v in batch.values())
    finally:
        await consumer.stop()
    topics = {t.name: t for t in await describe_topics(stack.bootstrap())}
    assert topics[topic].records == 5
    lag = {(r.group, r.topic): r for r in await consumer_lag(stack.bootstrap())}
    assert lag[(group, topic)].lag == 5 - consumed
