"""Kafka ingress: complaints and leads that outside systems publish on their
own ``ingress.<client>`` topic.

The topic names the actor — a consumer cannot see who produced a record, and
ACLs let only the client's principal write its topic — so the client id is
the topic's suffix, never a field of the payload or the record's ``actor``
header. A record on the topic of an unknown or revoked client, one its client
may not send (scope), or one that fails validation goes to the DLQ with the
reason (`NonRetryableError`).

A consumer batch's records are validated one by one but registered together
(`Registrar.register_many`), so a batch costs a constant number of round trips.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

from pydantic import RootModel

from services.intake.adapters.postgres import Client, ClientDirectory
from shared.clock import Clock
from services.intake.domain.errors import IntakeValidationError, metric_field
from services.intake.domain.model import ClientContext, Report
from services.intake.domain.validation import channel_for, validate_complaint, validate_lead
from services.intake.metrics import CASES, REJECTED
from services.intake.registration import Registrar
from shared.contracts import catalogue
from shared.contracts.intake import SubmitComplaint, SubmitLead
from shared.metrics import VALIDATION_FAILURES
from shared.runtime import Message, NonRetryableError, UnitOfWork
from shared.runtime.routes import Binding, TopicRoute

INGRESS_PREFIX = "ingress."


def client_of_topic(topic: str) -> str:
    if not topic.startswith(INGRESS_PREFIX) or topic.endswith(".dlq"):
        raise NonRetryableError("unknown_client", f"unknown_client: {topic} is not an ingress topic", field="topic")
    return topic[len(INGRESS_PREFIX):]


class IngressHandlers:
    def __init__(self, *, clients: ClientDirectory, registrar: Registrar, clock: Clock) -> None:
        self.clients = clients
        self.registrar = registrar
        self.clock = clock

    async def handle_batch(self, messages: Sequence[Message[Any]], uow: UnitOfWork) -> dict[int, Exception]:
        """Every new ingress record of a consumer batch, in partition-then-offset order: look up the
        topics' clients (cached), validate each record on its own (refusals are returned, and
        dead-lettered by the runtime), register the valid ones in one set-based step. Metrics are
        counted once the batch commits."""
        now = self.clock.now()
        wanted = {client_of_topic(m.topic) for m in messages if isinstance(m.data, OURS) and _is_ingress(m.topic)}
        clients = await self.clients.by_ids(sorted(wanted)) if wanted else {}
        refused: dict[int, Exception] = {}
        rejected: list[str] = []
        failures: list[tuple[str, str]] = []
        valid: list[tuple[Message[Any], Report]] = []
        for index, message in enumerate(messages):
            data = message.data
            if not isinstance(data, OURS):
                continue  # another service's command on a shared ingress topic (a `NotOurs`)
            try:
                if isinstance(data, SubmitLead):
                    client = self._client(message, "leads:write", clients, rejected)
                    report = self._validated(validate_lead, data, client, now, rejected, failures)
                else:
                    client = self._client(message, "complaints:write", clients, rejected)
                    report = self._validated(validate_complaint, data, client, now, rejected, failures)
            except NonRetryableError as exc:
                refused[index] = exc
                continue
            valid.append((message, report))
        receipts = await self.registrar.register_many(uow, [r for _, r in valid], now, causes=[m for m, _ in valid])
        outcomes = [(receipt.outcome, report.channel) for receipt, (_, report) in zip(receipts, valid)]

        def count() -> None:
            for outcome, channel in outcomes:
                CASES.labels(outcome, channel).inc()
            for reason in rejected:
                REJECTED.labels("kafka", reason).inc()
            for field_label, reason in failures:
                VALIDATION_FAILURES.labels("intake", field_label, reason).inc()

        uow.after_commit(count)
        return refused

    @staticmethod
    def _client(message: Message[Any], scope: str, clients: Mapping[str, Client | None], rejected: list[str]) -> ClientContext:
        client_id = client_of_topic(message.topic)
        client = clients.get(client_id)
        if client is None:
            rejected.append("unknown_client")
            raise NonRetryableError("unknown_client", f"unknown_client: no registered client {client_id!r} for {message.topic}",
                                    field="topic")
        if not client.active:
            rejected.append("client_revoked")
            raise NonRetryableError("client_revoked", f"client_revoked: client {client_id!r} was revoked", field="topic")
        if scope not in client.scopes:
            rejected.append("forbidden")
            raise NonRetryableError("forbidden", f"forbidden: client {client_id!r} lacks the scope {scope}", field="type")
        return ClientContext(client.client_id, client.kind)

    @staticmethod
    def _validated(validate: Callable[..., Report], command: Any, client: ClientContext, now: datetime,
                   rejected: list[str], failures: list[tuple[str, str]]) -> Report:
        try:
            return validate(command, client=client, channel=channel_for(client, "kafka"), now=now)
        except IntakeValidationError as exc:
            failures.extend((metric_field(e), e.reason) for e in exc.errors)
            rejected.append("validation_failed")
            detail = "; ".join(f"{e.field}: {e.detail} ({e.reason})" for e in exc.errors[:20])
            raise NonRetryableError("validation_failed", detail, field=exc.first_field) from None

    def route(self, pattern: str) -> TopicRoute:
        """Every ingress topic matching `pattern`, handled a batch at a time (`handle_batch`).

        Bureau ingress topics also carry commands for other services (routing's bureau
        actions, credit's penalty decisions): those catalogue types are bound to `NotOurs`
        and passed over — their own service validates them and dead-letters what it cannot
        apply. Any other type is dead-lettered (``unknown_event_type``)."""
        bindings: dict[str, Binding] = {
            SubmitComplaint.EVENT_TYPE: Binding(SubmitComplaint),
            SubmitLead.EVENT_TYPE: Binding(SubmitLead),
        }
        for etype in foreign_ingress_types(set(bindings)):
            bindings[etype] = Binding(NotOurs)
        return TopicRoute(pattern=pattern, bindings=bindings, on_unknown="dead_letter", batch=self.handle_batch)


OURS = (SubmitComplaint, SubmitLead)


def _is_ingress(topic: str) -> bool:
    return topic.startswith(INGRESS_PREFIX) and not topic.endswith(".dlq")


class NotOurs(RootModel[Any]):
    """Any JSON: a command for another service, which intake does not look into."""


def foreign_ingress_types(ours: set[str]) -> list[str]:
    """The catalogue's commands for other services on ``ingress.<…>`` topics."""
    return sorted(etype for etype, c in catalogue().items()
                  if c.topic.startswith("ingress.") and c.kind == "command" and etype not in ours)
