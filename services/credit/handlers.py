"""Credit's use cases, run inside one transaction (`UnitOfWork`) whether the
command came from Kafka or HTTP: load state (adapters.postgres), decide
(domain), store, emit events through the outbox and append to the audit log.

Kafka handlers (``async def (message, uow)``) are the `Credit.on_*` methods;
`Credit.route_*` build their topic routes.

Refusals are events (``penalty.refused``) with a reason, never exceptions;
`NonRetryableError` is raised only for a record that can never be applied
(an ingress topic that names no bureau, a referral without any party).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any, Sequence

import asyncpg

from shared import audit
from shared.clock import Clock
from shared.contracts.credit import (
    ApplicationDecided,
    ApplicationReceived,
    Delisted,
    RecordDisclosed,
    RecordExpired,
    RecordRepaired,
)
from shared.contracts.penalty import PenaltyDecided, PenaltyRevoked
from shared.contracts.referral import ReferralAccepted
from shared.envelope import deterministic_event_id
from shared.pii import Keyring
from shared.reference import categories, load_bureau_types
from shared.runtime import Message, NonRetryableError, UnitOfWork
from shared.runtime.routes import Binding, TopicRoute
from shared.workdays import WorkdayCalendar

from services.credit import metrics
from services.credit.adapters import postgres as db
from services.credit.app.decisions import NOT_DECIDERS, DecisionBatch, Item, Outcome  # noqa: F401 (Outcome, NOT_DECIDERS re-exported)
from services.credit.domain.applications import Declaration, removal_eligibility, repair_eligibility
from services.credit.domain.model import Bureau
from services.credit.domain.names import NameAnalyser
from services.credit.domain.records import PublicityPlan
from services.credit.rules import RuleBook

log = logging.getLogger(__name__)

INGRESS_PREFIX = "ingress."


@dataclass(frozen=True)
class Topics:
    penalty: str
    credit: str


class ApplicationError(Exception):
    """An application request that cannot be taken (HTTP maps `status`)."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


def bureau_from_topic(topic: str) -> Bureau:
    """``ingress.market_regulation-610402`` → market_regulation@610402 (the topic names the actor)."""
    client = topic.removeprefix(INGRESS_PREFIX)
    bureau_type, sep, division = client.rpartition("-")
    if not topic.startswith(INGRESS_PREFIX) or not sep or not division.isdigit() or len(division) != 6:
        raise NonRetryableError("unknown_client", f"topic: {topic} does not name a bureau (ingress.<type>-<division>)", field="topic")
    if bureau_type not in load_bureau_types().ids:
        raise NonRetryableError("unknown_client", f"topic: {bureau_type!r} is not a bureau type", field="topic")
    return Bureau(client, bureau_type, division)


class PersonHasher:
    """Keyed hash (HMAC-SHA256) of a resident ID — finds the same person again without the
    number in clear — or of any text that may contain one."""

    def __init__(self, key: str) -> None:
        self._key = key.encode()

    def __call__(self, resident_id: str) -> str:
        return hmac.new(self._key, resident_id.encode(), hashlib.sha256).hexdigest()


