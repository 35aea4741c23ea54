"""Error classes the runtime understands."""
from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError

from shared.db import TRANSIENT_ERRORS as DB_TRANSIENT


class NonRetryableError(Exception):
    """Raised by a handler for a record that can never be applied: it goes to the DLQ.

    `reason` is a short, bounded machine code (it becomes a metric label);
    `field` names the offending field when there is one.
    """

    def __init__(self, reason: str, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.field = field


KAFKA_TRANSIENT: tuple[type[BaseException], ...] = (
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RequestTimedOutError,
)

TRANSIENT: tuple[type[BaseException], ...] = DB_TRANSIENT + KAFKA_TRANSIENT


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TRANSIENT):
        return True
    if isinstance(exc, KafkaError) and getattr(exc, "retriable", False):
        return True
    # asyncpg reports "the database system is shutting down/starting up" as PostgresError subclasses
    if isinstance(exc, asyncpg.PostgresError) and getattr(exc, "sqlstate", "") in {"57P01", "57P02", "57P03", "08006", "08003", "08001", "40001", "40P01", "53300"}:
        return True
    return False
