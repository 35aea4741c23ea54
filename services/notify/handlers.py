"""Consumed events → deliveries, in the consumer's transaction.

For each event notify tells anyone about, the handler works out the notice
(domain.notices), keeps the complainant an intake event brings (sealed phone
only), plans the deliveries against the directory in force, renders them,
and inserts one row per (event, recipient, channel) — ``ON CONFLICT DO
NOTHING`` — or a digest item. The rows commit with the inbox entry, so a
consumed event cannot lose its notices and a redelivered one adds none.
"""
from __future__ import annotations

import logging
from typing import Protocol

from pydantic import BaseModel

from services.notify.adapters import postgres as repo
from services.notify.domain.directory import Directory
from services.notify.domain.notices import RULES, NoticeRule, notice_for
from services.notify.domain.planning import Complainant, Render, complainant_id, plan
from services.notify.domain.policy import RetryPolicy
from services.notify.metrics import NOTICES
from services.notify.rendering import TemplateError
from shared.runtime import Message, NonRetryableError, UnitOfWork
from shared.runtime.routes import Binding, TopicRoute

log = logging.getLogger(__name__)


class DirectorySource(Protocol):
    @property
    def current(self) -> Directory: ...


class NoticeHandlers:
    def __init__(self, *, directory: DirectorySource, render: Render, policy: RetryPolicy) -> None:
        self.directory = directory
        self.render = render
        self.policy = policy

    async def handle(self, message: Message[BaseModel], uow: UnitOfWork) -> None:
        event = message.data
        notice = notice_for(message.envelope.id, message.envelope.time, event, correlation_id=message.envelope.correlationid)
        if notice is None:
            return
        conn = uow.conn
        own = self._complainant_of(event)
        if own is not None and notice.case_id:
            await repo.save_complainant(conn, notice.case_id, own, message.envelope.id)
        complainants: list[Complainant] = []
        directory = self.directory.current
        if notice.complainants != "none" and directory.complainants_subscribe(notice.event_type):
            if notice.complainants == "event":
                complainants = [own] if own is not None else []
            elif notice.case_id:
                complainants = await repo.complainants_of(conn, notice.case_id)
        try:
            planned = plan(notice, directory, self.render, complainants)
        except TemplateError as exc:
            raise NonRetryableError("template_error", str(exc), field="type") from exc
        inserted = await repo.insert_deliveries(conn, planned.deliveries, first_delay=self.policy.first_delay(),
                                                give_up_seconds=self.policy.window() + 60)
        queued = await repo.insert_digest_items(conn, planned.digest_items)
        for bureau in planned.unmatched:
            log.warning("no directory entry serves %s; it is not told of %s", bureau, notice.event_type)
        if inserted:
            NOTICES.labels(notice.event_type, "delivery").inc(inserted)
        if queued:
            NOTICES.labels(notice.event_type, "digest").inc(queued)
        if not planned.deliveries and not planned.digest_items:
            NOTICES.labels(notice.event_type, "no_recipient").inc()

    @staticmethod
    def _complainant_of(event: BaseModel) -> Complainant | None:
        person = getattr(event, "complainant", None)
        phone = getattr(person, "phone", None) if person is not None else None
        if phone is None:
            return None
        return Complainant(complainant_id(phone), phone, getattr(event, "tracking_no", None))

    def routes(self, topics: dict[str, str]) -> list[TopicRoute]:
        """One route per consumed topic; `topics` maps a contract family (cases, routing, referral,
        alerts, credit) to its configured topic name. Types without a rule are skipped."""
        by_topic: dict[str, dict[str, Binding]] = {}
        for rule in RULES.values():
            family = _family(rule)
            topic = topics.get(family)
            if topic is None:
                continue
            by_topic.setdefault(topic, {})[rule.event_type] = Binding(rule.model, self.handle)
        return [TopicRoute(topic=t, bindings=b, on_unknown="ignore") for t, b in sorted(by_topic.items())]


def _family(rule: NoticeRule) -> str:
    return rule.model.__module__.rsplit(".", 1)[-1]

