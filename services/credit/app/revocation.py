"""Revocation of a penalty decision by its decider of record (administrative reconsideration,
litigation, correction): the record is withdrawn, every listing it alone triggered ends and every open listing proceeding it alone
triggered is withdrawn (Order 44 art. 19)."""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING

from shared.contracts.credit import RecordWithdrawn
from shared.contracts.penalty import PenaltyRevocationAccepted, PenaltyRevoked
from shared.runtime import UnitOfWork

from services.credit import metrics
from services.credit.app import listing_steps, listings
from services.credit.app.context import Item, Outcome
from services.credit.domain import blacklist
from services.credit.domain.model import Bureau

if TYPE_CHECKING:
    from services.credit.app.context import Credit
    from services.credit.app.decisions import DecisionBatch


async def revoke_decision(credit: "Credit", uow: UnitOfWork, bureau: Bureau, cmd: PenaltyRevoked, *,
                          source_event_id: str | None = None) -> Outcome:
    """One revocation (HTTP): the batch code with a list of one."""
    from services.credit.app.decisions import run_one

    return await run_one(credit, uow, Item("revoke", cmd, bureau, source_event_id, uow.actor))


def revoke(b: "DecisionBatch", item: Item, now: dt.datetime) -> Outcome:
    cmd, bureau, c = item.cmd, item.bureau, b.c
    assert isinstance(cmd, PenaltyRevoked) and bureau is not None
    record = b.records.get(cmd.decision_no)
    if record is None or record["kind"] != "penalty":
        return b.refuse(item, "unknown_decision", f"no penalty decision {cmd.decision_no} on record", cmd.decision_no, now)
    entity = b.by_id[record["entity_id"]]
    key = entity.key
    if record["bureau"] != bureau.id:
        return b.refuse(
            item, "not_decider_of_record",
            f"decision {cmd.decision_no} was decided by {record['bureau']}; only the decider of record may revoke it", key, now,
        )
    if record["status"] == "revoked":
        if record["end_reason"] == cmd.reason:
            return Outcome("duplicate", record_id=record["record_id"], entity_key=key)
        return b.refuse(item, "already_revoked", f"decision {cmd.decision_no} was revoked already", key, now)
    previous = record["status"]
    record.update(status="revoked", ended_at=now, end_reason=cmd.reason)
    b.revoked.append((record["record_id"], now, cmd.reason))
    history = b.history[entity.entity_id]
    history[:] = [dataclasses.replace(f, status="revoked") if f.record_id == record["record_id"] else f for f in history]
    b.emit(item, c.topics.penalty, PenaltyRevocationAccepted(
        record_id=record["record_id"], decision_no=cmd.decision_no, bureau=bureau.id, entity_id=entity.entity_id,
        credit_code=entity.credit_code, revoked_on=cmd.revoked_on, reason=cmd.reason, accepted_at=now,
    ), key=key)
    b.emit(item, c.topics.credit, RecordWithdrawn(
        record_id=record["record_id"], entity_id=entity.entity_id, credit_code=entity.credit_code,
        reason=cmd.reason, withdrawn_at=now,
    ), key=key)
    b.audit(item, "penalty.revoked", key, {
        "record_id": record["record_id"], "decision_no": cmd.decision_no, "bureau": bureau.id,
        "revoked_on": cmd.revoked_on, "reason": cmd.reason, "previous_status": previous,
        "source_event_id": item.source_event_id,
    }, now)
    b.count(lambda: metrics.RECORDS_ENDED.labels("revoked").inc())
    for listing in list(b.listings[entity.entity_id]):
        if listing.status == "listed" and record["record_id"] in listing.triggering \
                and not blacklist.still_holds(c.book, listing, history, c.is_ip):
            listings.end_in_batch(b, item, entity, listing, "trigger_revoked", now)
    listing_steps.withdraw_in_batch(b, item, entity, record["record_id"], now)
    return Outcome("revoked", record_id=record["record_id"], entity_key=key)
