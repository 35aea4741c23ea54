"""以罚代刑 (issue 14 §7): a penalty recorded on figures that cross a criminal threshold while no referral
to the police is under way — what State Council Order 310 art. 16 holds the agency head liable for.

The figures are the decision's own (`PenaltyDecided.figures`) plus, when the threshold table knows the
figure, ``prior_penalties_2y``: credit's count of the entity's earlier penalties (not revoked) for the
same kind of conduct (法释〔2025〕5号's 同类: 213–215, 216, 217/218) in the two years before the new conduct —
the penalty history the 2025 interpretation's repeat-conduct amounts need, passed in as a figure and
never read across schemas. Pure: the threshold table and categories are the shared reference data.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping, Sequence

from shared.reference import UnknownCode, category as category_of
from shared.reference.thresholds import ThresholdResult, ThresholdTable
from shared.workdays import add_months

from services.credit.domain.model import RecordFacts

PRIOR_PENALTIES = "prior_penalties_2y"
#: referral states in which the agency did refer (or is referring): no substitution
UNDER_WAY: frozenset[str] = frozenset({
    "proposed", "approved", "transferred", "accepted", "refused", "reconsideration_requested",
    "reconsideration_refused", "supervision_requested", "handed_over",
})
#: read in the order's own text (LawRefBook/Laws, 行政法规/行政执法机关移送涉嫌犯罪案件的规定.md, the 2020 revision):
#: art. 11 para. 1 forbids it, art. 16 para. 2 makes the agency head liable
LIABILITY = ("《行政执法机关移送涉嫌犯罪案件的规定》(国务院令第310号, 2020修订) 第十一条第一款 (不得以行政处罚代替移送), "
             "第十六条第二款: 以行政处罚代替移送的, 由本级或者上级人民政府, 或者实行垂直管理的上级行政执法机关, 责令改正, "
             "给予通报; 拒不改正的, 对其正职负责人或者主持工作的负责人给予记过以上的处分")


@dataclass(frozen=True)
class Substitution:
    result: ThresholdResult
    figures: dict[str, Decimal]
    referral_state: str


def kinds_of(table: ThresholdTable, record: RecordFacts) -> frozenset[str]:
    """The kinds of conduct (`ThresholdTable.same_kind`) an earlier record counts for: its conduct's family's
    kind when it named the conduct, else the kinds of all its category's families (counts for more kinds
    than it may be: over-flags, never misses)."""
    named = table.conducts.get(record.conduct) if record.conduct is not None else None
    families = (named,) if named else _families(record.category)
    return frozenset(table.same_kind(f) for f in families)


def prior_penalties(table: ThresholdTable, category: str, conduct_on: dt.date, history: Sequence[RecordFacts], *,
                    exclude: str) -> dict[str, int]:
    """For each kind of conduct of `category`'s families: the entity's penalties (not revoked) of that kind
    decided in the two years before the new conduct (`conduct_on`; the decision date when the conduct's is
    not known) — 法释〔2025〕5号 第三、五、六、十、十三、十四条: 二年内因实施…受过刑事处罚或者行政处罚后再次实施, measured from
    the earlier penalty to the new conduct. 213–215 penalties count for 213–215, 假冒专利 for 216, 217/218
    for 217 and 218."""
    kinds = {table.same_kind(f) for f in _families(category)}
    if not kinds:
        return {}
    since = add_months(conduct_on, -24)
    counts = dict.fromkeys(sorted(kinds), 0)
    for r in history:
        if r.record_id == exclude or r.kind != "penalty" or r.status == "revoked":
            continue
        if not since <= r.decided_on < conduct_on:
            continue
        for kind in kinds_of(table, r) & kinds:
            counts[kind] += 1
    return counts


def substitution(table: ThresholdTable, *, category: str, figures: Mapping[str, Decimal], decided_on: dt.date,
                 history: Sequence[RecordFacts], record_id: str, referral_state: str | None,
                 conduct_on: dt.date | None = None) -> Substitution | None:
    """The threshold the figures cross when no referral is under way, else None. The figures' `conduct`
    narrows the category's families (`ThresholdTable.families_for`); each family is held to the suspect's
    penalties of its own kind of conduct."""
    if referral_state in UNDER_WAY or not figures:
        return None
    clean = {k: v for k, v in figures.items() if k in table.figures and k != PRIOR_PENALTIES}
    prior = prior_penalties(table, category, conduct_on or decided_on, history, exclude=record_id)
    result = table.crossing(_families(category), clean, decided_on, prior=prior)
    if result is None:
        return None
    if PRIOR_PENALTIES in table.figures:
        clean[PRIOR_PENALTIES] = Decimal(prior.get(table.same_kind(result.family), 0))
    return Substitution(result, clean, referral_state or "none")


def _families(category: str) -> tuple[str, ...]:
    try:
        return category_of(category).threshold_families
    except UnknownCode:
        return ()
