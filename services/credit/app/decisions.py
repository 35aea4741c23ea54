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
   the order of the batch), in memory: an item sees what the items before it did — a penalty here,
   a revocation in `app.revocation`, a referral in `app.referrals`, the party's entity in
   `app.matching`, the list in `app.listings`;
4. multi-row writes: entities, names, entity changes, records, revocations, listings, triggers,
   delistings, and the audit entries chained in one append (`shared.audit.append_many`).

Events are emitted while deciding (`cause=` the record that caused them), so their order per key
is the order of the items; metrics are counted after commit.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, Callable, Sequence

from shared import audit
from shared.contracts.credit import RecordCreated
from shared.contracts.penalty import Party, PenaltyDecided, PenaltyRecorded, PenaltyRefused, PublicParty
from shared.runtime import NonRetryableError, UnitOfWork

from services.credit import metrics
from services.credit.adapters.postgres import entities as entities_db
from services.credit.adapters.postgres import listings as listings_db
from services.credit.adapters.postgres import new_id
from services.credit.adapters.postgres import penalties as penalties_db
from services.credit.adapters.postgres import proceedings as proceedings_db
from services.credit.adapters.postgres import insert_rows, lock_keys
from services.credit.app import listings, matching, prosecution, referrals, revocation
from services.credit.app.context import Credit, EntityState, Item, Outcome, PartyKeys, local_day
from services.credit.domain import blacklist
from services.credit.domain.disclosure import public_party
from services.credit.domain.model import Bureau, ListingFacts, RecordFacts
from services.credit.domain.records import PublicityPlan, classify_heavy, publicity_plan

#: bureau types that do not decide penalties
NOT_DECIDERS = frozenset({"office"})

RECORD_DEFAULTS: dict[str, Any] = {
    "client_id": None, "penalty_types": [], "fine_amount": None, "confiscated_amount": None, "violation": "",
    "legal_basis": [], "content": "", "aggravated": False, "intentional": False, "heavy_rules": [],
    "disclosure_due_at": None, "disclosure_due_on": None, "disclosure_provisional": False, "case_id": None,
    "source_event_id": None, "conduct": None,
}


def conduct_of(figures: dict[str, Any]) -> int | None:
    """The 刑法 article the decision's figures name as the conduct (validated by `PenaltyDecided`)."""
    value = figures.get("conduct")
    return int(value) if value is not None else None


async def run_batch(credit: Credit, uow: UnitOfWork, items: Sequence[Item]) -> list[Outcome | NonRetryableError]:
    """Decide `items` in one batch (see the module docstring)."""
    if not items:
        return []
    return await DecisionBatch(credit, uow).run(items)


async def run_one(credit: Credit, uow: UnitOfWork, item: Item) -> Outcome:
    (outcome,) = await DecisionBatch(credit, uow).run([item])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


async def decide(credit: Credit, uow: UnitOfWork, bureau: Bureau, cmd: PenaltyDecided, *,
                 source_event_id: str | None = None) -> Outcome:
    """One penalty decision (HTTP): the batch code with a list of one."""
    return await run_one(credit, uow, Item("decide", cmd, bureau, source_event_id, uow.actor))


