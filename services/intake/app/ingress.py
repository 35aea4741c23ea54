"""Complaints and leads from outside systems' Kafka ingress topics: a consumer batch's
submissions are validated one by one (a refusal names the field) and the valid ones are
registered together (`Registrar.register_many`), so a batch costs a constant number of
round trips. Metrics count only once the batch has committed."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from services.intake.app.registration import Registrar
from services.intake.domain.errors import IntakeValidationError, metric_field
from services.intake.domain.model import ClientContext, Report
from services.intake.domain.validation import channel_for, validate_complaint, validate_lead
from services.intake.metrics import CASES, REJECTED
from shared.contracts.intake import SubmitComplaint, SubmitLead
from shared.metrics import VALIDATION_FAILURES
from shared.runtime import Message, NonRetryableError, UnitOfWork


@dataclass(frozen=True)
class Submission:
    """One record's command, from the client that owns the topic it arrived on."""

    index: int  # its place in the consumer batch
    command: SubmitComplaint | SubmitLead
    client: ClientContext
    cause: Message[Any]


@dataclass
class Ingress:
    registrar: Registrar

    async def register(self, uow: UnitOfWork, submissions: Sequence[Submission], now: datetime) -> dict[int, Exception]:
        """Validate each submission, register the valid ones in one step; returns the refused ones by index."""
        refused: dict[int, Exception] = {}
        failures: list[tuple[str, str]] = []
        valid: list[tuple[Submission, Report]] = []
        for s in submissions:
            validate = validate_lead if isinstance(s.command, SubmitLead) else validate_complaint
            try:
                report = validate(s.command, client=s.client, channel=channel_for(s.client, "kafka"), now=now)
            except IntakeValidationError as exc:
                failures.extend((metric_field(e), e.reason) for e in exc.errors)
                detail = "; ".join(f"{e.field}: {e.detail} ({e.reason})" for e in exc.errors[:20])
                refused[s.index] = NonRetryableError("validation_failed", detail, field=exc.first_field)
                continue
            valid.append((s, report))
        receipts = await self.registrar.register_many(uow, [r for _, r in valid], now, causes=[s.cause for s, _ in valid])
        outcomes = [(receipt.outcome, report.channel) for receipt, (_, report) in zip(receipts, valid)]

        def count() -> None:
            for outcome, channel in outcomes:
                CASES.labels(outcome, channel).inc()
            for field_label, reason in failures:
                VALIDATION_FAILURES.labels("intake", field_label, reason).inc()
            if refused:
                REJECTED.labels("kafka", "validation_failed").inc(len(refused))

        uow.after_commit(count)
        return refused
