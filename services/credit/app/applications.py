"""Repair (信用修复) and early removal from the list: an application is checked against the rules
at once (ineligible ones are decided on the spot, with reasons) and otherwise decided by the
authority — the bureau that decided the record or listed the entity."""
from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from shared import audit
from shared.contracts.credit import ApplicationDecided, ApplicationReceived, RecordRepaired
from shared.runtime import UnitOfWork

from services.credit import metrics
from services.credit.adapters.postgres import applications as applications_db
from services.credit.adapters.postgres import entities as entities_db
from services.credit.adapters.postgres import listings as listings_db
from services.credit.adapters.postgres import new_id
from services.credit.adapters.postgres import penalties as penalties_db
from services.credit.app import listings
from services.credit.app.context import Credit
from services.credit.app.errors import Conflict, NotAllowed, NotFound
from services.credit.domain.applications import Declaration, removal_eligibility, repair_eligibility
from services.credit.domain.model import Bureau


async def _audit(uow: UnitOfWork, kind: str, subject: str, payload: dict[str, Any], now: dt.datetime) -> None:
    await audit.append(uow.conn, kind, subject, payload, actor=uow.actor, at=now)


async def application_view(conn: asyncpg.Connection, application_id: str) -> dict[str, Any]:
    r = await applications_db.application_by_id(conn, application_id)
    if r is None:
        raise NotFound("unknown_application", f"no application {application_id}")
    return {k: v for k, v in r.items() if k != "applicant"}


async def submit(credit: Credit, uow: UnitOfWork, *, submitted_by: str, kind: str, target_id: str,
                             declaration: Declaration, applicant: dict[str, Any]) -> dict[str, Any]:
    now = credit.clock.now()
    conn = uow.conn
    await audit.lock(conn)  # the chain's lock before any row lock: one lock order, no deadlock
    if kind == "repair":
        record = await penalties_db.record_by_id(conn, target_id, lock=True)
        if record is None:
            raise NotFound("unknown_record", f"no record {target_id}")
        entity_id, authority = record["entity_id"], record["bureau"]
        elig = repair_eligibility(credit.book, credit.calendar, status=record["status"], repairable=record["repairable"],
                                  publicity_min_until=record["publicity_min_until"], declaration=declaration, now=now)
    else:
        listing = await listings_db.listing_by_id(conn, target_id, lock=True)
        if listing is None:
            raise NotFound("unknown_listing", f"no listing {target_id}")
        entity_id, authority = listing["entity_id"], listing["authority"]
        elig = removal_eligibility(
            credit.book, credit.calendar, status=listing["status"], rule_allows=listing["early_removal"],
            listed_at=listing["listed_at"], early_removal_from=listing["early_removal_from"],
            records=await penalties_db.entity_record_facts(conn, entity_id), declaration=declaration, now=now,
        )
    if await applications_db.pending_application(conn, kind, target_id) is not None:
        raise Conflict("application_pending", f"an application for {target_id} is pending already")
    entity = await entities_db.entity_by_key(conn, entity_id)
    assert entity is not None
    key = entity["credit_code"] or entity_id
    application_id = new_id("app")
    status = "pending" if elig.eligible else "ineligible"
    await applications_db.insert_application(conn, {
        "application_id": application_id, "kind": kind, "target_id": target_id, "entity_id": entity_id,
        "authority": authority, "submitted_by": submitted_by, "applicant": applicant,
        "declaration": {"obligations_met": declaration.obligations_met, "commitment_signed": declaration.commitment_signed},
        "eligible": elig.eligible, "reasons": list(elig.reasons), "received_at": now,
        "decision_due_at": elig.decision_due.due_at_utc, "status": status,
        "decided_at": None if elig.eligible else now, "decided_by": None if elig.eligible else "credit",
    })
    uow.emit(credit.topics.credit, ApplicationReceived(
        application_id=application_id, kind=kind, target_id=target_id, entity_id=entity_id,  # type: ignore[arg-type]
        credit_code=entity["credit_code"], eligible=elig.eligible, reasons=list(elig.reasons), authority=authority,
        received_at=now,
    ), key=key)
    if not elig.eligible:
        uow.emit(credit.topics.credit, ApplicationDecided(
            application_id=application_id, kind=kind, target_id=target_id, entity_id=entity_id,  # type: ignore[arg-type]
            credit_code=entity["credit_code"], outcome="ineligible", reasons=list(elig.reasons), decided_by="credit",
            decided_at=now,
        ), key=key)
    await _audit(uow, "credit.application-received", key, {
        "application_id": application_id, "kind": kind, "target_id": target_id, "eligible": elig.eligible,
        "reasons": list(elig.reasons), "authority": authority, "submitted_by": submitted_by,
        "decision_due_on": elig.decision_due.due_date_local, "citation": elig.citation,
    }, now)
    outcome_label = "received" if elig.eligible else "ineligible"
    uow.after_commit(lambda: metrics.REPAIRS.labels(kind, outcome_label).inc())
    return {
        "application_id": application_id, "kind": kind, "target_id": target_id, "status": status,
        "eligible": elig.eligible, "reasons": list(elig.reasons), "authority": authority,
        "decision_due_on": elig.decision_due.due_date_local.isoformat(),
        "decision_due_provisional": elig.decision_due.provisional,
    }

