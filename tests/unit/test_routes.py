"""Decoding at the edge: envelope, payload, actor and unknown types."""
from typing import ClassVar

from pydantic import BaseModel

from shared.envelope import new_envelope
from shared.runtime.routes import Binding, Ignored, Poison, TopicRoute, decode
from shared.runtime.uow import Message


class Ping(BaseModel):
    EVENT_TYPE: ClassVar[str] = "shuangda.test.ping.v1"
    n: int


async def _noop(message, uow) -> None:  # noqa: ANN001
    return None


ROUTE = TopicRoute(pattern=r"ingress\..+", bindings={Ping.EVENT_TYPE: Binding(Ping, _noop)}, on_unknown="dead_letter")


def _headers(etype: str, actor: str | None = None):  # noqa: ANN202
    return new_envelope(type=etype, source="/outside", actor=actor).to_headers()


def test_the_actor_of_an_ingress_record_is_the_topic_owner_not_the_header() -> None:
    msg = decode(ROUTE, "ingress.platform-a", b"k", _headers(Ping.EVENT_TYPE, actor="office"), b'{"n": 1}')
    assert isinstance(msg, Message)
    assert msg.envelope.actor == "platform-a"


def test_a_command_another_service_handles_is_skipped_on_a_shared_ingress_topic() -> None:
    from shared.contracts import catalogue

    others = [t for t, c in catalogue().items() if c.kind == "command"]
    assert others, "the catalogue registers the ingress commands"
    assert isinstance(decode(ROUTE, "ingress.x-1", None, _headers(others[0]), b"{}"), Ignored)


def test_a_type_nobody_handles_is_dead_lettered_naming_the_type() -> None:
    out = decode(ROUTE, "ingress.x-1", None, _headers("shuangda.nobody.knows.v1"), b"{}")
    assert isinstance(out, Poison) and out.reason == "unknown_event_type" and out.field == "type"


def test_an_invalid_payload_is_poison_naming_the_field() -> None:
    out = decode(ROUTE, "ingress.x-1", None, _headers(Ping.EVENT_TYPE), b'{"n": "many"}')
    assert isinstance(out, Poison) and out.reason == "validation_failed" and out.field == "n"


def test_a_record_that_is_not_json_is_poison() -> None:
    out = decode(ROUTE, "ingress.x-1", None, _headers(Ping.EVENT_TYPE), b"\xff\x00")
    assert isinstance(out, Poison) and out.reason == "validation_failed"


def test_a_structured_mode_record_on_ingress_is_decoded_like_a_binary_one() -> None:
    value = b'{"specversion": "1.0", "id": "e-9", "source": "/outside", "type": "shuangda.test.ping.v1", "data": {"n": 3}}'
    msg = decode(ROUTE, "ingress.platform-a", b"k", [("content-type", b"application/cloudevents+json; charset=utf-8")], value)
    assert isinstance(msg, Message)
    assert (msg.envelope.id, msg.data.n, msg.envelope.actor) == ("e-9", 3, "platform-a")


def test_a_record_without_ce_time_takes_the_kafka_time_stamp() -> None:
    headers = [h for h in _headers(Ping.EVENT_TYPE) if h[0] != "ce_time"]
    msg = decode(ROUTE, "ingress.platform-a", b"k", headers, b'{"n": 1}', timestamp_ms=1_765_000_000_000)
    assert isinstance(msg, Message)
    assert msg.envelope.time.timestamp() == 1_765_000_000
