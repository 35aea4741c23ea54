"""Consumed events → deliveries, in the consumer's transaction, a whole batch at a time.

For each event notify tells anyone about, the batch handler works out the
notice (domain.notices), keeps the complainant an intake event brings (sealed
phone only), plans the deliveries against the directory in force, renders
them, and inserts one row per (event, recipient, channel) — one multi-row
``INSERT … ON CONFLICT DO NOTHING`` for the batch — or a digest item. The rows
commit with the inbox entries, so a consumed event cannot lose its notices and
a redelivered one adds none. A batch costs the same few round trips however
many records it has.
"""
from __future__ import annotations

import logging
from collections import Counter
from typing import Iterable, Protocol, Sequence

from pydantic import BaseModel

from services.notify.adapters import postgres as repo
from services.notify.domain.directory import Directory
from services.notify.domain.notices import RULES, Notice, NoticeRule, notice_for
from services.notify.domain.planning import Complainant, DigestItem, PlannedDelivery, Render, complainant_id, plan
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
        """One record: the batch code with a list of one (one implementation)."""
        refused = await self.handle_batch([message], uow)
        if refused:
            raise refused[0]

    async def handle_batch(self, messages: Sequence[Message[BaseModel]], uow: UnitOfWork) -> dict[int, NonRetryableError]:
        """Every record of a consumer batch in a constant number of round trips: one read of the complainants
        of every case concerned, then one insert each for complainants, deliveries and digest items.

        Records are planned in order; a record's case complainants are those kept before the batch plus those
        the batch's records up to and including it bring (as if each record had committed in turn). A record
        whose template cannot be rendered is refused (``template_error``) and writes nothing."""
        directory = self.directory.current
        notices: list[tuple[int, Notice, Complainant | None]] = []
        for i, message in enumerate(messages):
            notice = notice_for(message.envelope.id, message.envelope.time, message.data,
                                correlation_id=message.envelope.correlationid)
            if notice is not None:
                notices.append((i, notice, self._complainant_of(message.data)))
        if not notices:
            return {}
        conn = uow.conn
        wanted = [n.case_id for _, n, _ in notices if n.case_id and n.complainants == "case"
                  and directory.complainants_subscribe(n.event_type)]
        kept = await repo.complainants_of_cases(conn, wanted)
        refused: dict[int, NonRetryableError] = {}
        saves: list[tuple[str, Complainant, str]] = []
        deliveries: list[PlannedDelivery] = []
        digest_items: list[DigestItem] = []
        silent: list[str] = []
        for i, notice, own in notices:
            brought: list[tuple[str, Complainant, str]] = []
            if own is not None and notice.case_id:
                brought.append((notice.case_id, own, notice.event_id))
            complainants: list[Complainant] = []
            if notice.complainants != "none" and directory.complainants_subscribe(notice.event_type):
                if notice.complainants == "event":
                    complainants = [own] if own is not None else []
                elif notice.case_id:
                    complainants = _distinct([*kept.get(notice.case_id, ()),
                                              *(c for case_id, c, _ in [*saves, *brought] if case_id == notice.case_id)])
            try:
                planned = plan(notice, directory, self.render, complainants)
            except TemplateError as exc:
                refused[i] = NonRetryableError("template_error", str(exc), field="type")
                continue
            saves += brought
            deliveries += planned.deliveries
            digest_items += planned.digest_items
            for bureau in planned.unmatched:
                log.warning("no directory entry serves %s; it is not told of %s", bureau, notice.event_type)
            if not planned.deliveries and not planned.digest_items:
                silent.append(notice.event_type)
        await repo.save_complainants(conn, saves)
        inserted = await repo.insert_deliveries(conn, deliveries, first_delay=self.policy.first_delay(),
                                                give_up_seconds=self.policy.window() + 60)
        queued = await repo.insert_digest_items(conn, digest_items)
        uow.after_commit(lambda: _count(inserted, queued, silent))
        return refused

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
            by_topic.setdefault(topic, {})[rule.event_type] = Binding(rule.model)
        return [TopicRoute(topic=t, bindings=b, on_unknown="ignore", batch=self.handle_batch)
                for t, b in sorted(by_topic.items())]


def _distinct(complainants: Iterable[Complainant]) -> list[Complainant]:
    out: dict[str, Complainant] = {}
    for c in complainants:
        out.setdefault(c.recipient_id, c)
    return list(out.values())


def _count(inserted: Sequence[str], queued: Sequence[str], silent: Sequence[str]) -> None:
    """Count committed notices (after commit only: a rolled-back batch counts nothing)."""
    for outcome, types in (("delivery", inserted), ("digest", queued), ("no_recipient", silent)):
        for event_type, n in Counter(types).items():
            NOTICES.labels(event_type, outcome).inc(n)


def _family(rule: NoticeRule) -> str:
    return rule.model.__module__.rsplit(".", 1)[-1]

