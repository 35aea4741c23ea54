"""以罚代刑 (issue 14 §7): a penalty recorded on figures that cross a criminal threshold while no referral
to the police is under way — what State Council Order 310 art. 16 holds the agency head liable for.

The figures are the decision's own (`PenaltyDecided.figures`) plus, when the threshold table knows the
figure, ``prior_penalties_2y``: credit's count of the entity's earlier penalties (not revoked) for the
same kind of conduct (a category sharing a threshold family) in the two years before the decision —
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


def prior_penalties(category: str, decided_on: dt.date, history: Sequence[RecordFacts], *, exclude: str) -> int:
    """The entity's penalties (not revoked) in the two years before `decided_on` whose category shares a
    threshold family with `category` (同类行为)."""
    families = set(_families(category))
    if not families:
        return 0
    since = add_months(decided_on, -24)
    return sum(
        1 for r in history
        if r.record_id != exclude and r.kind == "penalty" and r.status != "revoked"
        and since <= r.decided_on < decided_on and families & set(_families(r.category))
    )


def substitution(table: ThresholdTable, *, category: str, figures: Mapping[str, Decimal], decided_on: dt.date,
                 history: Sequence[RecordFacts], record_id: str, referral_state: str | None) -> Substitution | None:
    """The threshold the figures cross when no referral is under way, else None."""
    if referral_state in UNDER_WAY or not figures:
        return None
    clean = {k: v for k, v in figures.items() if k in table.figures and k != PRIOR_PENALTIES}
    if PRIOR_PENALTIES in table.figures:
        clean[PRIOR_PENALTIES] = Decimal(prior_penalties(category, decided_on, history, exclude=record_id))
    for family in _families(category):
        try:
            result = table.evaluate(family, clean, decided_on)
        except UnknownCode:
            continue  # no version in force on that date
        if result.crossed:
            return Substitution(result, clean, referral_state or "none")
    return None


def _families(category: str) -> tuple[str, ...]:
    try:
        return category_of(category).threshold_families
    except UnknownCode:
        return ()
