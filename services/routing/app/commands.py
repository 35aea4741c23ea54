"""A bureau's commands, the use case behind both ways a bureau acts.

- from its ingress topic (`apply_in_order`): the acting bureau is the one the topic names
  (the Kafka adapter has read it from the topic, never from the payload nor the producer's
  ``actor`` header); commands are applied one after the other inside the consumer's batch
  (each may depend on the one before: a transfer, then the new assignee's acknowledgement),
  each with its record as the cause of the events it makes;
- from the HTTP API (`answer`): one command in one transaction, once per Idempotency-Key
  (`shared.idempotency`, bound to the caller and to method, path and body), its refusal
  given as a status and problem body that the replay gives again.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from shared.contracts.bureau_actions import BureauCommand
from shared.envelope import Envelope
from shared.runtime import UnitOfWork

from services.routing.app.router import Router
from services.routing.domain.case import Effects

#: refusals that must not reveal whether the case exists or what state it is in
HIDDEN = frozenset({"unknown_case", "not_assignee", "not_police_of_referral"})
REFUSED = "https://shuangda.example/problems/command-refused"


@dataclass(frozen=True)
class Received:
    """One command from a bureau's ingress topic: who acts (from the topic), what, and its record."""

    bureau: str
    command: BureauCommand
    envelope: Envelope


async def apply_in_order(router: Router, uow: UnitOfWork, received: Sequence[Received]) -> None:
    """The batch's commands in order, in a constant number of round trips (`Router.execute_batch`)."""
    if received:
        await router.execute_batch(uow, [(r.bureau, r.command, r.envelope) for r in received])


def answer(bureau: str, command: BureauCommand, fx: Effects) -> tuple[int, dict[str, Any]]:
    """The HTTP status and body of a command's effects: 200 with the events it caused, 404 for a
    case the caller may not act on (exactly as for one that does not exist), 409 otherwise."""
    if fx.refusal is not None:
        r = fx.refusal
        if r.reason in HIDDEN:
            return 404, {"type": REFUSED, "title": "Not found", "status": 404,
                         "detail": f"no case {command.case_id!r} for {bureau}", "reason": r.reason, "command": r.command}
        return 409, {"type": REFUSED, "title": "Command refused", "status": 409, "detail": r.detail,
                     "reason": r.reason, "command": r.command}
    return 200, {
        "case_id": command.case_id, "status": "done",
        "events": [e.payload.EVENT_TYPE for e in fx.emissions],  # type: ignore[attr-defined]
        "state": fx.case.state if fx.case is not None else None,
        "referral_state": fx.referral.state if fx.referral is not None else None,
    }
