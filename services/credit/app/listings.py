"""The serious-violation list: listing an entity when a new record makes a rule hold, ending a
listing whose trigger was revoked (both inside a decision batch), and ending one on expiry or
early removal (`end_listing`)."""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING

from shared import audit
from shared.contracts.credit import Blacklisted, Delisted
from shared.envelope import deterministic_event_id
from shared.runtime import UnitOfWork

from services.credit import metrics
from services.credit.adapters.postgres import listings as listings_db
from services.credit.adapters.postgres import new_id
from services.credit.app.context import Credit, local_day
from services.credit.domain import blacklist
from services.credit.domain.measures import measure_ids_for_listing
from services.credit.domain.model import ListingFacts, RecordFacts

if TYPE_CHECKING:
    from services.credit.app.decisions import DecisionBatch
    from services.credit.app.context import EntityState, Item


def evaluate(b: "DecisionBatch", item: Item, entity: EntityState, new: RecordFacts, now: dt.datetime) -> list[str]:
    c = b.c
    history, listings = b.history[entity.entity_id], b.listings[entity.entity_id]
    made: list[str] = []
    for decision in blacklist.evaluate(c.book, new, history, listings, c.is_ip):
        if b.list_period is None or b.list_period[0] != now:
            b.list_period = (now, blacklist.list_period(c.book, c.calendar, now))
        period = b.list_period[1]
        listing_id = new_id("lst")
        measures = b.measures.get((decision.rule_id, now))
        if measures is None:
            measures = b.measures[(decision.rule_id, now)] = measure_ids_for_listing(c.book, decision.rule_id, local_day(now))
        b.new_listings.append({
            "listing_id": listing_id, "entity_id": entity.entity_id, "rule_id": decision.rule_id,
            "rule_version": decision.rule_version, "citation": decision.citation, "reason": decision.reason,
            "authority": decision.authority, "early_removal": decision.early_removal, "measures": measures,
            "listed_at": now, "expires_at": period.expires.due_at_utc, "expires_on": period.expires.due_date_local,
            "early_removal_from": period.early_removal_from.due_at_utc,
            "early_removal_on": period.early_removal_from.due_date_local, "rules_version": c.book.version,
        })
        b.triggers.extend((listing_id, r, decision.rule_id) for r in decision.triggers)
        listings.append(ListingFacts(listing_id, decision.rule_id, "listed", now, tuple(decision.triggers)))
        b.emit(item, c.topics.credit, Blacklisted(
            listing_id=listing_id, entity_id=entity.entity_id, credit_code=entity.credit_code, name=entity.name,
            rule_id=decision.rule_id, rule_version=decision.rule_version, citation=decision.citation,
            reason=decision.reason, triggering_records=list(decision.triggers), authority=decision.authority,
            listed_at=now, expires_on=period.expires.due_date_local,
            early_removal_from=period.early_removal_from.due_date_local, measures=measures,
        ), key=entity.key)
        b.audit(item, "credit.blacklisted", entity.key, {
            "listing_id": listing_id, "entity_id": entity.entity_id, "rule_id": decision.rule_id,
            "rule_version": decision.rule_version, "citation": decision.citation, "reason": decision.reason,
            "triggering_records": list(decision.triggers), "expires_on": period.expires.due_date_local,
            "early_removal_from": period.early_removal_from.due_date_local, "measures": measures,
        }, now)
        rule_id = decision.rule_id
        b.count(lambda: metrics.LISTING_CHANGES.labels(rule_id, "listed").inc())
        made.append(listing_id)
    return made


def end_in_batch(b: "DecisionBatch", item: Item, entity: EntityState, listing: ListingFacts, reason: str, now: dt.datetime) -> None:
    listings = b.listings[entity.entity_id]
    listings[listings.index(listing)] = dataclasses.replace(listing, status="delisted")
    b.delisted.append((listing.listing_id, reason, now, None))
    key = entity.key
    b.emit(item, b.c.topics.credit, Delisted(
        listing_id=listing.listing_id, entity_id=entity.entity_id, credit_code=entity.credit_code, rule_id=listing.rule_id,
        reason=reason, application_id=None, delisted_at=now,  # type: ignore[arg-type]
    ), key=key)
    b.audit(item, "credit.delisted", key, {"listing_id": listing.listing_id, "entity_id": entity.entity_id,
                                               "rule_id": listing.rule_id, "reason": reason, "application_id": None}, now)
    rule_id = listing.rule_id
    b.count(lambda: metrics.LISTING_CHANGES.labels(rule_id, reason).inc())


async def end_listing(credit: Credit, uow: UnitOfWork, listing_id: str, entity_id: str, credit_code: str | None,
                      rule_id: str, reason: str, now: dt.datetime, application_id: str | None = None,
                      event_id: str | None = None) -> bool:
    """End one listing (expiry, early removal); False when it had ended already."""
    if not await listings_db.delist(uow.conn, listing_id, reason, now, application_id):
        return False
    key = credit_code or entity_id
    uow.emit(credit.topics.credit, Delisted(
        listing_id=listing_id, entity_id=entity_id, credit_code=credit_code, rule_id=rule_id, reason=reason,  # type: ignore[arg-type]
        application_id=application_id, delisted_at=now,
    ), key=key, event_id=event_id)
    await audit.append(uow.conn, "credit.delisted", key, {"listing_id": listing_id, "entity_id": entity_id,
                                                          "rule_id": rule_id, "reason": reason,
                                                          "application_id": application_id}, actor=uow.actor, at=now)
    uow.after_commit(lambda: metrics.LISTING_CHANGES.labels(rule_id, reason).inc())
    return True


async def expire_listing(credit: Credit, uow: UnitOfWork, row: dict, now: dt.datetime) -> bool:  # type: ignore[type-arg]
    """A listing past its end leaves the list (the scheduler; the event id is the listing's, so twice is once)."""
    return await end_listing(credit, uow, row["listing_id"], row["entity_id"], row["credit_code"], row["rule_id"],
                             "expired", now, event_id=deterministic_event_id("credit.delisted", row["listing_id"]))
