"""Listing proceedings (issue 14 §2): a list rule's match opens one inside the decision batch (set-based,
no extra round trip: its row is written with the batch's), a revoked trigger withdraws the open ones
(Order 44 art. 19), and the bureau — the office for a local-policy flag, the level above for the
consent — takes each step over HTTP (`take_step`, one transaction). Only a proceeding that ends
`listed` makes a listing (`credit.blacklisted`)."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import asyncpg

from shared import audit
from shared.contracts.credit import Blacklisted, ListingProceedingAdvanced, ListingProceedingOpened
from shared.runtime import UnitOfWork

from services.credit import metrics
from services.credit.adapters.postgres import insert_rows, new_id
from services.credit.adapters.postgres import listings as listings_db
from services.credit.adapters.postgres import proceedings as proceedings_db
from services.credit.app.context import Credit, local_day
from services.credit.app.errors import Conflict, Invalid, NotAllowed, NotFound
from services.credit.domain import blacklist
from services.credit.domain.listing_steps import OPEN_STATES, Proceeding, Step, StepRefused, advance, approver_of
from services.credit.domain.measures import measure_ids_for_listing
from services.credit.domain.model import Bureau, ListingFacts

if TYPE_CHECKING:
    from services.credit.app.context import EntityState, Item
    from services.credit.app.decisions import DecisionBatch


def as_listing_facts(row: Any) -> ListingFacts:
    """A proceeding as the list rules see it: open ones block a second proceeding under the rule
    ("listed"), closed ones only use up their triggers."""
    status = "listed" if row["state"] in OPEN_STATES else "delisted"
    return ListingFacts(row["proceeding_id"], row["rule_id"], status, row["opened_at"], tuple(row["triggering"]))


def open_in_batch(b: "DecisionBatch", item: "Item", entity: "EntityState", decision: blacklist.ListingDecision,
                  now: dt.datetime) -> str:
    c = b.c
    procedure = c.book.blacklist.procedure.at(local_day(now))
    proceeding_id = new_id("lpr")
    state = "weighing" if decision.basis == "order44" else "review"
    approver = approver_of(procedure, decision.authority)
    b.new_proceedings.append({
        "proceeding_id": proceeding_id, "entity_id": entity.entity_id, "rule_id": decision.rule_id,
        "rule_version": decision.rule_version, "basis": decision.basis, "citation": decision.citation,
        "reason": decision.reason, "authority": decision.authority, "approver": approver,
        "early_removal": decision.early_removal, "triggering": list(decision.triggers), "state": state,
        "steps": [{"action": "open", "by": "credit", "at": now, "to": state}], "rules_version": c.book.version,
        "opened_at": now,
    })
    facts = {"proceeding_id": proceeding_id, "rule_id": decision.rule_id, "state": state, "opened_at": now,
             "triggering": list(decision.triggers)}
    b.proceedings[entity.entity_id].append(facts)
    b.emit(item, c.topics.credit, ListingProceedingOpened(
        proceeding_id=proceeding_id, entity_id=entity.entity_id, credit_code=entity.credit_code, name=entity.name,
        rule_id=decision.rule_id, rule_version=decision.rule_version, basis=decision.basis,  # type: ignore[arg-type]
        citation=decision.citation, reason=decision.reason, triggering_records=list(decision.triggers),
        state=state, authority=decision.authority, approver=approver, opened_at=now,  # type: ignore[arg-type]
    ), key=entity.key)
    b.audit(item, "credit.listing-proceeding-opened", entity.key, {
        "proceeding_id": proceeding_id, "entity_id": entity.entity_id, "rule_id": decision.rule_id,
        "rule_version": decision.rule_version, "basis": decision.basis, "citation": decision.citation,
        "reason": decision.reason, "triggering_records": list(decision.triggers), "state": state,
        "authority": decision.authority, "approver": approver,
    }, now)
    rule_id = decision.rule_id
    b.count(lambda: metrics.PROCEEDING_STEPS.labels(rule_id, "open", state).inc())
    return proceeding_id


def withdraw_in_batch(b: "DecisionBatch", item: "Item", entity: "EntityState", record_id: str, now: dt.datetime) -> None:
    """Open proceedings triggered by a revoked record whose other triggers no longer satisfy the rule end
    `withdrawn` (Order 44 art. 19: the listing's basis is gone)."""
    c = b.c
    history = b.history[entity.entity_id]
    for p in b.proceedings[entity.entity_id]:
        if p["state"] not in OPEN_STATES or record_id not in p["triggering"]:
            continue
        facts = as_listing_facts(p)
        if blacklist.still_holds(c.book, facts, history, c.is_ip):
            continue
        from_state = p["state"]
        p["state"] = "withdrawn"
        art = c.book.blacklist.procedure.at(local_day(now)).basis_revoked
        citation = f"{c.book.blacklist.procedure.at(local_day(now)).citation} {art.article}"
        reason = f"trigger {record_id} revoked"
        b.withdrawn.append((p["proceeding_id"], now, {"action": "withdraw", "by": "credit", "at": now.isoformat(),
                                                      "from": from_state, "to": "withdrawn", "reason": reason}))
        b.emit(item, c.topics.credit, ListingProceedingAdvanced(
            proceeding_id=p["proceeding_id"], entity_id=entity.entity_id, credit_code=entity.credit_code,
            rule_id=p["rule_id"], action="withdraw", from_state=from_state, state="withdrawn", by="credit",  # type: ignore[arg-type]
            reason=reason, citation=citation, at=now,
        ), key=entity.key)
        b.audit(item, "credit.listing-proceeding-advanced", entity.key, {
            "proceeding_id": p["proceeding_id"], "action": "withdraw", "from_state": from_state, "state": "withdrawn",
            "reason": reason, "citation": citation,
        }, now)
        rule_id = p["rule_id"]
        b.count(lambda: metrics.PROCEEDING_STEPS.labels(rule_id, "withdraw", "withdrawn").inc())


async def take_step(credit: Credit, uow: UnitOfWork, bureau: Bureau, proceeding_id: str, step: Step) -> dict[str, Any]:
    """One step of a proceeding (HTTP), in the caller's transaction."""
    now = credit.clock.now()
    conn = uow.conn
    await audit.lock(conn)  # the chain's lock before any row lock: one lock order, no deadlock
    row = await proceedings_db.proceeding_by_id(conn, proceeding_id, lock=True)
    if row is None:
        raise NotFound("unknown_proceeding", f"no listing proceeding {proceeding_id}")
    procedure = credit.book.blacklist.procedure.at(local_day(row["opened_at"]))
    p = Proceeding(row["proceeding_id"], row["rule_id"], row["basis"], row["state"], row["authority"], row["approver"],
                   row["statement_due_at"], row["hearing_request_due_at"], row["hearing_requested"], row["party_heard"])
    try:
        t = advance(p, step, bureau, procedure, credit.calendar, now)
    except StepRefused as exc:
        if exc.kind == "not_allowed":
            raise NotAllowed(exc.reason, exc.detail) from None
        if exc.kind == "invalid":
            raise Invalid(exc.reason, exc.detail, exc.field or "action") from None
        raise Conflict(exc.reason, exc.detail) from None
    key = row["credit_code"] or row["entity_id"]
    values: dict[str, Any] = {"state": t.state}
    if t.statement_due is not None and t.hearing_request_due is not None:
        values.update(served_on=step.served_on, statement_due_at=t.statement_due.due_at_utc,
                      statement_due_on=t.statement_due.due_date_local,
                      hearing_request_due_at=t.hearing_request_due.due_at_utc,
                      hearing_request_due_on=t.hearing_request_due.due_date_local)
    if t.hearing_requested is not None:
        values["hearing_requested"] = t.hearing_requested
    if t.party_heard is not None:
        values["party_heard"] = t.party_heard
    listing_id = None
    if t.lists:
        listing_id = await _make_listing(credit, uow, row, now)
        values["listing_id"] = listing_id
    if t.state not in OPEN_STATES:
        values["closed_at"] = now
    outcome = t.notes.get("outcome")
    record = {"action": step.action, "by": bureau.id, "at": now.isoformat(), "from": t.from_state, "to": t.state,
              "reason": step.reason, "outcome": outcome, "citation": t.citation,
              **({"statement_kind": step.statement_kind} if step.statement_kind else {}),
              **({"hearing_held_on": step.hearing_held_on.isoformat()} if step.hearing_held_on else {})}
    await proceedings_db.advance(conn, proceeding_id, values, record)
    statement_on = t.statement_due.due_date_local if t.statement_due else row["statement_due_on"]
    hearing_on = t.hearing_request_due.due_date_local if t.hearing_request_due else row["hearing_request_due_on"]
    uow.emit(credit.topics.credit, ListingProceedingAdvanced(
        proceeding_id=proceeding_id, entity_id=row["entity_id"], credit_code=row["credit_code"], rule_id=row["rule_id"],
        action=step.action, from_state=t.from_state, state=t.state, by=bureau.id, reason=step.reason,  # type: ignore[arg-type]
        outcome=outcome, citation=t.citation, statement_due_on=statement_on, hearing_request_due_on=hearing_on,
        approver=row["approver"], listing_id=listing_id, at=now,
    ), key=key)
    await audit.append(conn, "credit.listing-proceeding-advanced", key, {
        "proceeding_id": proceeding_id, "action": step.action, "from_state": t.from_state, "state": t.state,
        "by": bureau.id, "reason": step.reason, "outcome": outcome, "citation": t.citation,
        "statement_due_on": statement_on, "hearing_request_due_on": hearing_on, "listing_id": listing_id,
    }, actor=uow.actor, at=now)
    rule_id, action, state = row["rule_id"], step.action, t.state
    uow.after_commit(lambda: metrics.PROCEEDING_STEPS.labels(rule_id, action, state).inc())
    return {"proceeding_id": proceeding_id, "state": t.state, "from_state": t.from_state, "outcome": outcome,
            "citation": t.citation, "statement_due_on": statement_on, "hearing_request_due_on": hearing_on,
            "statement_due_provisional": bool(t.statement_due and t.statement_due.provisional),
            "approver": row["approver"], "listing_id": listing_id}


async def _make_listing(credit: Credit, uow: UnitOfWork, row: dict[str, Any], now: dt.datetime) -> str:
    conn = uow.conn
    if any(li.rule_id == row["rule_id"] and li.status == "listed"
           for _, li in await listings_db.listings_of(conn, [row["entity_id"]])):
        raise Conflict("already_listed", f"the entity is on the list under {row['rule_id']} already")
    period = blacklist.list_period(credit.book, credit.calendar, now)
    listing_id = new_id("lst")
    measures = measure_ids_for_listing(credit.book, row["rule_id"], local_day(now))
    await insert_rows(conn, "listings", [{
        "listing_id": listing_id, "entity_id": row["entity_id"], "rule_id": row["rule_id"],
        "rule_version": row["rule_version"], "citation": row["citation"], "reason": row["reason"],
        "authority": row["authority"], "early_removal": row["early_removal"], "measures": measures,
        "listed_at": now, "expires_at": period.expires.due_at_utc, "expires_on": period.expires.due_date_local,
        "early_removal_from": period.early_removal_from.due_at_utc,
        "early_removal_on": period.early_removal_from.due_date_local, "rules_version": credit.book.version,
    }])
    await listings_db.insert_listing_triggers(conn, [(listing_id, r, row["rule_id"]) for r in row["triggering"]])
    key = row["credit_code"] or row["entity_id"]
    uow.emit(credit.topics.credit, Blacklisted(
        listing_id=listing_id, entity_id=row["entity_id"], credit_code=row["credit_code"], name=row["name"],
        rule_id=row["rule_id"], rule_version=row["rule_version"], citation=row["citation"], reason=row["reason"],
        triggering_records=list(row["triggering"]), authority=row["authority"], listed_at=now,
        expires_on=period.expires.due_date_local, early_removal_from=period.early_removal_from.due_date_local,
        measures=measures,
    ), key=key)
    await audit.append(conn, "credit.blacklisted", key, {
        "listing_id": listing_id, "entity_id": row["entity_id"], "rule_id": row["rule_id"],
        "rule_version": row["rule_version"], "citation": row["citation"], "reason": row["reason"],
        "triggering_records": list(row["triggering"]), "expires_on": period.expires.due_date_local,
        "early_removal_from": period.early_removal_from.due_date_local, "measures": measures,
        "proceeding_id": row["proceeding_id"],
    }, actor=uow.actor, at=now)
    rule_id = row["rule_id"]
    uow.after_commit(lambda: metrics.LISTING_CHANGES.labels(rule_id, "listed").inc())
    return listing_id


_PUBLIC = ("proceeding_id", "entity_id", "credit_code", "name", "rule_id", "rule_version", "basis", "citation", "reason",
           "authority", "approver", "early_removal", "triggering", "state", "served_on", "statement_due_on",
           "hearing_request_due_on", "hearing_requested", "party_heard", "steps", "listing_id", "opened_at", "closed_at")


def _view(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row[k] for k in _PUBLIC}
    out["local_policy"] = row["basis"] == "local_policy"
    return out


async def view(conn: asyncpg.Connection, proceeding_id: str) -> dict[str, Any]:
    row = await proceedings_db.proceeding_by_id(conn, proceeding_id)
    if row is None:
        raise NotFound("unknown_proceeding", f"no listing proceeding {proceeding_id}")
    return _view(row)


async def of_entity(conn: asyncpg.Connection, code: str) -> list[dict[str, Any]]:
    entity_id = await proceedings_db.entity_id_by_code(conn, code)
    if entity_id is None:
        raise NotFound("unknown_entity", f"no entity with credit code {code}")
    return [_view(r) for r in await proceedings_db.proceedings_of_entity(conn, entity_id)]
