"""The serious-violation list: opening a listing proceeding when a new record makes a rule hold and
ending a listing whose trigger was revoked (both inside a decision batch), and ending one on expiry
or early removal (`end_listing`). The listing itself is made at the end of its proceeding
(`app.listing_steps`)."""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING

from shared import audit
from shared.contracts.credit import Delisted
from shared.envelope import deterministic_event_id
from shared.runtime import UnitOfWork

from services.credit import metrics
from services.credit.adapters.postgres import listings as listings_db
from services.credit.app import listing_steps
from services.credit.app.context import Credit
from services.credit.domain import blacklist
from services.credit.domain.model import ListingFacts, RecordFacts

if TYPE_CHECKING:
    from services.credit.app.decisions import DecisionBatch
    from services.credit.app.context import EntityState, Item


def evaluate(b: "DecisionBatch", item: Item, entity: EntityState, new: RecordFacts, now: dt.datetime) -> list[str]:
    """The list rules a new record makes hold open listing proceedings (issue 14 §2: nothing is listed
    here; `app.listing_steps` takes a proceeding through Order 44's steps). Returns the proceedings opened."""
    c = b.c
    history = b.history[entity.entity_id]
    seen = [*b.listings[entity.entity_id], *(listing_steps.as_listing_facts(p) for p in b.proceedings[entity.entity_id])]
    return [listing_steps.open_in_batch(b, item, entity, decision, now)
            for decision in blacklist.evaluate(c.book, new, history, seen, c.is_ip)]


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
