"""Kafka ingress: complaints and leads that outside systems publish on their
own ``ingress.<client>`` topic.

The topic names the actor — a consumer cannot see who produced a record, and
ACLs let only the client's principal write its topic — so the client id is
the topic's suffix, never a field of the payload or the record's ``actor``
header. A record on the topic of an unknown or revoked client, one its client
may not send (scope), or one that fails validation goes to the DLQ with the
reason (`NonRetryableError`).
"""
from __future__ import annotations

from typing import Any

from pydantic import RootModel

from services.intake.adapters.postgres import ClientDirectory
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

    async def _client(self, message: Message, scope: str) -> ClientContext:
        client_id = client_of_topic(message.topic)
        client = await self.clients.by_id(client_id)
        if client is None:
            self._reject("unknown_client")
            raise NonRetryableError("unknown_client", f"unknown_client: no registered client {client_id!r} for {message.topic}",
                                    field="topic")
        if not client.active:
            self._reject("client_revoked")
            raise NonRetryableError("client_revoked", f"client_revoked: client {client_id!r} was revoked", field="topic")
        if scope not in client.scopes:
            self._reject("forbidden")
            raise NonRetryableError("forbidden", f"forbidden: client {client_id!r} lacks the scope {scope}", field="type")
        return ClientContext(client.client_id, client.kind)

    @staticmethod
    def _reject(reason: str) -> None:
        REJECTED.labels("kafka", reason).inc()

    def _invalid(self, exc: IntakeValidationError) -> NonRetryableError:
        for error in exc.errors:
            VALIDATION_FAILURES.labels("intake", metric_field(error), error.reason).inc()
        self._reject("validation_failed")
        detail = "; ".join(f"{e.field}: {e.detail} ({e.reason})" for e in exc.errors[:20])
        return NonRetryableError("validation_failed", detail, field=exc.first_field)

    async def _register(self, uow: UnitOfWork, client: ClientContext, report: Report) -> None:
        uow.actor = client.client_id  # the actor is the topic's client, whatever the record's headers say
        receipt = await self.registrar.register(uow, report, self.clock.now())
        CASES.labels(receipt.outcome, report.channel).inc()

    async def handle_complaint(self, message: Message[SubmitComplaint], uow: UnitOfWork) -> None:
        client = await self._client(message, "complaints:write")
        try:
            report = validate_complaint(message.data, client=client, channel=channel_for(client, "kafka"), now=self.clock.now())
        except IntakeValidationError as exc:
            raise self._invalid(exc) from None
        await self._register(uow, client, report)

    async def handle_lead(self, message: Message[SubmitLead], uow: UnitOfWork) -> None:
        client = await self._client(message, "leads:write")
        try:
            report = validate_lead(message.data, client=client, channel=channel_for(client, "kafka"), now=self.clock.now())
        except IntakeValidationError as exc:
            raise self._invalid(exc) from None
        await self._register(uow, client, report)

    def route(self, pattern: str) -> TopicRoute:
        """Every ingress topic matching `pattern`.

        Bureau ingress topics also carry commands for other services (routing's bureau
        actions, credit's penalty decisions): those catalogue types are skipped here —
        their own service validates them and dead-letters what it cannot apply. Any other
        type is dead-lettered (``unknown_event_type``)."""
        bindings: dict[str, Binding] = {
            SubmitComplaint.EVENT_TYPE: Binding(SubmitComplaint, self.handle_complaint),
            SubmitLead.EVENT_TYPE: Binding(SubmitLead, self.handle_lead),
        }
        for etype in foreign_ingress_types(set(bindings)):
            bindings[etype] = Binding(NotOurs, skip)
        return TopicRoute(pattern=pattern, bindings=bindings, on_unknown="dead_letter")


class NotOurs(RootModel[Any]):
    """Any JSON: a command for another service, which intake does not look into."""


async def skip(message: Message[NotOurs], uow: UnitOfWork) -> None:
    """Another service's command on a shared ingress topic: nothing for intake to do."""


def foreign_ingress_types(ours: set[str]) -> list[str]:
    """The catalogue's commands for other services on ``ingress.<…>`` topics."""
    return sorted(etype for etype, c in catalogue().items()
                  if c.topic.startswith("ingress.") and c.kind == "command" and etype not in ours)
