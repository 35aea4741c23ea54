"""以罚代刑 (issue 14 §7) on worked examples: a penalty on figures at a criminal threshold with no
referral under way is flagged; one unit under it, or with a referral under way, is not. The amounts
are read from the shared threshold table (another engineer verifies them), so the boundaries follow
the data."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from services.credit.domain import prosecution
from services.credit.domain.model import RecordFacts
from shared.reference import load_thresholds

TABLE = load_thresholds()
ON = dt.date(2025, 6, 2)


def turnover_threshold(on: dt.date) -> Decimal:
    fam = TABLE.family("counterfeit_trademark")
    version = max((v for v in fam.versions if v.effective_from <= on), key=lambda v: v.effective_from)
    [cond] = [c for c in version.conditions if c.id == "turnover"]
    return cond.all_of[0].at_least


def lowest_turnover_threshold(category: str, on: dt.date) -> Decimal:
    """The lowest illegal-turnover-only condition of the category's threshold families in force on `on`."""
    from shared.reference import category as category_of

    table = load_thresholds()
    found = []
    for family in category_of(category).threshold_families:
        versions = [v for v in table.family(family).versions if v.effective_from <= on]
        if not versions:
            continue
        version = max(versions, key=lambda v: v.effective_from)
        for cond in version.conditions:
            if len(cond.all_of) == 1 and [t.figure for t in cond.all_of[0].terms] == ["illegal_turnover"]:
                found.append(cond.all_of[0].at_least)
    return min(found)


def flag(figures: dict[str, Decimal], *, state: str | None = None, on: dt.date = ON,
         history: tuple[RecordFacts, ...] = ()) -> prosecution.Substitution | None:
    return prosecution.substitution(TABLE, category="trademarks", figures=figures, decided_on=on, history=history,
                                    record_id="rec-new", referral_state=state)


def test_a_penalty_at_the_turnover_threshold_without_a_referral_substitutes_prosecution() -> None:
    at = turnover_threshold(ON)
    found = flag({"illegal_turnover": at})
    assert found is not None and found.referral_state == "none"
    assert found.result.family == "counterfeit_trademark" and found.result.rule_id == "counterfeit_trademark.turnover"
    assert found.result.citation and found.figures["illegal_turnover"] == at


def test_one_fen_under_the_lowest_threshold_of_the_category_is_not_flagged_and_at_it_is() -> None:
    # trademarks has three families (213, 214, 215); the lowest turnover condition among them decides
    lowest = lowest_turnover_threshold("trademarks", ON)
    assert flag({"illegal_turnover": lowest}) is not None
    assert flag({"illegal_turnover": lowest - Decimal("0.01")}) is None


def test_a_referral_under_way_or_done_is_not_a_substitution_but_one_the_agency_head_rejected_is() -> None:
    at = {"illegal_turnover": turnover_threshold(ON)}
    for state in ("proposed", "approved", "transferred", "accepted", "refused", "reconsideration_refused",
                  "supervision_requested", "handed_over"):
        assert flag(at, state=state) is None, state
    rejected = flag(at, state="rejected")
    assert rejected is not None and rejected.referral_state == "rejected"


def test_the_version_in_force_on_the_decision_date_applies_on_either_side_of_the_2025_interpretation() -> None:
    effective = max(v.effective_from for v in TABLE.family("counterfeit_trademark").versions)
    before, on_day = effective - dt.timedelta(days=1), effective
    assert flag({"illegal_turnover": turnover_threshold(before)}, on=before).result.version != \
        flag({"illegal_turnover": turnover_threshold(on_day)}, on=on_day).result.version  # type: ignore[union-attr]


def test_a_decision_without_figures_or_in_a_category_without_thresholds_is_not_flagged() -> None:
    assert flag({}) is None
    assert prosecution.substitution(TABLE, category="false_advertising", figures={"illegal_turnover": Decimal(10**9)},
                                    decided_on=ON, history=(), record_id="r", referral_state=None) is None


