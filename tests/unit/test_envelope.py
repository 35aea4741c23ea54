import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from shared.envelope import Envelope, EnvelopeError, child_traceparent, deterministic_event_id, new_envelope, uuid5_hex


def test_an_envelope_survives_the_round_trip_through_kafka_headers() -> None:
    env = new_envelope(type="shuangda.case.opened.v1", source="/shuangda/intake", subject="C1", correlationid="C1", actor="hotline-a")
    headers = env.to_headers()
    assert ("content-type", b"application/json") in headers
    assert dict(headers)["ce_specversion"] == b"1.0"
    assert Envelope.from_headers(headers) == env


@pytest.mark.parametrize("missing", ["ce_id", "ce_source", "ce_type", "ce_specversion"])
def test_a_missing_required_attribute_is_named_in_the_error(missing: str) -> None:
    headers = [h for h in new_envelope(type="t", source="s").to_headers() if h[0] != missing]
    with pytest.raises(EnvelopeError) as err:
        Envelope.from_headers(headers)
    assert err.value.field == missing.removeprefix("ce_")


def test_an_event_without_a_time_is_stamped_with_its_receipt_time_as_cloudevents_makes_time_optional() -> None:
    received = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)
    headers = [h for h in new_envelope(type="t", source="s").to_headers() if h[0] != "ce_time"]
    assert Envelope.from_headers(headers, received_at=received).time == received
    assert Envelope.from_headers(headers).time.tzinfo is not None


def test_a_structured_mode_event_is_read_with_its_attributes_and_data() -> None:
    value = json.dumps({"specversion": "1.0", "id": "e-1", "source": "/outside", "type": "t.v1",
                        "subject": "C1", "data": {"n": 1, "s": "码"}}, ensure_ascii=False).encode()
    envelope, data = Envelope.from_structured(value)
    assert (envelope.id, envelope.source, envelope.type, envelope.subject) == ("e-1", "/outside", "t.v1", "C1")
    assert json.loads(data) == {"n": 1, "s": "码"}


@pytest.mark.parametrize(("document", "field"), [
    ({"specversion": "1.0", "source": "/o", "type": "t", "data": {}}, "id"),
    ({"specversion": "1.0", "id": "e", "source": "/o", "type": "t", "data_base64": "AA=="}, "data_base64"),
    ({"specversion": "1.0", "id": "e", "source": "/o", "type": "t"}, "data"),
    ({"specversion": "1.0", "id": 5, "source": "/o", "type": "t", "data": {}}, "id"),
    (["not", "an", "object"], "data"),
])
def test_a_bad_structured_mode_event_is_refused_naming_the_attribute(document: object, field: str) -> None:
    with pytest.raises(EnvelopeError) as err:
        Envelope.from_structured(json.dumps(document).encode())
    assert err.value.field == field


def test_a_time_without_offset_is_refused() -> None:
    headers = [(k, b"2026-01-01T00:00:00" if k == "ce_time" else v) for k, v in new_envelope(type="t", source="s").to_headers()]
    with pytest.raises(EnvelopeError) as err:
        Envelope.from_headers(headers)
    assert err.value.field == "time"


def test_a_non_utf8_header_is_refused_naming_it() -> None:
    headers = [(k, b"\xff\xfe" if k == "ce_type" else v) for k, v in new_envelope(type="t", source="s").to_headers()]
    with pytest.raises(EnvelopeError) as err:
        Envelope.from_headers(headers)
    assert err.value.field == "type"


def test_a_caused_event_carries_causation_correlation_trace_and_actor() -> None:
    cause = new_envelope(type="a", source="s", correlationid="case-1", actor="bureau-x")
    child = cause.caused(type="b", source="/shuangda/routing")
    assert child.causationid == cause.id
    assert child.correlationid == "case-1"
    assert child.actor == "bureau-x"
    assert child.traceparent.split("-")[1] == cause.traceparent.split("-")[1]
    assert child.traceparent != cause.traceparent
    assert child.id != cause.id


def test_event_ids_are_unique_and_time_ordered() -> None:
    first = new_envelope(type="t", source="s", time=datetime.now(timezone.utc) - timedelta(seconds=1))
    ids = [new_envelope(type="t", source="s").id for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert first.id[:8] <= ids[0][:8]


def test_deterministic_ids_depend_only_on_their_parts() -> None:
    assert deterministic_event_id("deadline", "d1", "breached") == deterministic_event_id("deadline", "d1", "breached")
    assert deterministic_event_id("deadline", "d1", "breached") != deterministic_event_id("deadline", "d2", "breached")


def test_a_malformed_traceparent_starts_a_new_trace() -> None:
    assert len(child_traceparent("garbage").split("-")) == 4


@given(st.text(max_size=200), st.sampled_from([uuid.NAMESPACE_URL, uuid.NAMESPACE_DNS, uuid.uuid5(uuid.NAMESPACE_URL, "x")]))
def test_the_fast_uuid5_is_the_standard_librarys_uuid5(name: str, namespace: uuid.UUID) -> None:
    assert uuid5_hex(namespace, name) == uuid.uuid5(namespace, name).hex


def test_deterministic_ids_keep_the_values_they_always_had() -> None:
    # ids already stored in outboxes and inboxes: the faster derivation must give the same ones
    assert deterministic_event_id("notify", "msg_1", "delivered") == str(uuid.uuid5(uuid.NAMESPACE_URL, "shuangda:notify/msg_1/delivered"))