async def decide(credit: Credit, uow: UnitOfWork, bureau: Bureau, application_id: str, *, approve: bool,
                             reason: str) -> dict[str, Any]:
    now = credit.clock.now()
    conn = uow.conn
    await audit.lock(conn)  # the chain's lock before any row lock: one lock order, no deadlock
    app = await applications_db.application_by_id(conn, application_id, lock=True)
    if app is None:
        raise NotFound("unknown_application", f"no application {application_id}")
    if app["authority"] != bureau.id:
        raise NotAllowed("not_the_deciding_bureau",
                               f"application {application_id} is decided by {app['authority']}, not {bureau.id}")
    if app["status"] != "pending":
        raise Conflict("not_pending", f"application {application_id} is {app['status']}")
    entity = await entities_db.entity_by_key(conn, app["entity_id"])
    assert entity is not None
    key = entity["credit_code"] or app["entity_id"]
    outcome = "approved" if approve else "rejected"
    if approve:
        if app["kind"] == "repair":
            if not await penalties_db.end_record(conn, app["target_id"], "repaired", f"credit repair {application_id}", now):
                raise Conflict("record_not_active", f"record {app['target_id']} is no longer active")
            uow.emit(credit.topics.credit, RecordRepaired(
                record_id=app["target_id"], application_id=application_id, entity_id=app["entity_id"],
                credit_code=entity["credit_code"], decided_by=bureau.id, repaired_at=now,
            ), key=key)
            uow.after_commit(lambda: metrics.RECORDS_ENDED.labels("repaired").inc())
        else:
            listing = await listings_db.listing_by_id(conn, app["target_id"], lock=True)
            assert listing is not None
            if not await listings.end_listing(credit, uow, listing["listing_id"], app["entity_id"], entity["credit_code"],
                                           listing["rule_id"], "early_removal", now, application_id=application_id):
                raise Conflict("listing_not_active", f"listing {app['target_id']} has ended already")
    await applications_db.decide_application(conn, application_id, outcome, bureau.id, reason, now)
    uow.emit(credit.topics.credit, ApplicationDecided(
        application_id=application_id, kind=app["kind"], target_id=app["target_id"], entity_id=app["entity_id"],
        credit_code=entity["credit_code"], outcome=outcome, reasons=[reason] if reason else [], decided_by=bureau.id,
        decided_at=now,
    ), key=key)
    await _audit(uow, "credit.application-decided", key, {
        "application_id": application_id, "kind": app["kind"], "target_id": app["target_id"], "outcome": outcome,
        "reason": reason, "decided_by": bureau.id,
    }, now)
    app_kind = app["kind"]
    uow.after_commit(lambda: metrics.REPAIRS.labels(app_kind, outcome).inc())
    return {"application_id": application_id, "status": outcome, "decided_by": bureau.id}
