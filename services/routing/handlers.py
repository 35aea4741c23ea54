"""Kafka handlers (``async def (message, uow)``) and the consumer routes.

- ``case.opened`` / ``case.merged`` from intake (`settings.intake_topic`);
- bureau commands on ``ingress.<bureau_type>-<jurisdiction>``: the acting bureau
  is the one the topic names (only its principal may write there), never the
  payload nor the producer's ``actor`` header.

A bureau's ingress topic also carries commands for other services (complaints
for intake, penalty decisions for credit): routing passes over the command
types the contract catalogue gives to another service and dead-letters any
type nobody knows.
"""
from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.contracts import catalogue
from shared.contracts.bureau_actions import COMMANDS, BureauCommand
from shared.contracts.cases import CaseMerged, CaseOpened
from shared.runtime import Message, NonRetryableError, UnitOfWork
from shared.runtime.routes import Binding, TopicRoute
from services.routing.core import Router
from services.routing.domain.bureaus import Bureau


def make_handlers(router: Router, ingress_pattern: str) -> dict[str, Any]:
    topic_re = re.compile(ingress_pattern)

    async def handle_case_opened(message: Message[CaseOpened], uow: UnitOfWork) -> None:
        await router.case_opened(uow, message.data)

    async def handle_case_merged(message: Message[CaseMerged], uow: UnitOfWork) -> None:
        await router.case_merged(uow, message.data)

    async def handle_bureau_command(message: Message[BureauCommand], uow: UnitOfWork) -> None:
        m = topic_re.fullmatch(message.topic)
        bureau = Bureau.from_client_id(m.group("client")) if m else None
        if bureau is None:
            raise NonRetryableError("unknown_actor", f"topic: {message.topic} does not name a bureau", field="topic")
        uow.actor = str(bureau)
        await router.execute(uow, str(bureau), message.data, message.envelope.id)

    async def handle_elsewhere(message: Message[Any], uow: UnitOfWork) -> None:
        """Another service's command on a bureau's ingress topic: not routing's to apply."""

    return {"case_opened": handle_case_opened, "case_merged": handle_case_merged, "bureau_command": handle_bureau_command,
            "elsewhere": handle_elsewhere}


class _Opaque(BaseModel):
    """Any JSON object: another service validates its own commands."""

    model_config = ConfigDict(extra="allow")


def foreign_ingress_commands() -> list[str]:
    """Command types other services take from ``ingress.<client>`` topics (from the contract catalogue)."""
    ours = {cmd.EVENT_TYPE for cmd in COMMANDS}
    return sorted(t for t, c in catalogue().items()
                  if c.kind == "command" and c.topic.startswith("ingress.") and t not in ours)


def routes(router: Router, *, intake_topic: str, ingress_pattern: str) -> list[TopicRoute]:
    h = make_handlers(router, ingress_pattern)
    return [
        TopicRoute(
            topic=intake_topic,
            bindings={
                CaseOpened.EVENT_TYPE: Binding(CaseOpened, h["case_opened"]),
                CaseMerged.EVENT_TYPE: Binding(CaseMerged, h["case_merged"]),
            },
            on_unknown="ignore",
        ),
        TopicRoute(
            pattern=ingress_pattern,
            bindings={
                **{t: Binding(_Opaque, h["elsewhere"]) for t in foreign_ingress_commands()},
                **{cmd.EVENT_TYPE: Binding(cmd, h["bureau_command"]) for cmd in COMMANDS},
            },
            on_unknown="dead_letter",
        ),
    ]
