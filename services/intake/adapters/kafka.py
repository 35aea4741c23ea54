"""Kafka ingress: complaints and leads that outside systems publish on their
own ``ingress.<client>`` topic, translated at the edge into the `app.ingress` use case.

The topic names the actor — a consumer cannot see who produced a record, and
ACLs let only the client's principal write its topic — so the client is the
topic's owner (the runtime already stamps the topic's suffix as the record's
actor), never a field of the payload or the record's ``actor`` header. A record
on the topic of an unknown or revoked client, or one its client may not send
(scope), goes to the DLQ with the reason (`NonRetryableError`); so does one
that fails validation (`app.ingress`).

Other services' commands on a shared bureau ingress topic are skipped by the
runtime (`TopicRoute(on_unknown="dead_letter")` passes over the catalogue's
commands it has no binding for); anything else unknown is dead-lettered.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from services.intake.adapters.identity import client_context, owner_ids
from services.intake.app.ingress import Ingress, Submission
from services.intake.domain.model import ClientContext
from shared.identity.model import Principal
from shared.identity.store import IdentityDirectory, principal_by_id
from services.intake.metrics import REJECTED
from shared.clock import Clock
from shared.contracts.intake import SubmitComplaint, SubmitLead
from shared.runtime import Message, NonRetryableError, UnitOfWork
from shared.runtime.routes import Binding, TopicRoute

#: the scope each command needs
SCOPE = {SubmitComplaint: "complaints:write", SubmitLead: "leads:write"}


class IngressRoutes:
    def __init__(self, *, directory: IdentityDirectory, ingress: Ingress, clock: Clock) -> None:
        self.directory = directory
        self.ingress = ingress
        self.clock = clock

    def route(self, pattern: str) -> TopicRoute:
        """Every ingress topic matching `pattern`, handled a batch at a time (`handle_batch`)."""
        return TopicRoute(pattern=pattern, on_unknown="dead_letter", batch=self.handle_batch, bindings={
            SubmitComplaint.EVENT_TYPE: Binding(SubmitComplaint), SubmitLead.EVENT_TYPE: Binding(SubmitLead)})

    async def handle_batch(self, messages: Sequence[Message[Any]], uow: UnitOfWork) -> dict[int, Exception]:
        """Look the topics' owners up (cached), refuse what they may not send, and hand the rest
        to `Ingress.register` in one call."""
        now = self.clock.now()
        owners = {client: await self.owner(client) for client in sorted({_client_of(m) for m in messages})}
        refused: dict[int, Exception] = {}
        rejected: list[str] = []
        submissions: list[Submission] = []
        for index, message in enumerate(messages):
            try:
                client = _authorised(message, owners)
            except NonRetryableError as exc:
                refused[index] = exc
                rejected.append(exc.reason)
                continue
            submissions.append(Submission(index, message.data, client, message))
        refused.update(await self.ingress.register(uow, submissions, now))

        def count() -> None:
            for reason in rejected:
                REJECTED.labels("kafka", reason).inc()

        uow.after_commit(count)
        return refused


    async def owner(self, client: str) -> Principal | NonRetryableError:
        """The active principal owning ``ingress.<client>`` (cached by the directory), or why there is none."""
        for principal_id in owner_ids(client):
            principal = await self.directory.principal(principal_id)
            if principal is not None:
                return principal
        # the refusal path only: tell a revoked owner from none, for the dead letter's reason
        for principal_id in owner_ids(client):
            known = await principal_by_id(self.directory.pool, principal_id)
            if known is not None:
                return NonRetryableError("client_revoked", f"client_revoked: client {principal_id!r} was revoked",
                                         field="topic")
        return NonRetryableError("unknown_client", f"unknown_client: no registered client {client!r} for ingress.{client}",
                                 field="topic")


def _client_of(message: Message[Any]) -> str:
    """The topic's client: the runtime set the record's actor to the ``ingress.<client>`` suffix."""
    return message.envelope.actor or ""


def _authorised(message: Message[Any], owners: Mapping[str, Principal | NonRetryableError]) -> ClientContext:
    owner = owners[_client_of(message)]
    if isinstance(owner, NonRetryableError):
        raise owner
    scope = SCOPE[type(message.data)]
    if not owner.can(scope):
        raise NonRetryableError("forbidden", f"forbidden: client {owner.principal_id!r} lacks the scope {scope}",
                                field="type")
    return client_context(owner)


def assignee_route(topic: str) -> TopicRoute:
    """Routing's case events → each case's progress as intake needs it: the current assignee
    (``case.assigned``: first assignment, transfer, escalation; the highest assignment number wins,
    so a replay never moves a case back), whom its evidence files are shown to; and whether it is
    closed (``case.outcome-recorded``, a refusal in ``case.acknowledged``; ``case.reopened`` opens it
    again), which opens the satisfaction survey. Two statements per batch; other events are skipped."""
    from services.intake.adapters import postgres_attachments as sql
    from shared.contracts.routing import CaseAcknowledged, CaseAssigned, CaseOutcomeRecorded, CaseReopened

    async def batch(messages: Sequence[Message[Any]], uow: UnitOfWork) -> dict[int, Exception]:
        known = await sql.progress_of(uow.conn, sorted({m.data.case_id for m in messages}))
        changed: dict[str, dict[str, Any]] = {}
        for m in messages:
            e = m.data
            row = known.get(e.case_id)
            if isinstance(e, CaseAssigned):
                if row is None or e.assignment_no > row["assignment_no"]:
                    row = {**(row or {"closed_at": None, "outcome": None}), "case_id": e.case_id, "bureau": e.bureau,
                           "assignment_no": e.assignment_no, "assigned_at": e.assigned_at}
            elif row is None:  # closed before intake saw it assigned: cannot happen in one partition's order
                continue
            elif isinstance(e, CaseOutcomeRecorded):
                row = {**row, "closed_at": e.recorded_at, "outcome": e.outcome}
            elif isinstance(e, CaseAcknowledged):
                if e.decision == "refuse":
                    row = {**row, "closed_at": e.acknowledged_at, "outcome": "not_accepted"}
            elif isinstance(e, CaseReopened):
                row = {**row, "closed_at": None, "outcome": None}
            known[e.case_id] = changed[e.case_id] = row
        await sql.save_progress(uow.conn, list(changed.values()))
        return {}

    return TopicRoute(topic=topic, on_unknown="ignore", batch=batch, bindings={
        t.EVENT_TYPE: Binding(t) for t in (CaseAssigned, CaseOutcomeRecorded, CaseAcknowledged, CaseReopened)})
