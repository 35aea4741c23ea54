"""Inspection's one route: credit's `entity-registered` events (credit.records) into its copy of the
registry (`registry`), effectively once through the inbox, one statement per batch; the highest
version of a code wins, so a replayed or reordered event never moves a registration back. The
other credit events are not inspection's and are skipped."""
from __future__ import annotations

from typing import Any, Sequence

from shared.contracts.credit import EntityRegistered
from shared.runtime import Message, UnitOfWork
from shared.runtime.routes import Binding, TopicRoute

from services.inspection.adapters import postgres as db


def registrations(topic: str) -> TopicRoute:
    async def batch(messages: Sequence[Message[Any]], uow: UnitOfWork) -> dict[int, Exception]:
        latest: dict[str, EntityRegistered] = {}
        for m in messages:
            e: EntityRegistered = m.data
            if e.credit_code not in latest or e.version > latest[e.credit_code].version:
                latest[e.credit_code] = e
        await db.save_registrations(uow.conn, list(latest.values()))
        return {}

    return TopicRoute(topic=topic, on_unknown="ignore", batch=batch,
                      bindings={EntityRegistered.EVENT_TYPE: Binding(EntityRegistered)})
