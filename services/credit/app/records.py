"""Records: reading one, and their expiry at the end of the maximum publicity period (scheduler)."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import asyncpg

from shared import audit
from shared.contracts.credit import RecordExpired
from shared.envelope import deterministic_event_id
from shared.runtime import UnitOfWork

from services.credit import metrics
from services.credit.adapters.postgres import penalties as penalties_db
from services.credit.app.context import Credit
from services.credit.app.errors import NotFound
from services.credit.domain.disclosure import published_party
from services.credit.rules import PartyNameVersion

_VIEW = ("record_id", "kind", "decision_no", "bureau", "category", "penalty_types", "fine_amount", "confiscated_amount",
         "decided_on", "heavy", "heavy_rules", "severity", "repairable", "disclose", "disclosure_due_on",
         "disclosure_provisional", "disclosed_at", "publicity_min_on", "publicity_max_on", "status", "ended_at",
         "end_reason", "party", "rules_version", "case_id", "created_at")


async def record_view(conn: asyncpg.Connection, record_id: str, rule: PartyNameVersion) -> dict[str, Any]:
    """One record, its party as `rule` (rules/party_names.yaml, in force today) shows it."""
    r = await penalties_db.record_by_id(conn, record_id)
    if r is None:
        raise NotFound("unknown_record", f"no record {record_id}")
    view = {k: r[k] for k in _VIEW}
    if view["party"]:
        party = view["party"]
        view["party"] = published_party(json.loads(party) if isinstance(party, str) else party, rule)
    return view


async def expire_record(credit: Credit, uow: UnitOfWork, row: Any, now: dt.datetime) -> bool:
    if not await penalties_db.end_record(uow.conn, row["record_id"], "expired", "maximum publicity period ended", now):
        return False
    key = row["credit_code"] or row["entity_id"]
    uow.emit(credit.topics.credit, RecordExpired(
        record_id=row["record_id"], entity_id=row["entity_id"], credit_code=row["credit_code"],
        publicity_max_until=row["publicity_max_on"], expired_at=now,
    ), key=key, event_id=deterministic_event_id("credit.record-expired", row["record_id"]))
    await audit.append(uow.conn, "credit.record-expired", key, {"record_id": row["record_id"],
                                                                "publicity_max_on": row["publicity_max_on"]},
                       actor=uow.actor, at=now)
    uow.after_commit(lambda: metrics.RECORDS_ENDED.labels("expired").inc())
    return True
