"""以罚代刑 (issue 14 §7): inside the decision batch, a penalty recorded on figures that cross a criminal
threshold while no referral is under way for its case raises `credit.penalty-substitutes-prosecution`
for the procuratorate and the office (notify delivers it). No extra round trip: the cases' referral
states are read with the batch (`DecisionBatch.referral_states`); the thresholds are shared reference
data; the penalty history is the batch's own.

The alert is not sent from the batch: a penalty processed before its case's referral step (another topic)
would raise a false one. It waits in `substitution_alerts` for the grace period; the scheduler's `release`
re-checks the case's referral state then, and sends or withdraws it — a batch of due alerts at a time, in a
constant number of round trips (the rows locked, the cases' referral states, one update, the audit chain)."""
from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from shared import audit
from shared.envelope import deterministic_event_id
from shared.runtime import UnitOfWork

from shared.contracts.credit import PenaltySubstitutesProsecution
from shared.contracts.penalty import PenaltyDecided
from shared.reference import city, load_thresholds

from services.credit import metrics
from services.credit.domain import prosecution
from services.credit.domain.model import Bureau

if TYPE_CHECKING:
    from services.credit.app.context import Credit, EntityState, Item
    from services.credit.app.decisions import DecisionBatch

PROCURATORATE = "procuratorate"
OFFICE = "office"


def check(b: "DecisionBatch", item: "Item", entity: "EntityState", record_id: str, cmd: PenaltyDecided, bureau: Bureau,
          now: dt.datetime) -> bool:
    """Detect 以罚代刑 on the decision; the alert is held as a pending row (`substitution_alerts`) until
    `Credit.substitution_grace` is over, then `release` re-checks the case's referral state and sends or
    withdraws it."""
    if not cmd.figures:
        return False
    state = b.referral_states.get(cmd.case_id) if cmd.case_id else None
    found = prosecution.substitution(load_thresholds(), category=cmd.category, figures=cmd.figures,
                                     decided_on=cmd.decided_on, history=b.history[entity.entity_id],
                                     record_id=record_id, referral_state=state, conduct_on=cmd.conduct_on)
    if found is None:
        return False
    r = found.result
    assert r.rule_id is not None and r.condition_text is not None and r.condition_text_zh is not None
    event = PenaltySubstitutesProsecution(
        record_id=record_id, decision_no=cmd.decision_no, bureau=bureau.id, entity_id=entity.entity_id,
        credit_code=entity.credit_code, party_name=entity.name, category=cmd.category, case_id=cmd.case_id,
        decided_on=cmd.decided_on, figures=found.figures, family=r.family, threshold_rule=r.rule_id,
        threshold_version=r.version, threshold=r.condition_text, threshold_zh=r.condition_text_zh,
        threshold_citation=r.citation, threshold_article=r.article, threshold_verified=r.verified,
        referral_state=found.referral_state, liability_citation=prosecution.LIABILITY,
        procuratorate=f"{PROCURATORATE}@{bureau.division}", office=f"{OFFICE}@{city().code}", detected_at=now,
    )
    b.pending_alerts.append({
        "record_id": record_id, "case_id": cmd.case_id, "entity_key": entity.key,
        "payload": event.model_dump(mode="json"), "created_at": now, "due_at": now + b.c.substitution_grace,
    })
    b.audit(item, "credit.penalty-substitutes-prosecution-pending", entity.key,
            {"record_id": record_id, "case_id": cmd.case_id, "threshold_rule": r.rule_id,
             "due_at": (now + b.c.substitution_grace).isoformat()}, now)
    return True


async def release(credit: "Credit", uow: UnitOfWork, rows: Sequence[Any], now: dt.datetime,
                  referral_states: Mapping[str, str]) -> int:
    """The due pending alerts `rows` (locked by the caller), as one set: each is withdrawn when a referral
    of its case is now under way (the step arrived during the grace period), else sent. One conditional
    update for the whole batch (only rows still pending change: another leader's settled rows are left),
    then one audit append and the outbox rows of the sent alerts; the event id is derived from the record
    id, so an alert goes out once. Returns how many alerts were settled."""
    if not rows:
        return 0
    settle: list[tuple[Any, str | None]] = [(r, referral_states.get(r["case_id"]) if r["case_id"] else None) for r in rows]
    settled = await uow.conn.fetch(
        "UPDATE substitution_alerts a SET state = u.state, settled_at = $4, settled_reason = u.reason"
        " FROM unnest($1::text[], $2::text[], $3::text[]) AS u(record_id, state, reason)"
        " WHERE a.record_id = u.record_id AND a.state = 'pending' RETURNING a.record_id",
        [r["record_id"] for r, _ in settle],
        ["withdrawn" if state in prosecution.UNDER_WAY else "sent" for _, state in settle],
        [f"referral {state}" if state in prosecution.UNDER_WAY else "no referral under way" for _, state in settle],
        now)
    done = {r["record_id"] for r in settled}
    entries: list[audit.Pending] = []
    withdrawn = 0
    families: list[str] = []
    for row, state in settle:
        if row["record_id"] not in done:
            continue
        if state in prosecution.UNDER_WAY:
            withdrawn += 1
            entries.append(audit.Pending("credit.penalty-substitutes-prosecution-withdrawn", row["entity_key"],
                                         {"record_id": row["record_id"], "case_id": row["case_id"],
                                          "referral_state": state}, actor=uow.actor, at=now))
            continue
        payload = row["payload"]
        event = PenaltySubstitutesProsecution.model_validate_json(
            payload if isinstance(payload, str) else json.dumps(payload))
        event = event.model_copy(update={"referral_state": state or "none", "detected_at": now})
        uow.emit(credit.topics.credit, event, key=row["entity_key"], correlationid=event.case_id,
                 event_id=deterministic_event_id("credit.penalty-substitutes-prosecution", row["record_id"]))
        entries.append(audit.Pending("credit.penalty-substitutes-prosecution", row["entity_key"],
                                     event.model_dump(mode="json"), actor=uow.actor, at=now))
        families.append(event.family)
    await audit.append_many(uow.conn, entries)

    def count() -> None:
        if withdrawn:
            metrics.SUBSTITUTIONS_WITHDRAWN.inc(withdrawn)
        for family in families:
            metrics.SUBSTITUTIONS.labels(family).inc()

    uow.after_commit(count)
    return len(done)
