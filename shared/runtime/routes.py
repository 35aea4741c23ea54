"""What a consumer subscribes to and how raw records become validated messages.

A `TopicRoute` maps event types on one topic (or a topic pattern, for the
``ingress.<client>`` family) to a payload model and a handler. Decoding is the
edge: headers → `Envelope`, bytes → pydantic model; any failure is a
`Poison` naming the field and the reason.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Literal, Mapping, Sequence

from pydantic import BaseModel, ValidationError

from shared.envelope import CONTENT_TYPE_HEADER, STRUCTURED_CONTENT_TYPE, Envelope, EnvelopeError
from shared.runtime.uow import Message, UnitOfWork

INGRESS_PREFIX = "ingress."

Handler = Callable[[Message[Any], UnitOfWork], Awaitable[None]]
#: A set-based handler: every new message of its route in one consumer batch, in partition-then-
#: offset order, in one call. It returns the messages it refuses as ``{index: NonRetryableError}``
#: (and must have written nothing for those); the runtime dead-letters them and applies the rest.
BatchHandler = Callable[[Sequence[Message[Any]], UnitOfWork], Awaitable["Mapping[int, Exception] | None"]]


@dataclass(frozen=True)
class Poison:
    reason: str  # bounded code: invalid_envelope, validation_failed, unknown_event_type, handler_rejected, handler_error
    detail: str
    field: str | None = None


@dataclass(frozen=True)
class Ignored:
    event_type: str


@dataclass(frozen=True)
class Binding:
    """The payload model of one event type and, unless its route has a batch handler, its handler."""

    model: type[BaseModel]
    handler: Handler | None = None


@dataclass
class TopicRoute:
    """Handlers for the event types of one topic (``topic``) or of every topic matching ``pattern``."""

    bindings: dict[str, Binding]
    topic: str | None = None
    pattern: str | None = None
    #: what to do with an event type that has no binding: internal topics skip it (a consumer
    #: takes only what it needs from a shared stream); ingress topics dead-letter it — unless it
    #: is a command registered in the contract catalogue, which another service consumes from
    #: the same ingress topic (a bureau's topic carries complaints, bureau actions and penalties)
    on_unknown: Literal["ignore", "dead_letter"] = "ignore"
    #: set-based handling: when given, the route's bound messages of a batch go to this one call
    #: (the bindings then only name the models) — see `BatchHandler`
    batch: BatchHandler | None = None
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False)
    _others: frozenset[str] = field(default=frozenset(), init=False, repr=False)

    def __post_init__(self) -> None:
        if (self.topic is None) == (self.pattern is None):
            raise ValueError("a TopicRoute names exactly one of topic or pattern")
        if self.pattern is not None:
            self._regex = re.compile(self.pattern)
        if self.batch is None and any(b.handler is None for b in self.bindings.values()):
            raise ValueError("a binding without a handler needs a route with a batch handler")
        if self.on_unknown == "dead_letter":
            from shared.contracts import catalogue

            self._others = frozenset(t for t, c in catalogue().items() if c.kind == "command") - set(self.bindings)

    def skips(self, event_type: str) -> bool:
        """True for a type this route leaves to another consumer of the same topic."""
        return self.on_unknown == "ignore" or event_type in self._others

    def matches(self, topic: str) -> bool:
        if self.topic is not None:
            return topic == self.topic
        assert self._regex is not None
        return self._regex.fullmatch(topic) is not None

    @property
    def subscription_regex(self) -> str:
        return re.escape(self.topic) if self.topic is not None else f"(?:{self.pattern})"


def decode(route: TopicRoute, topic: str, key: bytes | None, headers: Any, value: bytes | None,
           timestamp_ms: int | None = None) -> Message[Any] | Poison | Ignored:
    """Headers → `Envelope` and bytes → the bound model (binary or structured CloudEvents mode);
    `timestamp_ms` (the record's Kafka time stamp) stands in for a missing ``ce_time``."""
    received_at = datetime.fromtimestamp(timestamp_ms / 1000, timezone.utc) if timestamp_ms is not None and timestamp_ms >= 0 else None
    try:
        if _content_type(headers) == STRUCTURED_CONTENT_TYPE:
            envelope, value = Envelope.from_structured(value, received_at)
        else:
            envelope = Envelope.from_headers(headers, received_at)
    except EnvelopeError as exc:
        return Poison("invalid_envelope", str(exc), exc.field)
    if topic.startswith(INGRESS_PREFIX):
        # outside producers control their headers: the actor is the client the topic belongs to
        envelope = envelope.model_copy(update={"actor": topic[len(INGRESS_PREFIX):]})
    binding = route.bindings.get(envelope.type)
    if binding is None:
        if route.skips(envelope.type):
            return Ignored(envelope.type)
        return Poison("unknown_event_type", f"type: no handler for event type {envelope.type!r} on {topic}", "type")
    if envelope.datacontenttype.split(";")[0].strip() != "application/json":
        return Poison("invalid_envelope", f"datacontenttype: expected application/json, got {envelope.datacontenttype!r}", "datacontenttype")
    if value is None:
        return Poison("validation_failed", "data: record has no value", "data")
    try:
        data = binding.model.model_validate_json(value)
    except ValidationError as exc:
        return poison_from_validation(exc)
    return Message(envelope=envelope, data=data, topic=topic, key=key.decode("utf-8", "replace") if key is not None else None)


def _content_type(headers: Any) -> str:
    for k, v in headers or ():
        if k == CONTENT_TYPE_HEADER and v:
            return v.decode("utf-8", "replace").split(";")[0].strip().lower()
    return ""


def poison_from_validation(exc: ValidationError) -> Poison:
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": str(exc), "type": "invalid"}
    field_name = ".".join(str(p) for p in first.get("loc", ())) or "data"
    detail = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ())) or 'data'}: {e.get('msg')} ({e.get('type')})" for e in errors[:10]
    )
    return Poison("validation_failed", detail, field_name)
