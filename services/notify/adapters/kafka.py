"""Kafka → notify's use case: the routes notify's consumer subscribes to, and the
translation of each consumed record (already validated into its contract model by
the shared consumer) into what `app.notices` takes — the notice it makes
(domain.notices) and the complainant it brings. A refusal goes back to the
consumer as a non-retryable error, which dead-letters that record alone."""
from __future__ import annotations

from typing import Mapping, Sequence

from pydantic import BaseModel

from services.notify.app.notices import Consumed, NoticePlanner
from services.notify.domain.notices import RULES, NoticeRule, notice_for
from services.notify.domain.planning import Complainant, complainant_id
from shared.contracts.cases import CaseComplainantCorrected
from shared.runtime import Message, NonRetryableError, UnitOfWork
from shared.runtime.routes import Binding, TopicRoute

#: the contract families notify consumes (shared.contracts.<family>), each from its own topic
FAMILIES = ("cases", "routing", "referral", "alerts", "credit")


def consumed(message: Message[BaseModel]) -> Consumed:
    """One record as the use case sees it."""
    envelope = message.envelope
    if isinstance(message.data, CaseComplainantCorrected):  # nobody is told; later texts go to the new number
        event = message.data
        return Consumed(None, corrected=(event.case_id, Complainant(complainant_id(event.phone), event.phone,
                                                                    event.tracking_no)))
    notice = notice_for(envelope.id, envelope.time, message.data, correlation_id=envelope.correlationid)
    return Consumed(notice, complainant_of(message.data) if notice is not None else None)


def complainant_of(event: BaseModel) -> Complainant | None:
    """The complainant an intake event brings (its sealed phone), if any."""
    person = getattr(event, "complainant", None)
    phone = getattr(person, "phone", None) if person is not None else None
    if phone is None:
        return None
    return Complainant(complainant_id(phone), phone, getattr(event, "tracking_no", None))


def routes(planner: NoticePlanner, topics: Mapping[str, str]) -> list[TopicRoute]:
    """One route per consumed topic; `topics` maps a contract family (`FAMILIES`) to its configured topic
    name. Types without a notice rule are skipped."""

    async def batch(messages: Sequence[Message[BaseModel]], uow: UnitOfWork) -> dict[int, NonRetryableError]:
        refused = await planner.record([consumed(m) for m in messages], uow)
        return {i: NonRetryableError("template_error", detail, field="type") for i, detail in refused.items()}

    by_topic: dict[str, dict[str, Binding]] = {}
    for rule in RULES.values():
        topic = topics.get(family(rule))
        if topic is not None:
            by_topic.setdefault(topic, {})[rule.event_type] = Binding(rule.model)
    if topics.get("cases") is not None:  # no notice of its own: it changes where complainants' texts go
        by_topic.setdefault(topics["cases"], {})[CaseComplainantCorrected.EVENT_TYPE] = Binding(CaseComplainantCorrected)
    return [TopicRoute(topic=t, bindings=b, on_unknown="ignore", batch=batch) for t, b in sorted(by_topic.items())]


def family(rule: NoticeRule) -> str:
    """The contract family of a rule's event model: shared.contracts.routing → "routing"."""
    return rule.model.__module__.rsplit(".", 1)[-1]