class Credit:
    def __init__(
        self,
        *,
        book: RuleBook,
        calendar: WorkdayCalendar,
        clock: Clock,
        keyring: Keyring,
        hasher: PersonHasher,
        topics: Topics,
        auto_disclose: bool = True,
        source: str = "/shuangda/credit",
    ) -> None:
        self.book = book
        self.calendar = calendar
        self.clock = clock
        self.keyring = keyring
        self.hasher = hasher
        self.topics = topics
        self.auto_disclose = auto_disclose
        self.source = source
        self.analyser = NameAnalyser(book.region_prefixes(), book.names.legal_form_suffixes)
        self._ip = {c.id: c.ip for c in categories()}
        #: publicity plans by (kind, heavy, decision date, local day): the calendar work is the same for all
        self.plan_cache: dict[tuple[str, bool, dt.date, dt.date], PublicityPlan] = {}

    def is_ip(self, category: str) -> bool:
        return self._ip.get(category, False)

    # -- routes (Kafka) --------------------------------------------------------------

    def route_ingress(self, pattern: str) -> TopicRoute:
        """Bureau ingress topics: penalty decisions and revocations, set-based (one call per batch);
        routing's commands on the same topics are not credit's and are skipped."""
        return TopicRoute(
            pattern=pattern,
            bindings={PenaltyDecided.EVENT_TYPE: Binding(PenaltyDecided), PenaltyRevoked.EVENT_TYPE: Binding(PenaltyRevoked)},
            on_unknown="ignore",
            batch=self.on_ingress_batch,
        )

    def route_referrals(self, topic: str) -> TopicRoute:
        return TopicRoute(topic=topic, bindings={ReferralAccepted.EVENT_TYPE: Binding(ReferralAccepted)},
                          batch=self.on_referral_batch)

    async def on_ingress_batch(self, messages: Sequence[Message[Any]], uow: UnitOfWork) -> dict[int, Exception]:
        refused: dict[int, Exception] = {}
        bureaus: dict[str, Bureau | NonRetryableError] = {}
        items: list[tuple[int, Item]] = []
        for i, m in enumerate(messages):
            if m.topic not in bureaus:
                try:
                    bureaus[m.topic] = bureau_from_topic(m.topic)
                except NonRetryableError as exc:
                    bureaus[m.topic] = exc
            bureau = bureaus[m.topic]
            if isinstance(bureau, NonRetryableError):
                refused[i] = bureau
                continue
            # the topic names the actor; a header saying otherwise is ignored
            cause = dataclasses.replace(m, envelope=m.envelope.model_copy(update={"actor": bureau.id}))
            kind = "revoke" if isinstance(m.data, PenaltyRevoked) else "decide"
            items.append((i, Item(kind, m.data, bureau, m.envelope.id, bureau.id, cause)))
        return refused | await self._run_batch(items, uow)

    async def on_referral_batch(self, messages: Sequence[Message[Any]], uow: UnitOfWork) -> dict[int, Exception]:
        items = [(i, Item("referral", m.data, None, m.envelope.id, m.envelope.actor, m)) for i, m in enumerate(messages)]
        return await self._run_batch(items, uow)

    async def _run_batch(self, items: list[tuple[int, Item]], uow: UnitOfWork) -> dict[int, Exception]:
        if not items:
            return {}
        outcomes = await DecisionBatch(self, uow).run([it for _, it in items])
        return {i: o for (i, _), o in zip(items, outcomes) if isinstance(o, Exception)}

    async def _one(self, uow: UnitOfWork, item: Item) -> Outcome:
        (outcome,) = await DecisionBatch(self, uow).run([item])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    # -- helpers ------------------------------------------------------------------------

    async def _audit(self, uow: UnitOfWork, kind: str, subject: str, payload: dict[str, Any], now: dt.datetime) -> None:
        await audit.append(uow.conn, kind, subject, payload, actor=uow.actor, at=now)

    # -- penalty decisions and criminal referrals (services.credit.app.decisions) ----------------

    async def decide(self, uow: UnitOfWork, bureau: Bureau, cmd: PenaltyDecided, *, source_event_id: str | None) -> Outcome:
        """One decision (HTTP): the batch code with a list of one."""
        return await self._one(uow, Item("decide", cmd, bureau, source_event_id, uow.actor))

    async def revoke(self, uow: UnitOfWork, bureau: Bureau, cmd: PenaltyRevoked, *, source_event_id: str | None) -> Outcome:
        return await self._one(uow, Item("revoke", cmd, bureau, source_event_id, uow.actor))

    async def record_referral(self, uow: UnitOfWork, ref: ReferralAccepted, *, source_event_id: str | None) -> Outcome:
        return await self._one(uow, Item("referral", ref, None, source_event_id, uow.actor))


    async def _end_listing(self, uow: UnitOfWork, listing_id: str, entity_id: str, credit_code: str | None, rule_id: str,
                           reason: str, now: dt.datetime, application_id: str | None = None,
                           event_id: str | None = None) -> bool:
        if not await db.delist(uow.conn, listing_id, reason, now, application_id):
            return False
        key = credit_code or entity_id
        uow.emit(self.topics.credit, Delisted(
            listing_id=listing_id, entity_id=entity_id, credit_code=credit_code, rule_id=rule_id, reason=reason,  # type: ignore[arg-type]
            application_id=application_id, delisted_at=now,
        ), key=key, event_id=event_id)
        await self._audit(uow, "credit.delisted", key, {"listing_id": listing_id, "entity_id": entity_id, "rule_id": rule_id,
                                                        "reason": reason, "application_id": application_id}, now)
        metrics.LISTING_CHANGES.labels(rule_id, reason).inc()
        return True


    # -- disclosure, expiry (scheduler) ------------------------------------------------------

    async def disclose(self, uow: UnitOfWork, row: asyncpg.Record, now: dt.datetime) -> bool:
        if not await db.mark_disclosed(uow.conn, row["record_id"], now):
            return False
        on_time = row["disclosure_due_at"] is None or now <= row["disclosure_due_at"]
        key = row["credit_code"] or row["entity_id"]
        uow.emit(self.topics.credit, RecordDisclosed(
            record_id=row["record_id"], decision_no=row["decision_no"], entity_id=row["entity_id"],
            credit_code=row["credit_code"], disclosed_at=now, due_on=row["disclosure_due_on"], on_time=on_time,
        ), key=key, event_id=deterministic_event_id("credit.record-disclosed", row["record_id"]))
        await self._audit(uow, "credit.record-disclosed", key, {"record_id": row["record_id"], "on_time": on_time,
                                                                "due_on": row["disclosure_due_on"]}, now)
        metrics.DISCLOSURES.labels("on_time" if on_time else "late").inc()
        return True

    async def disclose_by_bureau(self, uow: UnitOfWork, bureau: Bureau, record_id: str) -> str:
        """The deciding bureau publishes one of its records (when auto-disclosure is off)."""
        await audit.lock(uow.conn)
        record = await db.record_by_id(uow.conn, record_id, lock=True)
        if record is None or record["kind"] != "penalty":
            raise ApplicationError(404, "unknown_record", f"no penalty record {record_id}")
        if record["bureau"] != bureau.id:
            raise ApplicationError(403, "not_decider_of_record", f"record {record_id} was decided by {record['bureau']}")
        if record["disclosed_at"] is not None:
            return "already_disclosed"
        if record["status"] != "active" or not record["disclose"]:
            raise ApplicationError(409, "not_disclosable", f"record {record_id} is {record['status']}")
        entity = await db.entity_by_key(uow.conn, record["entity_id"])
        assert entity is not None
        row = dict(record) | {"credit_code": entity["credit_code"]}
        await self.disclose(uow, row, self.clock.now())  # type: ignore[arg-type]
        return "disclosed"

    async def expire_record(self, uow: UnitOfWork, row: asyncpg.Record, now: dt.datetime) -> bool:
        if not await db.end_record(uow.conn, row["record_id"], "expired", "maximum publicity period ended", now):
            return False
        key = row["credit_code"] or row["entity_id"]
        uow.emit(self.topics.credit, RecordExpired(
            record_id=row["record_id"], entity_id=row["entity_id"], credit_code=row["credit_code"],
            publicity_max_until=row["publicity_max_on"], expired_at=now,
        ), key=key, event_id=deterministic_event_id("credit.record-expired", row["record_id"]))
        await self._audit(uow, "credit.record-expired", key, {"record_id": row["record_id"],
                                                              "publicity_max_on": row["publicity_max_on"]}, now)
        metrics.RECORDS_ENDED.labels("expired").inc()
        return True

    async def expire_listing(self, uow: UnitOfWork, row: asyncpg.Record, now: dt.datetime) -> bool:
        return await self._end_listing(uow, row["listing_id"], row["entity_id"], row["credit_code"], row["rule_id"],
                                       "expired", now, event_id=deterministic_event_id("credit.delisted", row["listing_id"]))

    # -- applications: repair and early removal ---------------------------------------------

    async def submit_application(self, uow: UnitOfWork, *, submitted_by: str, kind: str, target_id: str,
                                 declaration: Declaration, applicant: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.now()
        conn = uow.conn
        await audit.lock(conn)  # the chain's lock before any row lock: one lock order, no deadlock
        if kind == "repair":
            record = await db.record_by_id(conn, target_id, lock=True)
            if record is None:
                raise ApplicationError(404, "unknown_record", f"no record {target_id}")
            entity_id, authority = record["entity_id"], record["bureau"]
            elig = repair_eligibility(self.book, self.calendar, status=record["status"], repairable=record["repairable"],
                                      publicity_min_until=record["publicity_min_until"], declaration=declaration, now=now)
        else:
            listing = await db.listing_by_id(conn, target_id, lock=True)
            if listing is None:
                raise ApplicationError(404, "unknown_listing", f"no listing {target_id}")
            entity_id, authority = listing["entity_id"], listing["authority"]
            elig = removal_eligibility(
                self.book, self.calendar, status=listing["status"], rule_allows=listing["early_removal"],
                listed_at=listing["listed_at"], early_removal_from=listing["early_removal_from"],
                records=await db.entity_record_facts(conn, entity_id), declaration=declaration, now=now,
            )
        if await db.pending_application(conn, kind, target_id) is not None:
            raise ApplicationError(409, "application_pending", f"an application for {target_id} is pending already")
        entity = await db.entity_by_key(conn, entity_id)
        assert entity is not None
        key = entity["credit_code"] or entity_id
        application_id = db.new_id("app")
        status = "pending" if elig.eligible else "ineligible"
        await db.insert_application(conn, {
            "application_id": application_id, "kind": kind, "target_id": target_id, "entity_id": entity_id,
            "authority": authority, "submitted_by": submitted_by, "applicant": applicant,
            "declaration": {"obligations_met": declaration.obligations_met, "commitment_signed": declaration.commitment_signed},
            "eligible": elig.eligible, "reasons": list(elig.reasons), "received_at": now,
            "decision_due_at": elig.decision_due.due_at_utc, "status": status,
            "decided_at": None if elig.eligible else now, "decided_by": None if elig.eligible else "credit",
        })
        uow.emit(self.topics.credit, ApplicationReceived(
            application_id=application_id, kind=kind, target_id=target_id, entity_id=entity_id,  # type: ignore[arg-type]
            credit_code=entity["credit_code"], eligible=elig.eligible, reasons=list(elig.reasons), authority=authority,
            received_at=now,
        ), key=key)
        if not elig.eligible:
            uow.emit(self.topics.credit, ApplicationDecided(
                application_id=application_id, kind=kind, target_id=target_id, entity_id=entity_id,  # type: ignore[arg-type]
                credit_code=entity["credit_code"], outcome="ineligible", reasons=list(elig.reasons), decided_by="credit",
                decided_at=now,
            ), key=key)
        await self._audit(uow, "credit.application-received", key, {
            "application_id": application_id, "kind": kind, "target_id": target_id, "eligible": elig.eligible,
            "reasons": list(elig.reasons), "authority": authority, "submitted_by": submitted_by,
            "decision_due_on": elig.decision_due.due_date_local, "citation": elig.citation,
        }, now)
        metrics.REPAIRS.labels(kind, "received" if elig.eligible else "ineligible").inc()
        return {
            "application_id": application_id, "kind": kind, "target_id": target_id, "status": status,
            "eligible": elig.eligible, "reasons": list(elig.reasons), "authority": authority,
            "decision_due_on": elig.decision_due.due_date_local.isoformat(),
            "decision_due_provisional": elig.decision_due.provisional,
        }

    async def decide_application(self, uow: UnitOfWork, bureau: Bureau, application_id: str, *, approve: bool,
                                 reason: str) -> dict[str, Any]:
        now = self.clock.now()
        conn = uow.conn
        await audit.lock(conn)  # the chain's lock before any row lock: one lock order, no deadlock
        app = await db.application_by_id(conn, application_id, lock=True)
        if app is None:
            raise ApplicationError(404, "unknown_application", f"no application {application_id}")
        if app["authority"] != bureau.id:
            raise ApplicationError(403, "not_the_deciding_bureau",
                                   f"application {application_id} is decided by {app['authority']}, not {bureau.id}")
        if app["status"] != "pending":
            raise ApplicationError(409, "not_pending", f"application {application_id} is {app['status']}")
        entity = await db.entity_by_key(conn, app["entity_id"])
        assert entity is not None
        key = entity["credit_code"] or app["entity_id"]
        outcome = "approved" if approve else "rejected"
        if approve:
            if app["kind"] == "repair":
                if not await db.end_record(conn, app["target_id"], "repaired", f"credit repair {application_id}", now):
                    raise ApplicationError(409, "record_not_active", f"record {app['target_id']} is no longer active")
                uow.emit(self.topics.credit, RecordRepaired(
                    record_id=app["target_id"], application_id=application_id, entity_id=app["entity_id"],
                    credit_code=entity["credit_code"], decided_by=bureau.id, repaired_at=now,
                ), key=key)
                metrics.RECORDS_ENDED.labels("repaired").inc()
            else:
                listing = await db.listing_by_id(conn, app["target_id"], lock=True)
                assert listing is not None
                if not await self._end_listing(uow, listing["listing_id"], app["entity_id"], entity["credit_code"],
                                               listing["rule_id"], "early_removal", now, application_id=application_id):
                    raise ApplicationError(409, "listing_not_active", f"listing {app['target_id']} has ended already")
        await db.decide_application(conn, application_id, outcome, bureau.id, reason, now)
        uow.emit(self.topics.credit, ApplicationDecided(
            application_id=application_id, kind=app["kind"], target_id=app["target_id"], entity_id=app["entity_id"],
            credit_code=entity["credit_code"], outcome=outcome, reasons=[reason] if reason else [], decided_by=bureau.id,
            decided_at=now,
        ), key=key)
        await self._audit(uow, "credit.application-decided", key, {
            "application_id": application_id, "kind": app["kind"], "target_id": app["target_id"], "outcome": outcome,
            "reason": reason, "decided_by": bureau.id,
        }, now)
        metrics.REPAIRS.labels(app["kind"], outcome).inc()
        return {"application_id": application_id, "status": outcome, "decided_by": bureau.id}
