"""Unit of work: one Postgres transaction plus the events it will publish.

Handlers are plain ``async def handle(message, uow)``. They change state
through ``uow.conn`` and announce what happened with ``uow.emit(...)``; the
events are written to the outbox in the same transaction, so state and
events commit or vanish together.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, AsyncIterator, Callable, ClassVar, Generic, Protocol, TypeVar

import asyncpg
from pydantic import BaseModel

from shared.envelope import Envelope, new_envelope
from shared.topics import TopicSpec

T = TypeVar("T")
log = logging.getLogger(__name__)

#: the id of the HTTP request being served (set by shared.http's middleware): the command whose
#: events a `unit_of_work` opened while serving it names as their cause
CURRENT_COMMAND_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("shuangda_command_id", default=None)


class EventPayload(Protocol):
    EVENT_TYPE: ClassVar[str]

    def model_dump_json(self) -> str: ...


@dataclass(frozen=True)
class Message(Generic[T]):
    """A validated record as handlers see it: envelope attributes and payload, no Kafka headers."""

    envelope: Envelope
    data: T
    topic: str
    key: str | None


@dataclass(frozen=True)
class OutboxRow:
    event_id: str
    topic: str
    key: bytes | None
    header_keys: list[str]
    header_values: list[bytes]
    payload: bytes
    event_type: str


class UnitOfWork:
    """The connection of the open transaction and the events to emit with it."""

    def __init__(self, conn: asyncpg.Connection, *, source: str, actor: str | None = None,
                 command_id: str | None = None) -> None:
        self.conn = conn
        self.source = source
        self.actor = actor
        self.cause: Envelope | None = None
        #: the id of the outside command (an HTTP request) this transaction carries out: the
        #: causation id of the events it emits when no consumed event caused them
        self.command_id = command_id
        self.pending: list[OutboxRow] = []
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run `fn` once the transaction has committed (e.g. count a metric); never on rollback or retry."""
        self._after_commit.append(fn)

    def run_after_commit(self) -> None:
        hooks, self._after_commit = self._after_commit, []
        for fn in hooks:
            try:
                fn()
            except Exception:  # a metric hook must not undo a committed transaction's success
                log.exception("after-commit hook failed")

    def emit(
        self,
        topic: TopicSpec | str,
        data: BaseModel,
        *,
        key: str | None,
        subject: str | None = None,
        correlationid: str | None = None,
        event_id: str | None = None,
        event_type: str | None = None,
        time: datetime | None = None,
        cause: "Message[Any] | None" = None,
    ) -> Envelope:
        """Queue `data` for publication on `topic`; returns its envelope.

        The type comes from the payload class's ``EVENT_TYPE``; causation,
        correlation, trace and actor are carried over from the record being
        handled — a batch handler names that record with `cause`. Pass
        `event_id` for events that must exist once per fact.
        """
        name = topic.name if isinstance(topic, TopicSpec) else topic
        etype = event_type or getattr(type(data), "EVENT_TYPE")
        caused_by = cause.envelope if cause is not None else self.cause
        actor = cause.envelope.actor if cause is not None else self.actor
        if caused_by is not None:
            envelope = caused_by.caused(
                type=etype, source=self.source, subject=subject if subject is not None else key,
                correlationid=correlationid, actor=actor, time=time, id=event_id,
            )
        else:
            envelope = new_envelope(
                type=etype, source=self.source, subject=subject if subject is not None else key,
                correlationid=correlationid, causationid=self.command_id, actor=actor, time=time, id=event_id,
            )
        headers = envelope.to_headers()
        self.pending.append(
            OutboxRow(
                event_id=envelope.id,
                topic=name,
                key=key.encode() if key is not None else None,
                header_keys=[k for k, _ in headers],
                header_values=[v for _, v in headers],
                payload=data.model_dump_json().encode(),
                event_type=etype,
            )
        )
        return envelope

    def emit_raw(self, row: OutboxRow) -> None:
        """Queue a pre-built record (dead letters keep the original bytes and headers)."""
        self.pending.append(row)

    async def flush(self) -> int:
        """Write the queued events to the outbox (one statement); return how many."""
        if not self.pending:
            return 0
        rows = self.pending
        self.pending = []
        await self.conn.execute(
            """
            INSERT INTO outbox (event_id, topic, record_key, header_keys, header_values, payload, event_type)
            SELECT r.event_id, r.topic, r.record_key, r.header_keys::text[], r.header_values::bytea[], r.payload, r.event_type
            FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::text[], $6::bytea[], $7::text[])
                 AS r(event_id, topic, record_key, header_keys, header_values, payload, event_type)
            ON CONFLICT (event_id) DO NOTHING
            """,
            [r.event_id for r in rows],
            [r.topic for r in rows],
            [r.key for r in rows],
            [_pg_array_text(r.header_keys) for r in rows],
            [_pg_bytea_array_text(r.header_values) for r in rows],
            [r.payload for r in rows],
            [r.event_type for r in rows],
        )
        return len(rows)


def _pg_array_text(items: list[str]) -> str:
    return "{" + ",".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items) + "}"


def _pg_bytea_array_text(items: list[bytes]) -> str:
    return "{" + ",".join('"\\\\x' + i.hex() + '"' for i in items) + "}"


@contextlib.asynccontextmanager
async def unit_of_work(pool: asyncpg.Pool, *, source: str, actor: str | None = None,
                       command_id: str | None = None) -> AsyncIterator[UnitOfWork]:
    """A transaction outside a consumer (e.g. an HTTP request): commit flushes the outbox.

    Every event it emits names the command as its cause (``causationid``): `command_id`, or else
    the HTTP request being served (its id is the response's ``x-request-id``); a background job's
    events have no cause."""
    async with pool.acquire() as conn:
        async with conn.transaction():
            uow = UnitOfWork(conn, source=source, actor=actor, command_id=command_id or CURRENT_COMMAND_ID.get())
            yield uow
            await uow.flush()
    uow.run_after_commit()
