"""以罚代刑 (issue 14 §7): inside the decision batch, a penalty recorded on figures that cross a criminal
threshold while no referral is under way for its case raises `credit.penalty-substitutes-prosecution`
for the procuratorate and the office (notify delivers it). No extra round trip: the cases' referral
states are read with the batch (`DecisionBatch.referral_states`); the thresholds are shared reference
data; the penalty history is the batch's own."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from shared.contracts.credit import PenaltySubstitutesProsecution
from shared.contracts.penalty import PenaltyDecided
from shared.reference import city, load_thresholds

from services.credit import metrics
from services.credit.domain import prosecution
from services.credit.domain.model import Bureau

if TYPE_CHECKING:
    from services.credit.app.context import EntityState, Item
    from services.credit.app.decisions import DecisionBatch

PROCURATORATE = "procuratorate"
OFFICE = "office"


def check(b: "DecisionBatch", item: "Item", entity: "EntityState", record_id: str, cmd: PenaltyDecided, bureau: Bureau,
          now: dt.datetime) -> bool:
    if not cmd.figures:
        return False
    state = b.referral_states.get(cmd.case_id) if cmd.case_id else None
    found = prosecution.substitution(load_thresholds(), category=cmd.category, figures=cmd.figures,
                                     decided_on=cmd.decided_on, history=b.history[entity.entity_id],
                                     record_id=record_id, referral_state=state)
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
    b.emit(item, b.c.topics.credit, event, key=entity.key, correlationid=cmd.case_id)
    b.audit(item, "credit.penalty-substitutes-prosecution", entity.key, event.model_dump(mode="json"), now)
    family = r.family
    b.count(lambda: metrics.SUBSTITUTIONS.labels(family).inc())
    return True