class DecisionBatch:
    """The state one batch reads, the decisions it takes in memory, and the rows it writes."""

    def __init__(self, credit: Credit, uow: UnitOfWork) -> None:
        self.c = credit
        self.uow = uow
        self.by_id: dict[str, EntityState] = {}
        self.by_code: dict[str, EntityState] = {}
        self.by_person: dict[str, list[EntityState]] = defaultdict(list)
        self.codeless: dict[tuple[str, str], list[EntityState]] = defaultdict(list)
        self.records: dict[str, dict[str, Any]] = {}
        self.history: dict[str, list[RecordFacts]] = defaultdict(list)
        self.listings: dict[str, list[ListingFacts]] = defaultdict(list)
        # writes, in statement order
        self.new_entities: list[dict[str, Any]] = []
        self.retired: list[tuple[str, dt.datetime]] = []
        self.names: list[list[Any]] = []
        self.registered_row: dict[str, int] = {}  # entity id → index in `names` of its registered name written here
        self.changes: dict[str, entities_db.EntityChange] = {}
        self.new_records: list[dict[str, Any]] = []
        self.revoked: list[tuple[str, dt.datetime, str]] = []
        self.new_listings: list[dict[str, Any]] = []
        #: 以罚代刑 alerts to send once their grace period is over (`app.prosecution`)
        self.pending_alerts: list[dict[str, Any]] = []
        self.triggers: list[tuple[str, str, str]] = []
        self.delisted: list[tuple[str, str, dt.datetime, str | None]] = []
        #: listing proceedings of the batch's entities (dicts: proceeding_id, rule_id, state, opened_at, triggering)
        self.proceedings: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.new_proceedings: list[dict[str, Any]] = []
        self.withdrawn: list[tuple[str, dt.datetime, dict[str, Any]]] = []
        #: each case's referral state, for the cases of the batch's decisions that carry figures
        self.referral_states: dict[str, str] = {}
        self.audits: list[audit.Pending] = []
        self.counted: list[Callable[[], None]] = []
        self.list_period: tuple[dt.datetime, blacklist.ListPeriod] | None = None
        self.measures: dict[tuple[str, dt.datetime], list[str]] = {}

    async def run(self, items: Sequence[Item]) -> list[Outcome | NonRetryableError]:
        parties: list[PartyKeys | NonRetryableError | None] = [self._party_of(it) for it in items]
        conn = self.uow.conn
        await audit.lock(conn)  # the chain's lock before any row lock: one lock order, no deadlock
        decision_nos = sorted({self._decision_no(it) for it in items})
        keys = [f"credit:decision:{n}" for n in decision_nos]
        for p in parties:
            if isinstance(p, PartyKeys):
                if p.party.credit_code:
                    keys.append(f"credit:entity-code:{p.party.credit_code}")
                if p.person_hash:
                    keys.append(f"credit:entity-person:{p.person_hash}")
                keys.append(f"credit:entity-name:{p.name_key}")
        await lock_keys(conn, keys)
        for row in await penalties_db.records_by_decision_nos(conn, decision_nos):
            self.records[row["decision_no"]] = dict(row)
        known = [p for p in parties if isinstance(p, PartyKeys)]
        for row in await entities_db.entities_matching(
            conn, codes=sorted({p.party.credit_code for p in known if p.party.credit_code}),
            person_hashes=sorted({p.person_hash for p in known if p.person_hash}),
            name_keys=sorted({p.name_key for p in known}), entity_ids=sorted({r["entity_id"] for r in self.records.values()}),
        ):
            self.index(EntityState(row["entity_id"], row["credit_code"], row["kind"], row["name"], row["name_key"],
                                row["person_hash"], row["first_seen_at"]))
        if self.by_id:
            ids = sorted(self.by_id)
            for entity_id, f in await penalties_db.record_facts_of(conn, ids):
                self.history[entity_id].append(f)
            for entity_id, li in await listings_db.listings_of(conn, ids):
                self.listings[entity_id].append(li)
            for row in await proceedings_db.proceedings_of(conn, ids):
                self.proceedings[row["entity_id"]].append({k: row[k] for k in row.keys() if k != "entity_id"})
        cases = sorted({it.cmd.case_id for it in items if isinstance(it.cmd, PenaltyDecided) and it.cmd.figures
                        and it.cmd.case_id})
        self.referral_states = await proceedings_db.referral_states(conn, cases)

        outcomes: list[Outcome | NonRetryableError] = []
        now = self.c.clock.now()  # one transaction, one instant: every item of the batch is decided at it
        for item, party in zip(items, parties):
            if isinstance(party, NonRetryableError):
                outcomes.append(party)
                continue
            if item.kind == "decide":
                assert isinstance(party, PartyKeys)
                outcomes.append(self._decide(item, party, now))
            elif item.kind == "revoke":
                outcomes.append(revocation.revoke(self, item, now))
            else:
                assert isinstance(party, PartyKeys)
                outcomes.append(referrals.record(self, item, party, now))
        await self._write()
        for fn in self.counted:
            self.uow.after_commit(fn)
        return outcomes

    def _decision_no(self, item: Item) -> str:
        if item.kind == "referral":
            return f"referral:{item.cmd.case_id}"  # type: ignore[union-attr]
        return item.cmd.decision_no  # type: ignore[union-attr]

    def _party_of(self, item: Item) -> PartyKeys | NonRetryableError | None:
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
        name_key = f"person:{person_hash}" if party.kind == "natural_person" else self.c.name_key(party.name)
        return PartyKeys(party, person_hash, name_key)

    def index(self, e: EntityState) -> None:
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

    def count(self, fn: Callable[[], None]) -> None:
        self.counted.append(fn)

    def audit(self, item: Item, kind: str, subject: str, payload: dict[str, Any], now: dt.datetime) -> None:
        self.audits.append(audit.Pending(kind, subject, payload, actor=item.actor, at=now))

    def emit(self, item: Item, topic: str, data: Any, *, key: str, correlationid: str | None = None) -> None:
        self.uow.emit(topic, data, key=key, correlationid=correlationid, cause=item.cause)

    def refuse(self, item: Item, reason: str, detail: str, key: str, now: dt.datetime) -> Outcome:
        cmd, bureau = item.cmd, item.bureau
        assert bureau is not None
        self.emit(item, self.c.topics.penalty, PenaltyRefused(
            refused_type=cmd.EVENT_TYPE, refused_event_id=item.source_event_id, decision_no=cmd.decision_no,  # type: ignore[union-attr]
            bureau=bureau.id, reason=reason, detail=detail, refused_at=now,  # type: ignore[arg-type]
        ), key=key)
        self.audit(item, "penalty.refused", key, {
            "refused_type": cmd.EVENT_TYPE, "decision_no": cmd.decision_no, "bureau": bureau.id,  # type: ignore[union-attr]
            "reason": reason, "detail": detail, "refused_event_id": item.source_event_id,
        }, now)
        self.count(lambda: metrics.REFUSALS.labels(reason).inc())
        return Outcome("refused", reason=reason, detail=detail)

    def plan(self, kind: str, heavy: bool, decided_on: dt.date, now: dt.datetime) -> PublicityPlan:
        key = (kind, heavy, decided_on, local_day(now))
        cache = self.c.plan_cache
        plan = cache.get(key)
        if plan is None:
            if len(cache) > 20_000:
                cache.clear()
            plan = cache[key] = publicity_plan(self.c.book, self.c.calendar, kind=kind, heavy=heavy, decided_on=decided_on,
                                               now=now)
        return plan

    def _decide(self, item: Item, p: PartyKeys, now: dt.datetime) -> Outcome:
        cmd, bureau, c = item.cmd, item.bureau, self.c
        assert isinstance(cmd, PenaltyDecided) and bureau is not None
        party_key = cmd.party.credit_code or cmd.decision_no
        if bureau.bureau_type in NOT_DECIDERS:
            return self.refuse(item, "not_a_bureau", f"{bureau.id} does not decide administrative penalties", party_key, now)
        # keyed: the decision may hold a resident ID; without figures the digest is the one recorded before they existed
        # (and without conduct_on, the one recorded before it existed)
        absent = ({"figures"} if not cmd.figures else set()) | ({"conduct_on"} if cmd.conduct_on is None else set())
        digest = c.hasher(cmd.model_dump_json(exclude=absent or None))
        existing = self.records.get(cmd.decision_no)
        if existing is not None:
            if existing["bureau"] == bureau.id and existing["digest"] == digest:
                return Outcome("duplicate", record_id=existing["record_id"], entity_key=party_key)
            return self.refuse(
                item, "decision_no_taken", f"decision {cmd.decision_no} is on record already"
                + (" with other content" if existing["bureau"] == bureau.id else f" for another bureau ({existing['bureau']})"),
                party_key, now,
            )
        entity = matching.resolve(self, item, p, now, source=f"penalty:{cmd.decision_no}")
        heavy = classify_heavy(c.book, penalty_types=cmd.penalty_types, aggravated=cmd.aggravated,
                               fine_amount=cmd.fine_amount, party_kind=cmd.party.kind, decided_on=cmd.decided_on)
        plan = self.plan("penalty", heavy.heavy, cmd.decided_on, now)
        party_public = public_party(kind=cmd.party.kind, credit_code=cmd.party.credit_code, name=cmd.party.name,
                                    legal_representative=cmd.party.legal_representative, resident_id=cmd.party.resident_id,
                                    rule=c.book.party_names.at(local_day(now)))
        record_id = new_id("rec")
        due = plan.disclosure_due
        due_on = due.due_date_local if due else None
        self.add_record({
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
            "created_at": now, "conduct": conduct_of(cmd.figures),
        })
        key = entity.key
        sealed = c.keyring.seal(cmd.party.resident_id, field="resident_id") if cmd.party.resident_id else None
        self.emit(item, c.topics.penalty, PenaltyRecorded(
            record_id=record_id, decision_no=cmd.decision_no, bureau=bureau.id, bureau_type=bureau.bureau_type,
            entity_id=entity.entity_id, party=PublicParty(**party_public, resident_id_sealed=sealed), category=cmd.category,
            penalty_types=list(cmd.penalty_types), fine_amount=cmd.fine_amount, confiscated_amount=cmd.confiscated_amount,
            decided_on=cmd.decided_on, heavy=heavy.heavy, heavy_rules=list(heavy.rules), severity=plan.type_id,
            disclosure_due_on=due_on, disclosure_due_provisional=bool(due and due.provisional),
            publicity_min_until=plan.min_until.due_date_local, publicity_max_until=plan.max_until.due_date_local,
            rules_version=c.book.version, case_id=cmd.case_id, recorded_at=now,
        ), key=key, correlationid=cmd.case_id)
        self.emit(item, c.topics.credit, RecordCreated(
            record_id=record_id, kind="penalty", entity_id=entity.entity_id, credit_code=entity.credit_code, bureau=bureau.id,
            category=cmd.category, decided_on=cmd.decided_on, heavy=heavy.heavy, severity=plan.type_id, disclose=plan.disclose,
            disclosure_due_on=due_on, publicity_min_until=plan.min_until.due_date_local,
            publicity_max_until=plan.max_until.due_date_local, rules_version=c.book.version, created_at=now,
        ), key=key, correlationid=cmd.case_id)
        self.audit(item, "credit.record-created", key, {
            "record_id": record_id, "kind": "penalty", "decision_no": cmd.decision_no, "bureau": bureau.id,
            "entity_id": entity.entity_id, "category": cmd.category, "penalty_types": list(cmd.penalty_types),
            "fine_amount": cmd.fine_amount, "confiscated_amount": cmd.confiscated_amount, "decided_on": cmd.decided_on,
            "heavy": heavy.heavy, "heavy_rules": list(heavy.rules), "severity": plan.type_id,
            "disclosure_due_on": due_on, "publicity_min_on": plan.min_until.due_date_local,
            "publicity_max_on": plan.max_until.due_date_local, "rules_version": c.book.version,
            "citations": list(heavy.citations + plan.citations), "source_event_id": item.source_event_id,
        }, now)
        severity, bureau_type = plan.type_id, bureau.bureau_type
        self.count(lambda: metrics.RECORDS_CREATED.labels("penalty", severity, bureau_type).inc())
        new = RecordFacts(record_id, "penalty", cmd.category, cmd.decided_on, heavy.heavy, cmd.intentional, "active",
                          bureau.id, cmd.decision_no, conduct_of(cmd.figures))
        proceedings = listings.evaluate(self, item, entity, new, now)
        flagged = prosecution.check(self, item, entity, record_id, cmd, bureau, now)
        return Outcome("recorded", record_id=record_id, entity_key=key, facts={
            "entity_id": entity.entity_id, "heavy": heavy.heavy, "heavy_rules": list(heavy.rules), "severity": plan.type_id,
            "disclosure_due_on": due_on.isoformat() if due_on else None, "disclosure_due_provisional": bool(due and due.provisional),
            "publicity_min_until": plan.min_until.due_date_local.isoformat(),
            "publicity_max_until": plan.max_until.due_date_local.isoformat(), "listing_proceedings": proceedings, "substitutes_prosecution": flagged,
        })

    def add_record(self, values: dict[str, Any]) -> None:
        row = {**RECORD_DEFAULTS, **values}
        self.new_records.append(row)
        self.records[row["decision_no"]] = {**row, "status": "active", "end_reason": None}
        self.history[row["entity_id"]].append(penalties_db.facts(self.records[row["decision_no"]]))  # type: ignore[arg-type]

    async def _write(self) -> None:
        conn = self.uow.conn
        await insert_rows(conn, "entities", self.new_entities)
        await entities_db.retire_registered_names(conn, self.retired)
        await entities_db.insert_entity_names(conn, [tuple(n) for n in self.names])  # type: ignore[misc]
        await entities_db.apply_entity_changes(conn, list(self.changes.values()))
        await insert_rows(conn, "records", self.new_records)
        await insert_rows(conn, "substitution_alerts", self.pending_alerts)
        await penalties_db.revoke_records(conn, self.revoked)
        await insert_rows(conn, "listings", self.new_listings)
        await listings_db.insert_listing_triggers(conn, self.triggers)
        await listings_db.delist_many(conn, self.delisted)
        await insert_rows(conn, "listing_proceedings", self.new_proceedings)
        await proceedings_db.withdraw_many(conn, self.withdrawn)
        await audit.append_many(conn, self.audits)
