"""Accepted criminal referrals (from routing): the suspect gets a criminal-referral record, which
is not published but may list the entity."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from shared.contracts.credit import RecordCreated
from shared.contracts.referral import ReferralAccepted

from services.credit import metrics
from services.credit.adapters.postgres import new_id
from services.credit.app import listings, matching
from services.credit.app.context import local_day
from services.credit.app.context import Outcome
from services.credit.domain.disclosure import public_party
from services.credit.domain.model import RecordFacts

from services.credit.adapters.postgres import proceedings as proceedings_db
from shared.runtime import UnitOfWork

if TYPE_CHECKING:
    from services.credit.app.decisions import DecisionBatch
    from services.credit.app.context import Item, PartyKeys


def record(b: "DecisionBatch", item: Item, p: PartyKeys, now: dt.datetime) -> Outcome:
    ref, c = item.cmd, b.c
    assert isinstance(ref, ReferralAccepted)
    decision_no = f"referral:{ref.case_id}"
    existing = b.records.get(decision_no)
    if existing is not None:
        return Outcome("duplicate", record_id=existing["record_id"])
    party = p.party
    code, kind = party.credit_code, party.kind
    entity = matching.resolve(b, item, p, now, source=f"referral:{ref.case_id}")
    decided_on = local_day(ref.at)
    bureau_type = ref.agency.partition("@")[0]
    plan = b.plan("criminal_referral", False, decided_on, now)
    record_id = new_id("rec")
    party_public = public_party(kind=kind, credit_code=code, name=party.name, legal_representative=None, resident_id=None,
                                rule=c.book.party_names.at(local_day(now)))
    b.add_record({
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
    b.emit(item, c.topics.credit, RecordCreated(
        record_id=record_id, kind="criminal_referral", entity_id=entity.entity_id, credit_code=entity.credit_code,
        bureau=ref.agency, category=ref.category, decided_on=decided_on, heavy=False, severity=plan.type_id,
        disclose=plan.disclose, publicity_min_until=plan.min_until.due_date_local,
        publicity_max_until=plan.max_until.due_date_local, rules_version=c.book.version, created_at=now,
    ), key=key, correlationid=ref.case_id)
    b.audit(item, "credit.record-created", key, {
        "record_id": record_id, "kind": "criminal_referral", "case_id": ref.case_id, "referral_id": ref.referral_id,
        "agency": ref.agency, "police": ref.police, "police_case_no": ref.police_case_no, "category": ref.category,
        "entity_id": entity.entity_id, "decided_on": decided_on, "severity": plan.type_id,
        "publicity_max_on": plan.max_until.due_date_local, "rules_version": c.book.version,
        "source_event_id": item.source_event_id,
    }, now)
    severity = plan.type_id
    b.count(lambda: metrics.RECORDS_CREATED.labels("criminal_referral", severity, bureau_type).inc())
    new = RecordFacts(record_id, "criminal_referral", ref.category, decided_on, False, False, "active", ref.agency, ref.case_id)
    listed = listings.evaluate(b, item, entity, new, now)
    return Outcome("recorded", record_id=record_id, entity_key=key, facts={"listing_proceedings": listed})


async def record_referral_states(uow: UnitOfWork, states: list[tuple[str, str, str, str, dt.datetime]]) -> None:
    """(case id, referral id, state, agency, at) of a batch's referral events: each case's latest step (one statement)."""
    await proceedings_db.upsert_referral_states(uow.conn, states)
