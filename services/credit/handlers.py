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

import datetime as dt
import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from shared import audit
from shared.clock import Clock
from shared.contracts.credit import (
    ApplicationDecided,
    ApplicationReceived,
    Blacklisted,
    Delisted,
    EntityIdentified,
    RecordCreated,
    RecordDisclosed,
    RecordExpired,
    RecordRepaired,
    RecordWithdrawn,
)
from shared.contracts.penalty import (
    Party,
    PenaltyDecided,
    PenaltyRecorded,
    PenaltyRefused,
    PenaltyRevocationAccepted,
    PenaltyRevoked,
    PublicParty,
)
from shared.contracts.referral import ReferralAccepted
from shared.envelope import deterministic_event_id
from shared.pii import Keyring
from shared.reference import categories, load_bureau_types
from shared.runtime import Message, NonRetryableError, UnitOfWork
from shared.runtime.routes import Binding, TopicRoute
from shared.workdays import SHANGHAI, WorkdayCalendar

from services.credit import metrics
from services.credit.adapters import postgres as db
from services.credit.domain import blacklist
from services.credit.domain.applications import Declaration, removal_eligibility, repair_eligibility
from services.credit.domain.disclosure import public_party
from services.credit.domain.measures import measure_ids_for_listing
from services.credit.domain.model import Bureau, RecordFacts
from services.credit.domain.names import NameAnalyser
from services.credit.domain.records import classify_heavy, publicity_plan
from services.credit.rules import RuleBook

log = logging.getLogger(__name__)

INGRESS_PREFIX = "ingress."
#: bureau types that do not decide penalties
NOT_DECIDERS = frozenset({"office"})


@dataclass(frozen=True)
class Topics:
    penalty: str
    credit: str


@dataclass(frozen=True)
class Outcome:
    """What a command led to: a record (new or a re-send of a known one), or a refusal."""

    status: str  # recorded | duplicate | revoked | refused
    record_id: str | None = None
    entity_key: str | None = None
    reason: str | None = None
    detail: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


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


