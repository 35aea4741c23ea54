"""The effectively-once runtime (DESIGN.md "Processing guarantee").

- `consumer.EventConsumer`: batch consume → one Postgres transaction (inbox
  dedupe + handlers + outbox) → commit → offset commit; transient faults
  retried in place, poison records dead-lettered without blocking.
- `uow.UnitOfWork`: what a handler gets: the transaction's connection and
  `emit()`, which writes to the outbox.
- `relay.OutboxRelay`: publishes outbox rows (LISTEN/NOTIFY + slow poll),
  one leader per service (advisory lock), acks=all, idempotent producer.
- `dlq`: reading and replaying dead letters.
"""
from shared.runtime.errors import NonRetryableError
from shared.runtime.uow import Message, UnitOfWork, unit_of_work

__all__ = ["Message", "NonRetryableError", "UnitOfWork", "unit_of_work"]
