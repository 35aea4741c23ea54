"""Penalty decisions, revocations and accepted criminal referrals, set-based.

A `DecisionBatch` takes a whole consumer batch (or the one command of an HTTP request: a list of
one, so there is one implementation) and costs a constant number of SQL round trips whatever its
size:

1. the audit chain's lock (every writer of credit takes it first, so the chain stays linear and
   one lock order holds), then advisory locks on every decision number and entity key of the
   batch in key order;
2. three reads keyed by arrays: the records of the batch's decision numbers, every entity a party
   may resolve to (by code, person, codeless name, or the entity of a record to revoke — locked in
   entity-id order), and those entities' records and listings;
3. the decisions themselves, one item after the other in the batch's order (so per-key order is
   the order of the batch), in memory: an item sees what the items before it did;
4. multi-row writes: entities, names, entity changes, records, revocations, listings, triggers,
   delistings, and the audit entries chained in one append (`shared.audit.append_many`).

Events are emitted while deciding (`cause=` the record that caused them), so their order per key
is the order of the items; metrics are counted after commit.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal, Sequence

from shared import audit
from shared.contracts.credit import Blacklisted, Delisted, EntityIdentified, RecordCreated, RecordWithdrawn
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
from shared.runtime import Message, NonRetryableError, UnitOfWork
from shared.workdays import SHANGHAI

from services.credit import metrics
from services.credit.adapters import postgres as db
from services.credit.domain import blacklist
from services.credit.domain.disclosure import public_party
from services.credit.domain.measures import measure_ids_for_listing
from services.credit.domain.model import Bureau, ListingFacts, RecordFacts
from services.credit.domain.records import PublicityPlan, classify_heavy, publicity_plan

if TYPE_CHECKING:
    from services.credit.handlers import Credit

#: bureau types that do not decide penalties
NOT_DECIDERS = frozenset({"office"})


@dataclass(frozen=True)
class Outcome:
    """What a command led to: a record (new or a re-send of a known one), or a refusal."""

    status: str  # recorded | duplicate | revoked | refused
    record_id: str | None = None
    entity_key: str | None = None
    reason: str | None = None
    detail: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Item:
    """One command of a batch. `cause` is the record the events name as their cause (None on the
    HTTP path: the unit of work's command then); `actor` signs the audit entries."""

    kind: Literal["decide", "revoke", "referral"]
    cmd: PenaltyDecided | PenaltyRevoked | ReferralAccepted
    bureau: Bureau | None
    source_event_id: str | None
    actor: str | None
    cause: Message[Any] | None = None


def local_day(at: dt.datetime) -> dt.date:
    return at.astimezone(SHANGHAI).date()


@dataclass
class _Entity:
    entity_id: str
    credit_code: str | None
    kind: str
    name: str
    name_key: str
    person_hash: str | None
    first_seen_at: dt.datetime

    @property
    def key(self) -> str:
        return self.credit_code or self.entity_id


@dataclass(frozen=True)
class _Party:
    """A party with its match keys worked out once."""

    party: Party
    person_hash: str | None
    name_key: str


RECORD_DEFAULTS: dict[str, Any] = {
    "client_id": None, "penalty_types": [], "fine_amount": None, "confiscated_amount": None, "violation": "",
    "legal_basis": [], "content": "", "aggravated": False, "intentional": False, "heavy_rules": [],
    "disclosure_due_at": None, "disclosure_due_on": None, "disclosure_provisional": False, "case_id": None,
    "source_event_id": None,
}


class DecisionBatch:
    """The state one batch reads, the decisions it takes in memory, and the rows it writes."""

    def __init__(self, credit: "Credit", uow: UnitOfWork) -> None:
        self.c = credit
        self.uow = uow
        self.by_id: dict[str, _Entity] = {}
        self.by_code: dict[str, _Entity] = {}
        self.by_person: dict[str, list[_Entity]] = defaultdict(list)
        self.codeless: dict[tuple[str, str], list[_Entity]] = defaultdict(list)
        self.records: dict[str, dict[str, Any]] = {}
        self.history: dict[str, list[RecordFacts]] = defaultdict(list)
        self.listings: dict[str, list[ListingFacts]] = defaultdict(list)
        # writes, in statement order
        self.new_entities: list[dict[str, Any]] = []
        self.retired: list[tuple[str, dt.datetime]] = []
        self.names: list[list[Any]] = []
        self.registered_row: dict[str, int] = {}  # entity id → index in `names` of its registered name written here
        self.changes: dict[str, db.EntityChange] = {}
        self.new_records: list[dict[str, Any]] = []
        self.revoked: list[tuple[str, dt.datetime, str]] = []
        self.new_listings: list[dict[str, Any]] = []
        self.triggers: list[tuple[str, str, str]] = []
        self.delisted: list[tuple[str, str, dt.datetime, str | None]] = []
        self.audits: list[audit.Pending] = []
        self.counted: list[Callable[[], None]] = []
        self._list_period: tuple[dt.datetime, blacklist.ListPeriod] | None = None
        self._measures: dict[tuple[str, dt.datetime], list[str]] = {}

    # -- the batch ------------------------------------------------------------------------

    async def run(self, items: Sequence[Item]) -> list[Outcome | NonRetryableError]:
        parties: list[_Party | NonRetryableError | None] = [self._party_of(it) for it in items]
        conn = self.uow.conn
        await audit.lock(conn)  # the chain's lock before any row lock: one lock order, no deadlock
        decision_nos = sorted({self._decision_no(it) for it in items})
        keys = [f"credit:decision:{n}" for n in decision_nos]
        for p in parties:
            if isinstance(p, _Party):
                if p.party.credit_code:
                    keys.append(f"credit:entity-code:{p.party.credit_code}")
                if p.person_hash:
                    keys.append(f"credit:entity-person:{p.person_hash}")
                keys.append(f"credit:entity-name:{p.name_key}")
        await db.lock_keys(conn, keys)
        for row in await db.records_by_decision_nos(conn, decision_nos):
            self.records[row["decision_no"]] = dict(row)
        known = [p for p in parties if isinstance(p, _Party)]
        for row in await db.entities_matching(
            conn, codes=sorted({p.party.credit_code for p in known if p.party.credit_code}),
            person_hashes=sorted({p.person_hash for p in known if p.person_hash}),
            name_keys=sorted({p.name_key for p in known}), entity_ids=sorted({r["entity_id"] for r in self.records.values()}),
        ):
            self._index(_Entity(row["entity_id"], row["credit_code"], row["kind"], row["name"], row["name_key"],
                                row["person_hash"], row["first_seen_at"]))
        if self.by_id:
            ids = sorted(self.by_id)
            for entity_id, f in await db.record_facts_of(conn, ids):
                self.history[entity_id].append(f)
            for entity_id, li in await db.listings_of(conn, ids):
                self.listings[entity_id].append(li)

        outcomes: list[Outcome | NonRetryableError] = []
        now = self.c.clock.now()  # one transaction, one instant: every item of the batch is decided at it
        for item, party in zip(items, parties):
            if isinstance(party, NonRetryableError):
                outcomes.append(party)
                continue
            if item.kind == "decide":
                assert isinstance(party, _Party)
                outcomes.append(self._decide(item, party, now))
            elif item.kind == "revoke":
                outcomes.append(self._revoke(item, now))
            else:
                assert isinstance(party, _Party)
                outcomes.append(self._referral(item, party, now))
        await self._write()
        for fn in self.counted:
            self.uow.after_commit(fn)
        return outcomes

    def _decision_no(self, item: Item) -> str:
        if item.kind == "referral":
            return f"referral:{item.cmd.case_id}"  # type: ignore[union-attr]
        return item.cmd.decision_no  # type: ignore[union-attr]

    def _party_of(self, item: Item) -> _Party | NonRetryableError | None:
        if item.kind == "revoke":
            return None
        if item.kind == "referral":
            suspect = item.cmd.suspect  # type: ignore[union-attr]
            if not suspect.credit_code and not suspect.name:
                return NonRetryableError("unidentifiable_party", "suspect: neither a credit code nor a name to record against",
                                         field="suspect")
            code = suspect.credit_code
            kind = "individual_trader" if code and code.startswith("92") else "organisation"
            party = Party(kind=kind, credit_code=code, name=suspect.name or code or "")
        else:
            party = item.cmd.party  # type: ignore[union-attr]
        person_hash = self.c.hasher(party.resident_id) if party.resident_id else None
        name_key = f"person:{person_hash}" if party.kind == "natural_person" else self.c.analyser.analyse(party.name).normalised
        return _Party(party, person_hash, name_key)

    def _index(self, e: _Entity) -> None:
        self.by_id[e.entity_id] = e
        if e.credit_code:
            self.by_code[e.credit_code] = e
        else:
            group = self.codeless[(e.name_key, e.kind)]
            group.append(e)
            group.sort(key=lambda x: (x.first_seen_at, x.entity_id))
        if e.person_hash:
            group = self.by_person[e.person_hash]
            group.append(e)
            group.sort(key=lambda x: (x.first_seen_at, x.entity_id))

    def _count(self, fn: Callable[[], None]) -> None:
        self.counted.append(fn)

    def _audit(self, item: Item, kind: str, subject: str, payload: dict[str, Any], now: dt.datetime) -> None:
        self.audits.append(audit.Pending(kind, subject, payload, actor=item.actor, at=now))

    def _emit(self, item: Item, topic: str, data: Any, *, key: str, correlationid: str | None = None) -> None:
        self.uow.emit(topic, data, key=key, correlationid=correlationid, cause=item.cause)

    def _refuse(self, item: Item, reason: str, detail: str, key: str, now: dt.datetime) -> Outcome:
        cmd, bureau = item.cmd, item.bureau
        assert bureau is not None
        self._emit(item, self.c.topics.penalty, PenaltyRefused(
            refused_type=cmd.EVENT_TYPE, refused_event_id=item.source_event_id, decision_no=cmd.decision_no,  # type: ignore[union-attr]
            bureau=bureau.id, reason=reason, detail=detail, refused_at=now,  # type: ignore[arg-type]
        ), key=key)
        self._audit(item, "penalty.refused", key, {
            "refused_type": cmd.EVENT_TYPE, "decision_no": cmd.decision_no, "bureau": bureau.id,  # type: ignore[union-attr]
            "reason": reason, "detail": detail, "refused_event_id": item.source_event_id,
        }, now)
        self._count(lambda: metrics.REFUSALS.labels(reason).inc())
        return Outcome("refused", reason=reason, detail=detail)

    # -- entities ---------------------------------------------------------------------------

    def _change(self, e: _Entity, now: dt.datetime) -> db.EntityChange:
        ch = self.changes.setdefault(e.entity_id, db.EntityChange(e.entity_id))
        ch.updated_at = now
        ch.bumps += 1
        return ch

    def _resolve(self, item: Item, p: _Party, now: dt.datetime, source: str) -> _Entity:
        """The registry entry of the party: by credit code, else by the person's hash, else by exact
        (normalised) name among entities without a code. An entity first seen without a code takes
        the code when a decision names both (``credit.entity-identified``). One person may be
        several entities (their own, and each 个体工商户 they run under its own code)."""
        party, analyser = p.party, self.c.analyser
        if party.credit_code:
            entity = self.by_code.get(party.credit_code)
            if entity is not None:
                if party.kind != "natural_person" and analyser.normalise(entity.name) != analyser.normalise(party.name):
                    self._rename(entity, party.name, p.name_key, now, source)
                return entity
            found = self._codeless_by_name(p.name_key, party.kind)
            if found is None and p.person_hash:
                found = next((e for e in self.by_person.get(p.person_hash, ()) if e.credit_code is None), None)
            if found is not None:
                self._take_code(found, party.credit_code, now)
                key = party.credit_code
                self._emit(item, self.c.topics.credit, EntityIdentified(
                    entity_id=found.entity_id, credit_code=key, name=found.name,
                    matched_on=p.name_key if not p.name_key.startswith("person:") else "resident ID", identified_at=now,
                ), key=key)
                self._audit(item, "credit.entity-identified", key, {"entity_id": found.entity_id, "credit_code": key,
                                                                    "matched_on": "name" if found.name else "person"}, now)
                return found
            return self._create(p, party.credit_code, now, source)
        if p.person_hash:
            # the person's own codeless entry (same kind first); never one of the coded entities (traders)
            # they run: which of several would be a guess
            codeless = [e for e in self.by_person.get(p.person_hash, ()) if e.credit_code is None]
            entity = next((e for e in codeless if e.kind == party.kind), codeless[0] if codeless else None)
            return entity if entity is not None else self._create(p, None, now, source)
        entity = self._codeless_by_name(p.name_key, party.kind)
        return entity if entity is not None else self._create(p, None, now, source)

    def _codeless_by_name(self, name_key: str, kind: str) -> _Entity | None:
        return next((e for e in self.codeless.get((name_key, kind), ()) if e.credit_code is None), None)

    def _create(self, p: _Party, code: str | None, now: dt.datetime, source: str) -> _Entity:
        party = p.party
        display = public_party(kind=party.kind, credit_code=party.credit_code, name=party.name, legal_representative=None,
                               resident_id=None)["name"]
        sealed = None
        if party.resident_id:
            sealed = {"resident_id": self.c.keyring.seal(party.resident_id, field="resident_id").model_dump(mode="json")}
            if party.kind == "natural_person":
                sealed["name"] = self.c.keyring.seal(party.name, field="name").model_dump(mode="json")
        masked = public_party(kind=party.kind, credit_code=None, name=party.name, legal_representative=None,
                              resident_id=party.resident_id)["resident_id_masked"]
        e = _Entity(db.new_id("ent"), code, party.kind, display, p.name_key, p.person_hash, now)
        self.new_entities.append({
            "entity_id": e.entity_id, "credit_code": code, "kind": party.kind, "name": display, "name_key": p.name_key,
            "person_hash": p.person_hash, "person_sealed": sealed, "person_masked": masked, "first_seen_at": now,
            "updated_at": now,
        })
        self.registered_row[e.entity_id] = len(self.names)
        self.names.append([e.entity_id, display, "registered", now, None, source])
        self._index(e)
        return e

    def _take_code(self, e: _Entity, code: str, now: dt.datetime) -> None:
        e.credit_code = code
        self.by_code[code] = e
        self._change(e, now).credit_code = code

    def _rename(self, e: _Entity, new_name: str, name_key: str, now: dt.datetime, source: str) -> None:
        """The registered name changed: the old one becomes a former name (name history)."""
        at = self.registered_row.get(e.entity_id)
        if at is None:
            self.retired.append((e.entity_id, now))
        else:
            self.names[at][2], self.names[at][4] = "former", now
        self.registered_row[e.entity_id] = len(self.names)
        self.names.append([e.entity_id, new_name, "registered", now, None, source])
        e.name, e.name_key = new_name, name_key
        ch = self._change(e, now)
        ch.name, ch.name_key = new_name, name_key

    # -- penalty decisions --------------------------------------------------------------------

    def _plan(self, kind: str, heavy: bool, decided_on: dt.date, now: dt.datetime) -> PublicityPlan:
        key = (kind, heavy, decided_on, local_day(now))
        cache = self.c.plan_cache
        plan = cache.get(key)
        if plan is None:
            if len(cache) > 20_000:
                cache.clear()
            plan = cache[key] = publicity_plan(self.c.book, self.c.calendar, kind=kind, heavy=heavy, decided_on=decided_on,
                                               now=now)
        return plan

    def _decide(self, item: Item, p: _Party, now: dt.datetime) -> Outcome:
        cmd, bureau, c = item.cmd, item.bureau, self.c
        assert isinstance(cmd, PenaltyDecided) and bureau is not None
        party_key = cmd.party.credit_code or cmd.decision_no
        if bureau.bureau_type in NOT_DECIDERS:
            return self._refuse(item, "not_a_bureau", f"{bureau.id} does not decide administrative penalties", party_key, now)
        digest = c.hasher(cmd.model_dump_json())  # keyed: the decision may hold a resident ID
        existing = self.records.get(cmd.decision_no)
        if existing is not None:
            if existing["bureau"] == bureau.id and existing["digest"] == digest:
                return Outcome("duplicate", record_id=existing["record_id"], entity_key=party_key)
            return self._refuse(
                item, "decision_no_taken", f"decision {cmd.decision_no} is on record already"
                + (" with other content" if existing["bureau"] == bureau.id else f" for another bureau ({existing['bureau']})"),
                party_key, now,
            )
        entity = self._resolve(item, p, now, source=f"penalty:{cmd.decision_no}")
        heavy = classify_heavy(c.book, penalty_types=cmd.penalty_types, aggravated=cmd.aggravated,
                               fine_amount=cmd.fine_amount, party_kind=cmd.party.kind, decided_on=cmd.decided_on)
        plan = self._plan("penalty", heavy.heavy, cmd.decided_on, now)
        party_public = public_party(kind=cmd.party.kind, credit_code=cmd.party.credit_code, name=cmd.party.name,
                                    legal_representative=cmd.party.legal_representative, resident_id=cmd.party.resident_id)
        record_id = db.new_id("rec")
        due = plan.disclosure_due
        due_on = due.due_date_local if due else None
        self._add_record({
            "record_id": record_id, "entity_id": entity.entity_id, "kind": "penalty", "decision_no": cmd.decision_no,
            "bureau": bureau.id, "bureau_type": bureau.bureau_type, "client_id": bureau.client_id, "category": cmd.category,
            "penalty_types": list(cmd.penalty_types), "fine_amount": cmd.fine_amount,
            "confiscated_amount": cmd.confiscated_amount, "violation": cmd.violation, "legal_basis": list(cmd.legal_basis),
            "content": cmd.content, "decided_on": cmd.decided_on, "aggravated": cmd.aggravated,
            "intentional": cmd.intentional, "heavy": heavy.heavy, "heavy_rules": list(heavy.rules),
            "severity": plan.type_id, "repairable": plan.repairable, "disclose": plan.disclose,
            "rules_version": c.book.version,
            "disclosure_due_at": due.due_at_utc if due else None, "disclosure_due_on": due_on,
            "disclosure_provisional": bool(due and due.provisional),
            "publicity_min_until": plan.min_until.due_at_utc, "publicity_min_on": plan.min_until.due_date_local,
            "publicity_max_until": plan.max_until.due_at_utc, "publicity_max_on": plan.max_until.due_date_local,
            "party": party_public, "digest": digest, "case_id": cmd.case_id, "source_event_id": item.source_event_id,
            "created_at": now,
        })
        key = entity.key
        sealed = c.keyring.seal(cmd.party.resident_id, field="resident_id") if cmd.party.resident_id else None
        self._emit(item, c.topics.penalty, PenaltyRecorded(
            record_id=record_id, decision_no=cmd.decision_no, bureau=bureau.id, bureau_type=bureau.bureau_type,
            entity_id=entity.entity_id, party=PublicParty(**party_public, resident_id_sealed=sealed), category=cmd.category,
            penalty_types=list(cmd.penalty_types), fine_amount=cmd.fine_amount, confiscated_amount=cmd.confiscated_amount,
            decided_on=cmd.decided_on, heavy=heavy.heavy, heavy_rules=list(heavy.rules), severity=plan.type_id,
            disclosure_due_on=due_on, disclosure_due_provisional=bool(due and due.provisional),
            publicity_min_until=plan.min_until.due_date_local, publicity_max_until=plan.max_until.due_date_local,
            rules_version=c.book.version, case_id=cmd.case_id, recorded_at=now,
        ), key=key, correlationid=cmd.case_id)
        self._emit(item, c.topics.credit, RecordCreated(
            record_id=record_id, kind="penalty", entity_id=entity.entity_id, credit_code=entity.credit_code, bureau=bureau.id,
            category=cmd.category, decided_on=cmd.decided_on, heavy=heavy.heavy, severity=plan.type_id, disclose=plan.disclose,
            disclosure_due_on=due_on, publicity_min_until=plan.min_until.due_date_local,
            publicity_max_until=plan.max_until.due_date_local, rules_version=c.book.version, created_at=now,
        ), key=key, correlationid=cmd.case_id)
        self._audit(item, "credit.record-created", key, {
            "record_id": record_id, "kind": "penalty", "decision_no": cmd.decision_no, "bureau": bureau.id,
            "entity_id": entity.entity_id, "category": cmd.category, "penalty_types": list(cmd.penalty_types),
            "fine_amount": cmd.fine_amount, "confiscated_amount": cmd.confiscated_amount, "decided_on": cmd.decided_on,
            "heavy": heavy.heavy, "heavy_rules": list(heavy.rules), "severity": plan.type_id,
            "disclosure_due_on": due_on, "publicity_min_on": plan.min_until.due_date_local,
            "publicity_max_on": plan.max_until.due_date_local, "rules_version": c.book.version,
            "citations": list(heavy.citations + plan.citations), "source_event_id": item.source_event_id,
        }, now)
        severity, bureau_type = plan.type_id, bureau.bureau_type
        self._count(lambda: metrics.RECORDS_CREATED.labels("penalty", severity, bureau_type).inc())
        new = RecordFacts(record_id, "penalty", cmd.category, cmd.decided_on, heavy.heavy, cmd.intentional, "active",
                          bureau.id, cmd.decision_no)
        listed = self._evaluate_list(item, entity, new, now)
        return Outcome("recorded", record_id=record_id, entity_key=key, facts={
            "entity_id": entity.entity_id, "heavy": heavy.heavy, "heavy_rules": list(heavy.rules), "severity": plan.type_id,
            "disclosure_due_on": due_on.isoformat() if due_on else None, "disclosure_due_provisional": bool(due and due.provisional),
            "publicity_min_until": plan.min_until.due_date_local.isoformat(),
            "publicity_max_until": plan.max_until.due_date_local.isoformat(), "listings": listed,
        })

    def _add_record(self, values: dict[str, Any]) -> None:
        row = {**RECORD_DEFAULTS, **values}
        self.new_records.append(row)
        self.records[row["decision_no"]] = {**row, "status": "active", "end_reason": None}
        self.history[row["entity_id"]].append(db.facts(self.records[row["decision_no"]]))  # type: ignore[arg-type]

    def _evaluate_list(self, item: Item, entity: _Entity, new: RecordFacts, now: dt.datetime) -> list[str]:
        c = self.c
        history, listings = self.history[entity.entity_id], self.listings[entity.entity_id]
        made: list[str] = []
        for decision in blacklist.evaluate(c.book, new, history, listings, c.is_ip):
            if self._list_period is None or self._list_period[0] != now:
                self._list_period = (now, blacklist.list_period(c.book, c.calendar, now))
            period = self._list_period[1]
            listing_id = db.new_id("lst")
            measures = self._measures.get((decision.rule_id, now))
            if measures is None:
                measures = self._measures[(decision.rule_id, now)] = measure_ids_for_listing(c.book, decision.rule_id, local_day(now))
            self.new_listings.append({
                "listing_id": listing_id, "entity_id": entity.entity_id, "rule_id": decision.rule_id,
                "rule_version": decision.rule_version, "citation": decision.citation, "reason": decision.reason,
                "authority": decision.authority, "early_removal": decision.early_removal, "measures": measures,
                "listed_at": now, "expires_at": period.expires.due_at_utc, "expires_on": period.expires.due_date_local,
                "early_removal_from": period.early_removal_from.due_at_utc,
                "early_removal_on": period.early_removal_from.due_date_local, "rules_version": c.book.version,
            })
            self.triggers.extend((listing_id, r, decision.rule_id) for r in decision.triggers)
            listings.append(ListingFacts(listing_id, decision.rule_id, "listed", now, tuple(decision.triggers)))
            self._emit(item, c.topics.credit, Blacklisted(
                listing_id=listing_id, entity_id=entity.entity_id, credit_code=entity.credit_code, name=entity.name,
                rule_id=decision.rule_id, rule_version=decision.rule_version, citation=decision.citation,
                reason=decision.reason, triggering_records=list(decision.triggers), authority=decision.authority,
                listed_at=now, expires_on=period.expires.due_date_local,
                early_removal_from=period.early_removal_from.due_date_local, measures=measures,
            ), key=entity.key)
            self._audit(item, "credit.blacklisted", entity.key, {
                "listing_id": listing_id, "entity_id": entity.entity_id, "rule_id": decision.rule_id,
                "rule_version": decision.rule_version, "citation": decision.citation, "reason": decision.reason,
                "triggering_records": list(decision.triggers), "expires_on": period.expires.due_date_local,
                "early_removal_from": period.early_removal_from.due_date_local, "measures": measures,
            }, now)
            rule_id = decision.rule_id
            self._count(lambda: metrics.LISTING_CHANGES.labels(rule_id, "listed").inc())
            made.append(listing_id)
        return made

    # -- revocations ----------------------------------------------------------------------------

    def _revoke(self, item: Item, now: dt.datetime) -> Outcome:
        cmd, bureau, c = item.cmd, item.bureau, self.c
        assert isinstance(cmd, PenaltyRevoked) and bureau is not None
        record = self.records.get(cmd.decision_no)
        if record is None or record["kind"] != "penalty":
            return self._refuse(item, "unknown_decision", f"no penalty decision {cmd.decision_no} on record", cmd.decision_no, now)
        entity = self.by_id[record["entity_id"]]
        key = entity.key
        if record["bureau"] != bureau.id:
            return self._refuse(
                item, "not_decider_of_record",
                f"decision {cmd.decision_no} was decided by {record['bureau']}; only the decider of record may revoke it", key, now,
            )
        if record["status"] == "revoked":
            if record["end_reason"] == cmd.reason:
                return Outcome("duplicate", record_id=record["record_id"], entity_key=key)
            return self._refuse(item, "already_revoked", f"decision {cmd.decision_no} was revoked already", key, now)
        previous = record["status"]
        record.update(status="revoked", ended_at=now, end_reason=cmd.reason)
        self.revoked.append((record["record_id"], now, cmd.reason))
        history = self.history[entity.entity_id]
        history[:] = [dataclasses.replace(f, status="revoked") if f.record_id == record["record_id"] else f for f in history]
        self._emit(item, c.topics.penalty, PenaltyRevocationAccepted(
            record_id=record["record_id"], decision_no=cmd.decision_no, bureau=bureau.id, entity_id=entity.entity_id,
            credit_code=entity.credit_code, revoked_on=cmd.revoked_on, reason=cmd.reason, accepted_at=now,
        ), key=key)
        self._emit(item, c.topics.credit, RecordWithdrawn(
            record_id=record["record_id"], entity_id=entity.entity_id, credit_code=entity.credit_code,
            reason=cmd.reason, withdrawn_at=now,
        ), key=key)
        self._audit(item, "penalty.revoked", key, {
            "record_id": record["record_id"], "decision_no": cmd.decision_no, "bureau": bureau.id,
            "revoked_on": cmd.revoked_on, "reason": cmd.reason, "previous_status": previous,
            "source_event_id": item.source_event_id,
        }, now)
        self._count(lambda: metrics.RECORDS_ENDED.labels("revoked").inc())
        for listing in list(self.listings[entity.entity_id]):
            if listing.status == "listed" and record["record_id"] in listing.triggering \
                    and not blacklist.still_holds(c.book, listing, history, c.is_ip):
                self._end_listing(item, entity, listing, "trigger_revoked", now)
        return Outcome("revoked", record_id=record["record_id"], entity_key=key)

    def _end_listing(self, item: Item, entity: _Entity, listing: ListingFacts, reason: str, now: dt.datetime) -> None:
        listings = self.listings[entity.entity_id]
        listings[listings.index(listing)] = dataclasses.replace(listing, status="delisted")
        self.delisted.append((listing.listing_id, reason, now, None))
        key = entity.key
        self._emit(item, self.c.topics.credit, Delisted(
            listing_id=listing.listing_id, entity_id=entity.entity_id, credit_code=entity.credit_code, rule_id=listing.rule_id,
            reason=reason, application_id=None, delisted_at=now,  # type: ignore[arg-type]
        ), key=key)
        self._audit(item, "credit.delisted", key, {"listing_id": listing.listing_id, "entity_id": entity.entity_id,
                                                   "rule_id": listing.rule_id, "reason": reason, "application_id": None}, now)
        rule_id = listing.rule_id
        self._count(lambda: metrics.LISTING_CHANGES.labels(rule_id, reason).inc())

    # -- criminal referrals (from routing) ------------------------------------------------------

    def _referral(self, item: Item, p: _Party, now: dt.datetime) -> Outcome:
        ref, c = item.cmd, self.c
        assert isinstance(ref, ReferralAccepted)
        decision_no = f"referral:{ref.case_id}"
        existing = self.records.get(decision_no)
        if existing is not None:
            return Outcome("duplicate", record_id=existing["record_id"])
        party = p.party
        code, kind = party.credit_code, party.kind
        entity = self._resolve(item, p, now, source=f"referral:{ref.case_id}")
        decided_on = local_day(ref.at)
        bureau_type = ref.agency.partition("@")[0]
        plan = self._plan("criminal_referral", False, decided_on, now)
        record_id = db.new_id("rec")
        party_public = public_party(kind=kind, credit_code=code, name=party.name, legal_representative=None, resident_id=None)
        self._add_record({
            "record_id": record_id, "entity_id": entity.entity_id, "kind": "criminal_referral", "decision_no": decision_no,
            "bureau": ref.agency, "bureau_type": bureau_type, "category": ref.category, "decided_on": decided_on,
            "heavy": False, "severity": plan.type_id, "repairable": plan.repairable, "disclose": plan.disclose,
            "rules_version": c.book.version,
            "publicity_min_until": plan.min_until.due_at_utc, "publicity_min_on": plan.min_until.due_date_local,
            "publicity_max_until": plan.max_until.due_at_utc, "publicity_max_on": plan.max_until.due_date_local,
            "violation": f"涉嫌犯罪移送, 公安机关已立案 ({ref.police_case_no or ref.police})",
            "party": party_public, "digest": c.hasher(ref.model_dump_json()),
            "case_id": ref.case_id, "source_event_id": item.source_event_id, "created_at": now,
        })
        key = entity.key
        self._emit(item, c.topics.credit, RecordCreated(
            record_id=record_id, kind="criminal_referral", entity_id=entity.entity_id, credit_code=entity.credit_code,
            bureau=ref.agency, category=ref.category, decided_on=decided_on, heavy=False, severity=plan.type_id,
            disclose=plan.disclose, publicity_min_until=plan.min_until.due_date_local,
            publicity_max_until=plan.max_until.due_date_local, rules_version=c.book.version, created_at=now,
        ), key=key, correlationid=ref.case_id)
        self._audit(item, "credit.record-created", key, {
            "record_id": record_id, "kind": "criminal_referral", "case_id": ref.case_id, "referral_id": ref.referral_id,
            "agency": ref.agency, "police": ref.police, "police_case_no": ref.police_case_no, "category": ref.category,
            "entity_id": entity.entity_id, "decided_on": decided_on, "severity": plan.type_id,
            "publicity_max_on": plan.max_until.due_date_local, "rules_version": c.book.version,
            "source_event_id": item.source_event_id,
        }, now)
        severity = plan.type_id
        self._count(lambda: metrics.RECORDS_CREATED.labels("criminal_referral", severity, bureau_type).inc())
        new = RecordFacts(record_id, "criminal_referral", ref.category, decided_on, False, False, "active", ref.agency, ref.case_id)
        listed = self._evaluate_list(item, entity, new, now)
        return Outcome("recorded", record_id=record_id, entity_key=key, facts={"listings": listed})

    # -- the writes -------------------------------------------------------------------------------

    async def _write(self) -> None:
        conn = self.uow.conn
        await db.insert_rows(conn, "entities", self.new_entities)
        await db.retire_registered_names(conn, self.retired)
        await db.insert_entity_names(conn, [tuple(n) for n in self.names])  # type: ignore[misc]
        await db.apply_entity_changes(conn, list(self.changes.values()))
        await db.insert_rows(conn, "records", self.new_records)
        await db.revoke_records(conn, self.revoked)
        await db.insert_rows(conn, "listings", self.new_listings)
        await db.insert_listing_triggers(conn, self.triggers)
        await db.delist_many(conn, self.delisted)
        await audit.append_many(conn, self.audits)