def test_the_penalty_history_passes_in_as_prior_penalties_in_the_two_years_before() -> None:
    def p(rid: str, on: dt.date, cat: str = "trademarks", status: str = "active") -> RecordFacts:
        return RecordFacts(rid, "penalty", cat, on, False, False, status, "market_regulation@610402", rid)

    history = (
        p("a", dt.date(2023, 6, 2)),                       # exactly two years before: counts
        p("b", dt.date(2023, 6, 1)),                       # one day more: does not
        p("c", dt.date(2024, 1, 1), status="revoked"),     # revoked: does not
        p("d", dt.date(2024, 2, 1), cat="false_advertising"),  # another kind of conduct: does not
        p("e", dt.date(2025, 1, 1), cat="product_quality"),    # shares no threshold family with trademarks? see below
        p("rec-new", ON),                                  # the decision itself: does not
    )
    counts = prosecution.prior_penalties(TABLE, "trademarks", ON, history, exclude="rec-new")
    assert counts == {"trademark": 1}  # product_quality's conduct (140) is another kind
    found = flag({"illegal_turnover": turnover_threshold(ON)}, history=history)
    assert found is not None and found.figures[prosecution.PRIOR_PENALTIES] == Decimal(1)


def _penalty(rid: str, on: dt.date, category: str, conduct: int | None = None) -> RecordFacts:
    return RecordFacts(rid, "penalty", category, on, False, False, "active", "market_regulation@610402", rid, conduct)


def test_prior_penalties_count_per_kind_of_conduct_as_the_2025_interpretation_groups_them() -> None:
    # 213–215 penalties count for 213–215; 216 for 216; 217/218 for 217 and 218 (法释〔2025〕5号 第三、五、六、十、十三、十四条)
    history = (
        _penalty("tm", dt.date(2024, 5, 1), "trademarks", 215),
        _penalty("pat", dt.date(2024, 5, 1), "patents", 216),
        _penalty("pir", dt.date(2024, 5, 1), "online_piracy", 218),
        _penalty("cos", dt.date(2024, 5, 1), "cosmetics"),  # no conduct: every kind of its category (140 and 214)
    )
    assert prosecution.prior_penalties(TABLE, "trademarks", ON, history, exclude="x") == {"trademark": 2}
    assert prosecution.prior_penalties(TABLE, "patents", ON, history, exclude="x") == {"patent": 1}
    assert prosecution.prior_penalties(TABLE, "software_piracy", ON, history, exclude="x") == {"copyright": 1}


def test_the_two_years_run_from_the_earlier_penalty_to_the_new_conduct_not_to_the_decision() -> None:
    conduct_on, decided_on = dt.date(2025, 6, 1), dt.date(2025, 9, 1)
    before = (_penalty("a", dt.date(2023, 6, 1), "trademarks", 213),)      # two years before the conduct: counts
    too_old = (_penalty("b", dt.date(2023, 5, 31), "trademarks", 213),)    # one day more: does not
    after = (_penalty("c", dt.date(2025, 7, 1), "trademarks", 213),)       # after the conduct, before the decision: not
    for history, expected in ((before, 1), (too_old, 0), (after, 0)):
        got = prosecution.prior_penalties(TABLE, "trademarks", conduct_on, history, exclude="x")
        assert got == {"trademark": expected}
    # 214's repeat amount (sales 3万 after a penalty) crosses only with the penalty before the conduct
    figures = {"conduct": Decimal(214), "sales": Decimal(30000)}
    args = dict(category="trademarks", figures=figures, decided_on=decided_on, record_id="x", referral_state=None,
                conduct_on=conduct_on)
    assert prosecution.substitution(TABLE, history=before, **args) is not None
    assert prosecution.substitution(TABLE, history=after, **args) is None


def test_a_213_case_is_held_to_213s_amounts_and_no_longer_to_215s_lower_ones() -> None:
    # 2025: 215 crosses at 2万 gains, 213 at 3万; a trademarks case without its conduct is held to 215 (over-flags)
    gains = {"illegal_gains": Decimal(20000)}
    unknown = flag(gains)
    assert unknown is not None and unknown.result.family == "fake_labels"
    assert flag({**gains, "conduct": Decimal(213)}) is None
    assert flag({**gains, "conduct": Decimal(215)}) is not None
    found = flag({"illegal_gains": Decimal(30000), "conduct": Decimal(213)})
    assert found is not None and found.result.rule_id == "counterfeit_trademark.gains"
    assert flag({"illegal_gains": Decimal("29999.99"), "conduct": Decimal(213)}) is None