def _local_day(at: dt.datetime) -> dt.date:
    return at.astimezone(SHANGHAI).date()


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

    def is_ip(self, category: str) -> bool:
        return self._ip.get(category, False)

    # -- routes (Kafka) --------------------------------------------------------------

    def route_ingress(self, pattern: str) -> TopicRoute:
        """Bureau ingress topics: penalty decisions and revocations; routing's commands on the
        same topics are not credit's and are skipped."""
        return TopicRoute(
            pattern=pattern,
            bindings={
                PenaltyDecided.EVENT_TYPE: Binding(PenaltyDecided, self.on_penalty_decided),
                PenaltyRevoked.EVENT_TYPE: Binding(PenaltyRevoked, self.on_penalty_revoked),
            },
            on_unknown="ignore",
        )

    def route_referrals(self, topic: str) -> TopicRoute:
        return TopicRoute(topic=topic, bindings={ReferralAccepted.EVENT_TYPE: Binding(ReferralAccepted, self.on_referral_accepted)})

    async def on_penalty_decided(self, message: Message[PenaltyDecided], uow: UnitOfWork) -> None:
        bureau = bureau_from_topic(message.topic)
        uow.actor = bureau.id  # the topic names the actor; a header saying otherwise is ignored
        await self.decide(uow, bureau, message.data, source_event_id=message.envelope.id)

    async def on_penalty_revoked(self, message: Message[PenaltyRevoked], uow: UnitOfWork) -> None:
        bureau = bureau_from_topic(message.topic)
        uow.actor = bureau.id
        await self.revoke(uow, bureau, message.data, source_event_id=message.envelope.id)

    async def on_referral_accepted(self, message: Message[ReferralAccepted], uow: UnitOfWork) -> None:
        await self.record_referral(uow, message.data, source_event_id=message.envelope.id)

    # -- helpers ------------------------------------------------------------------------

    async def _audit(self, uow: UnitOfWork, kind: str, subject: str, payload: dict[str, Any], now: dt.datetime) -> None:
        await audit.append(uow.conn, kind, subject, payload, actor=uow.actor, at=now)

    async def _lock(self, conn: asyncpg.Connection, what: str) -> None:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"credit:{what}")

    async def _refuse(self, uow: UnitOfWork, refused: str, decision_no: str, bureau: Bureau, reason: str, detail: str,
                      key: str, source_event_id: str | None, now: dt.datetime) -> Outcome:
        uow.emit(
            self.topics.penalty,
            PenaltyRefused(refused_type=refused, refused_event_id=source_event_id, decision_no=decision_no, bureau=bureau.id,
                           reason=reason, detail=detail, refused_at=now),  # type: ignore[arg-type]
            key=key,
        )
        await self._audit(uow, "penalty.refused", key, {
            "refused_type": refused, "decision_no": decision_no, "bureau": bureau.id, "reason": reason, "detail": detail,
            "refused_event_id": source_event_id,
        }, now)
        metrics.REFUSALS.labels(reason).inc()
        return Outcome("refused", reason=reason, detail=detail)

    async def resolve_entity(self, uow: UnitOfWork, party: Party, now: dt.datetime, source: str) -> db.EntityRow:
        """The registry entry of `party`: by credit code, else by the person's hash, else by
        exact (normalised) name among entities without a code. An entity first seen without a
        code takes the code when a decision names both (``credit.entity-identified``)."""
        conn = uow.conn
        person_hash = self.hasher(party.resident_id) if party.resident_id else None
        parts = self.analyser.analyse(party.name)
        name_key = f"person:{person_hash}" if party.kind == "natural_person" else parts.normalised
        display = public_party(kind=party.kind, credit_code=party.credit_code, name=party.name,
                               legal_representative=None, resident_id=None)["name"]
        sealed = None
        if party.resident_id:
            sealed = {"resident_id": self.keyring.seal(party.resident_id, field="resident_id").model_dump()}
            if party.kind == "natural_person":
                sealed["name"] = self.keyring.seal(party.name, field="name").model_dump()
        masked = public_party(kind=party.kind, credit_code=None, name=party.name, legal_representative=None,
                              resident_id=party.resident_id)["resident_id_masked"]

        async def create(code: str | None) -> db.EntityRow:
            return await db.insert_entity(
                conn, entity_id=db.new_id("ent"), credit_code=code, kind=party.kind, name=display, name_key=name_key,
                now=now, person_hash=person_hash, person_sealed=sealed, person_masked=masked, source=source,
            )

        if party.credit_code:
            await self._lock(conn, f"entity-code:{party.credit_code}")
            entity = await db.entity_by_code(conn, party.credit_code, lock=True)
            if entity is not None:
                if party.kind != "natural_person" and self.analyser.normalise(entity.name) != self.analyser.normalise(party.name):
                    await db.rename_entity(conn, entity, party.name, name_key, now, source)
                    entity = db.EntityRow(entity.entity_id, entity.credit_code, entity.kind, party.name)
                return entity
            await self._lock(conn, f"entity-name:{name_key}")
            found = await db.codeless_entity_by_name(conn, name_key, party.kind)
            if found is None and person_hash:
                candidate = await db.entity_by_person(conn, person_hash)
                found = candidate if candidate is not None and candidate.credit_code is None else None
            if found is not None:
                await db.set_entity_code(conn, found.entity_id, party.credit_code, now)
                key = party.credit_code
                uow.emit(self.topics.credit, EntityIdentified(entity_id=found.entity_id, credit_code=key, name=found.name,
                                                              matched_on=name_key if not name_key.startswith("person:") else "resident ID",
                                                              identified_at=now), key=key)
                await self._audit(uow, "credit.entity-identified", key, {"entity_id": found.entity_id, "credit_code": key,
                                                                         "matched_on": "name" if found.name else "person"}, now)
                return db.EntityRow(found.entity_id, key, found.kind, found.name)
            return await create(party.credit_code)
        if person_hash:
            await self._lock(conn, f"entity-person:{person_hash}")
            entity = await db.entity_by_person(conn, person_hash)
            return entity if entity is not None else await create(None)
        await self._lock(conn, f"entity-name:{name_key}")
        entity = await db.codeless_entity_by_name(conn, name_key, party.kind)
        return entity if entity is not None else await create(None)

    # -- penalty decisions -----------------------------------------------------------------

    async def decide(self, uow: UnitOfWork, bureau: Bureau, cmd: PenaltyDecided, *, source_event_id: str | None) -> Outcome:
        now = self.clock.now()
        conn = uow.conn
        await audit.lock(conn)  # the chain's lock before any row lock: one lock order, no deadlock
        party_key = cmd.party.credit_code or cmd.decision_no
        if bureau.bureau_type in NOT_DECIDERS:
            return await self._refuse(uow, cmd.EVENT_TYPE, cmd.decision_no, bureau, "not_a_bureau",
                                      f"{bureau.id} does not decide administrative penalties", party_key, source_event_id, now)
        await self._lock(conn, f"decision:{cmd.decision_no}")
        digest = self.hasher(cmd.model_dump_json())  # keyed: the decision may hold a resident ID
        existing = await db.record_by_decision_no(conn, cmd.decision_no)
        if existing is not None:
            if existing["bureau"] == bureau.id and existing["digest"] == digest:
                return Outcome("duplicate", record_id=existing["record_id"], entity_key=party_key)
            return await self._refuse(
                uow, cmd.EVENT_TYPE, cmd.decision_no, bureau, "decision_no_taken",
                f"decision {cmd.decision_no} is on record already"
                + (" with other content" if existing["bureau"] == bureau.id else f" for another bureau ({existing['bureau']})"),
                party_key, source_event_id, now,
            )
        entity = await self.resolve_entity(uow, cmd.party, now, source=f"penalty:{cmd.decision_no}")
        heavy = classify_heavy(self.book, penalty_types=cmd.penalty_types, aggravated=cmd.aggravated,
                               fine_amount=cmd.fine_amount, party_kind=cmd.party.kind, decided_on=cmd.decided_on)
        plan = publicity_plan(self.book, self.calendar, kind="penalty", heavy=heavy.heavy, decided_on=cmd.decided_on, now=now)
        party_public = public_party(kind=cmd.party.kind, credit_code=cmd.party.credit_code, name=cmd.party.name,
                                    legal_representative=cmd.party.legal_representative, resident_id=cmd.party.resident_id)
        record_id = db.new_id("rec")
        due = plan.disclosure_due
        await db.insert_record(conn, {
            "record_id": record_id, "entity_id": entity.entity_id, "kind": "penalty", "decision_no": cmd.decision_no,
            "bureau": bureau.id, "bureau_type": bureau.bureau_type, "client_id": bureau.client_id, "category": cmd.category,
            "penalty_types": list(cmd.penalty_types), "fine_amount": cmd.fine_amount,
            "confiscated_amount": cmd.confiscated_amount, "violation": cmd.violation, "legal_basis": list(cmd.legal_basis),
            "content": cmd.content, "decided_on": cmd.decided_on, "aggravated": cmd.aggravated,
            "intentional": cmd.intentional, "heavy": heavy.heavy, "heavy_rules": list(heavy.rules),
            "severity": plan.type_id, "repairable": plan.repairable, "disclose": plan.disclose,
            "rules_version": self.book.version,
            "disclosure_due_at": due.due_at_utc if due else None, "disclosure_due_on": due.due_date_local if due else None,
            "disclosure_provisional": bool(due and due.provisional),
            "publicity_min_until": plan.min_until.due_at_utc, "publicity_min_on": plan.min_until.due_date_local,
            "publicity_max_until": plan.max_until.due_at_utc, "publicity_max_on": plan.max_until.due_date_local,
            "party": party_public, "digest": digest, "case_id": cmd.case_id, "source_event_id": source_event_id,
            "created_at": now,
        })
        key = entity.key
        sealed = self.keyring.seal(cmd.party.resident_id, field="resident_id") if cmd.party.resident_id else None
        due_on = due.due_date_local if due else None
        uow.emit(self.topics.penalty, PenaltyRecorded(
            record_id=record_id, decision_no=cmd.decision_no, bureau=bureau.id, bureau_type=bureau.bureau_type,
            entity_id=entity.entity_id, party=PublicParty(**party_public, resident_id_sealed=sealed), category=cmd.category,
            penalty_types=list(cmd.penalty_types), fine_amount=cmd.fine_amount, confiscated_amount=cmd.confiscated_amount,
            decided_on=cmd.decided_on, heavy=heavy.heavy, heavy_rules=list(heavy.rules), severity=plan.type_id,
            disclosure_due_on=due_on, disclosure_due_provisional=bool(due and due.provisional),
            publicity_min_until=plan.min_until.due_date_local, publicity_max_until=plan.max_until.due_date_local,
            rules_version=self.book.version, case_id=cmd.case_id, recorded_at=now,
        ), key=key, correlationid=cmd.case_id)
        uow.emit(self.topics.credit, RecordCreated(
            record_id=record_id, kind="penalty", entity_id=entity.entity_id, credit_code=entity.credit_code, bureau=bureau.id,
            category=cmd.category, decided_on=cmd.decided_on, heavy=heavy.heavy, severity=plan.type_id, disclose=plan.disclose,
            disclosure_due_on=due_on, publicity_min_until=plan.min_until.due_date_local,
            publicity_max_until=plan.max_until.due_date_local, rules_version=self.book.version, created_at=now,
        ), key=key, correlationid=cmd.case_id)
        await self._audit(uow, "credit.record-created", key, {
            "record_id": record_id, "kind": "penalty", "decision_no": cmd.decision_no, "bureau": bureau.id,
            "entity_id": entity.entity_id, "category": cmd.category, "penalty_types": list(cmd.penalty_types),
            "fine_amount": cmd.fine_amount, "confiscated_amount": cmd.confiscated_amount, "decided_on": cmd.decided_on,
            "heavy": heavy.heavy, "heavy_rules": list(heavy.rules), "severity": plan.type_id,
            "disclosure_due_on": due_on, "publicity_min_on": plan.min_until.due_date_local,
            "publicity_max_on": plan.max_until.due_date_local, "rules_version": self.book.version,
            "citations": list(heavy.citations + plan.citations), "source_event_id": source_event_id,
        }, now)
        metrics.RECORDS_CREATED.labels("penalty", plan.type_id, bureau.bureau_type).inc()
        new = RecordFacts(record_id, "penalty", cmd.category, cmd.decided_on, heavy.heavy, cmd.intentional, "active",
                          bureau.id, cmd.decision_no)
        listed = await self._evaluate_list(uow, entity, new, now)
        return Outcome("recorded", record_id=record_id, entity_key=key, facts={
            "entity_id": entity.entity_id, "heavy": heavy.heavy, "heavy_rules": list(heavy.rules), "severity": plan.type_id,
            "disclosure_due_on": due_on.isoformat() if due_on else None, "disclosure_due_provisional": bool(due and due.provisional),
            "publicity_min_until": plan.min_until.due_date_local.isoformat(),
            "publicity_max_until": plan.max_until.due_date_local.isoformat(), "listings": listed,
        })

    async def _evaluate_list(self, uow: UnitOfWork, entity: db.EntityRow, new: RecordFacts, now: dt.datetime) -> list[str]:
        conn = uow.conn
        history = await db.entity_record_facts(conn, entity.entity_id)
        listings = await db.entity_listings(conn, entity.entity_id)
        made: list[str] = []
        for decision in blacklist.evaluate(self.book, new, history, listings, self.is_ip):
            period = blacklist.list_period(self.book, self.calendar, now)
            listing_id = db.new_id("lst")
            measures = measure_ids_for_listing(self.book, decision.rule_id, _local_day(now))
            await db.insert_listing(conn, {
                "listing_id": listing_id, "entity_id": entity.entity_id, "rule_id": decision.rule_id,
                "rule_version": decision.rule_version, "citation": decision.citation, "reason": decision.reason,
                "authority": decision.authority, "early_removal": decision.early_removal, "measures": measures,
                "listed_at": now, "expires_at": period.expires.due_at_utc, "expires_on": period.expires.due_date_local,
                "early_removal_from": period.early_removal_from.due_at_utc,
                "early_removal_on": period.early_removal_from.due_date_local, "rules_version": self.book.version,
            }, decision.triggers)
            uow.emit(self.topics.credit, Blacklisted(
                listing_id=listing_id, entity_id=entity.entity_id, credit_code=entity.credit_code, name=entity.name,
                rule_id=decision.rule_id, rule_version=decision.rule_version, citation=decision.citation,
                reason=decision.reason, triggering_records=list(decision.triggers), authority=decision.authority,
                listed_at=now, expires_on=period.expires.due_date_local,
                early_removal_from=period.early_removal_from.due_date_local, measures=measures,
            ), key=entity.key)
            await self._audit(uow, "credit.blacklisted", entity.key, {
                "listing_id": listing_id, "entity_id": entity.entity_id, "rule_id": decision.rule_id,
                "rule_version": decision.rule_version, "citation": decision.citation, "reason": decision.reason,
                "triggering_records": list(decision.triggers), "expires_on": period.expires.due_date_local,
                "early_removal_from": period.early_removal_from.due_date_local, "measures": measures,
            }, now)
            metrics.LISTING_CHANGES.labels(decision.rule_id, "listed").inc()
            made.append(listing_id)
        return made

    async def revoke(self, uow: UnitOfWork, bureau: Bureau, cmd: PenaltyRevoked, *, source_event_id: str | None) -> Outcome:
        now = self.clock.now()
        conn = uow.conn
        await audit.lock(conn)  # the chain's lock before any row lock: one lock order, no deadlock
        await self._lock(conn, f"decision:{cmd.decision_no}")
        record = await db.record_by_decision_no(conn, cmd.decision_no)
        if record is None or record["kind"] != "penalty":
            return await self._refuse(uow, cmd.EVENT_TYPE, cmd.decision_no, bureau, "unknown_decision",
                                      f"no penalty decision {cmd.decision_no} on record", cmd.decision_no, source_event_id, now)
        entity = await db.entity_by_key(conn, record["entity_id"])
        assert entity is not None
        key = entity["credit_code"] or entity["entity_id"]
        if record["bureau"] != bureau.id:
            return await self._refuse(
                uow, cmd.EVENT_TYPE, cmd.decision_no, bureau, "not_decider_of_record",
                f"decision {cmd.decision_no} was decided by {record['bureau']}; only the decider of record may revoke it",
                key, source_event_id, now,
            )
        if record["status"] == "revoked":
            if record["end_reason"] == cmd.reason:
                return Outcome("duplicate", record_id=record["record_id"], entity_key=key)
            return await self._refuse(uow, cmd.EVENT_TYPE, cmd.decision_no, bureau, "already_revoked",
                                      f"decision {cmd.decision_no} was revoked already", key, source_event_id, now)
        await conn.execute(
            "UPDATE records SET status = 'revoked', ended_at = $2, end_reason = $3, changed_at = clock_timestamp(),"
            " version = version + 1 WHERE record_id = $1",
            record["record_id"], now, cmd.reason,
        )
        uow.emit(self.topics.penalty, PenaltyRevocationAccepted(
            record_id=record["record_id"], decision_no=cmd.decision_no, bureau=bureau.id, entity_id=record["entity_id"],
            credit_code=entity["credit_code"], revoked_on=cmd.revoked_on, reason=cmd.reason, accepted_at=now,
        ), key=key)
        uow.emit(self.topics.credit, RecordWithdrawn(
            record_id=record["record_id"], entity_id=record["entity_id"], credit_code=entity["credit_code"],
            reason=cmd.reason, withdrawn_at=now,
        ), key=key)
        await self._audit(uow, "penalty.revoked", key, {
            "record_id": record["record_id"], "decision_no": cmd.decision_no, "bureau": bureau.id,
            "revoked_on": cmd.revoked_on, "reason": cmd.reason, "previous_status": record["status"],
            "source_event_id": source_event_id,
        }, now)
        metrics.RECORDS_ENDED.labels("revoked").inc()
        records = await db.entity_record_facts(conn, record["entity_id"])
        for listing in await db.active_listings_with_record(conn, record["record_id"]):
            facts = next(li for li in await db.entity_listings(conn, record["entity_id"]) if li.listing_id == listing["listing_id"])
            if not blacklist.still_holds(self.book, facts, records, self.is_ip):
                await self._end_listing(uow, listing["listing_id"], record["entity_id"], entity["credit_code"],
                                        listing["rule_id"], "trigger_revoked", now)
        return Outcome("revoked", record_id=record["record_id"], entity_key=key)

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

    # -- criminal referrals (from routing) -------------------------------------------------

    async def record_referral(self, uow: UnitOfWork, ref: ReferralAccepted, *, source_event_id: str | None) -> Outcome:
        now = self.clock.now()
        conn = uow.conn
        await audit.lock(conn)  # the chain's lock before any row lock: one lock order, no deadlock
        suspect = ref.suspect
        if not suspect.credit_code and not suspect.name:
            raise NonRetryableError("unidentifiable_party", "suspect: neither a credit code nor a name to record against",
                                    field="suspect")
        decision_no = f"referral:{ref.case_id}"
        await self._lock(conn, f"decision:{decision_no}")
        existing = await db.record_by_decision_no(conn, decision_no)
        if existing is not None:
            return Outcome("duplicate", record_id=existing["record_id"])
        code = suspect.credit_code
        kind = "individual_trader" if code and code.startswith("92") else "organisation"
        party = Party(kind=kind, credit_code=code, name=suspect.name or code or "")
        entity = await self.resolve_entity(uow, party, now, source=f"referral:{ref.case_id}")
        decided_on = _local_day(ref.at)
        bureau_type = ref.agency.partition("@")[0]
        plan = publicity_plan(self.book, self.calendar, kind="criminal_referral", heavy=False, decided_on=decided_on, now=now)
        record_id = db.new_id("rec")
        party_public = public_party(kind=kind, credit_code=code, name=party.name, legal_representative=None, resident_id=None)
        await db.insert_record(conn, {
            "record_id": record_id, "entity_id": entity.entity_id, "kind": "criminal_referral", "decision_no": decision_no,
            "bureau": ref.agency, "bureau_type": bureau_type, "category": ref.category, "decided_on": decided_on,
            "heavy": False, "severity": plan.type_id, "repairable": plan.repairable, "disclose": plan.disclose,
            "rules_version": self.book.version,
            "publicity_min_until": plan.min_until.due_at_utc, "publicity_min_on": plan.min_until.due_date_local,
            "publicity_max_until": plan.max_until.due_at_utc, "publicity_max_on": plan.max_until.due_date_local,
            "violation": f"涉嫌犯罪移送, 公安机关已立案 ({ref.police_case_no or ref.police})",
            "party": party_public, "digest": self.hasher(ref.model_dump_json()),
            "case_id": ref.case_id, "source_event_id": source_event_id, "created_at": now,
        })
        key = entity.key
        uow.emit(self.topics.credit, RecordCreated(
            record_id=record_id, kind="criminal_referral", entity_id=entity.entity_id, credit_code=entity.credit_code,
            bureau=ref.agency, category=ref.category, decided_on=decided_on, heavy=False, severity=plan.type_id,
            disclose=plan.disclose, publicity_min_until=plan.min_until.due_date_local,
            publicity_max_until=plan.max_until.due_date_local, rules_version=self.book.version, created_at=now,
        ), key=key, correlationid=ref.case_id)
        await self._audit(uow, "credit.record-created", key, {
            "record_id": record_id, "kind": "criminal_referral", "case_id": ref.case_id, "referral_id": ref.referral_id,
            "agency": ref.agency, "police": ref.police, "police_case_no": ref.police_case_no, "category": ref.category,
            "entity_id": entity.entity_id, "decided_on": decided_on, "severity": plan.type_id,
            "publicity_max_on": plan.max_until.due_date_local, "rules_version": self.book.version,
            "source_event_id": source_event_id,
        }, now)
        metrics.RECORDS_CREATED.labels("criminal_referral", plan.type_id, bureau_type).inc()
        new = RecordFacts(record_id, "criminal_referral", ref.category, decided_on, False, False, "active", ref.agency, ref.case_id)
        listed = await self._evaluate_list(uow, entity, new, now)
        return Outcome("recorded", record_id=record_id, entity_key=key, facts={"listings": listed})

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
