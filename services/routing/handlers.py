"""The consumer routes: set-based handlers, one call per route per consumer batch.

- ``case.opened`` / ``case.merged`` from intake (`settings.intake_topic`): one
  `Router.intake_batch` call for the whole batch (a constant number of round
  trips, whatever its size); a ``case.merged`` of a case never opened is refused
  (dead-lettered with ``unknown_case``) without holding back the others;
- bureau commands on ``ingress.<bureau_type>-<jurisdiction>``: the acting bureau
  is the one the topic names (only its principal may write there), never the
  payload nor the producer's ``actor`` header. Commands are applied one after
  the other inside the batch call (they are few, and each may depend on the one
  before: a transfer then the new assignee's acknowledgement), each with the
  record as its cause.

A bureau's ingress topic also carries commands for other services (complaints
for intake, penalty decisions for credit): routing passes over the command
types the contract catalogue gives to another service and dead-letters any
type nobody knows.
"""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from shared.contracts import catalogue
from shared.contracts.bureau_actions import COMMANDS, BureauCommand
from shared.contracts.cases import CaseMerged, CaseOpened
from shared.runtime import Message, NonRetryableError, UnitOfWork
from shared.runtime.routes import Binding, TopicRoute
from services.routing.core import Router
from services.routing.domain.bureaus import Bureau


def make_batch_handlers(router: Router, ingress_pattern: str) -> dict[str, Any]:
    topic_re = re.compile(ingress_pattern)
    foreign = frozenset(foreign_ingress_commands())

    async def handle_intake(messages: Sequence[Message[CaseOpened | CaseMerged]], uow: UnitOfWork) -> Mapping[int, Exception]:
        return await router.intake_batch(uow, messages)

    async def handle_ingress(messages: Sequence[Message[Any]], uow: UnitOfWork) -> Mapping[int, Exception]:
        refused: dict[int, Exception] = {}
        try:
            for i, message in enumerate(messages):
                if message.envelope.type in foreign:
                    continue  # another service's command on a bureau's ingress topic: not routing's to apply
                m = topic_re.fullmatch(message.topic)
                bureau = Bureau.from_client_id(m.group("client")) if m else None
                if bureau is None:
                    refused[i] = NonRetryableError("unknown_actor", f"topic: {message.topic} does not name a bureau",
                                                   field="topic")
                    continue
                # the events name this record as their cause and the topic's bureau as their actor
                uow.cause, uow.actor = message.envelope, str(bureau)
                await router.execute(uow, str(bureau), message.data, message.envelope.id)
        finally:
            uow.cause, uow.actor = None, None
        return refused

    return {"intake": handle_intake, "ingress": handle_ingress}


class _Opaque(BaseModel):
    """Any JSON object: another service validates its own commands."""

    model_config = ConfigDict(extra="allow")


def foreign_ingress_commands() -> list[str]:
    """Command types other services take from ``ingress.<client>`` topics (from the contract catalogue)."""
    ours = {cmd.EVENT_TYPE for cmd in COMMANDS}
    return sorted(t for t, c in catalogue().items()
                  if c.kind == "command" and c.topic.startswith("ingress.") and t not in ours)


def routes(router: Router, *, intake_topic: str, ingress_pattern: str) -> list[TopicRoute]:
    h = make_batch_handlers(router, ingress_pattern)
    return [
        TopicRoute(
            topic=intake_topic,
            bindings={CaseOpened.EVENT_TYPE: Binding(CaseOpened), CaseMerged.EVENT_TYPE: Binding(CaseMerged)},
            on_unknown="ignore",
            batch=h["intake"],
        ),
        TopicRoute(
            pattern=ingress_pattern,
            bindings={
                **{t: Binding(_Opaque) for t in foreign_ingress_commands()},
                **{cmd.EVENT_TYPE: Binding(cmd) for cmd in COMMANDS},
            },
            on_unknown="dead_letter",
            batch=h["ingress"],
        ),
    ]
