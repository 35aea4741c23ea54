"""Conduct-specific thresholds (issue 14 §1): the `conduct` figure names the 刑法 article and chooses the
family a case is held to; the 2025 sub-items with figures of their own (service marks, unsold labels,
unsold copies, online dissemination). Worked examples at each boundary: at the figure, one unit under,
and the day before and on 法释〔2025〕5号's date of effect (2025-04-26)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from shared.reference import category, load_thresholds

T = load_thresholds()
DAY_BEFORE, IN_FORCE = dt.date(2025, 4, 25), dt.date(2025, 4, 26)


def crossed(category_id: str, figures: dict, at: dt.date = IN_FORCE) -> str | None:
    result = T.crossing(category(category_id).threshold_families, {k: Decimal(v) for k, v in figures.items()}, at)
    return result.rule_id if result else None


def test_every_family_names_its_conduct_article_and_its_kind_of_conduct() -> None:
    assert T.conducts == {213: "counterfeit_trademark", 214: "selling_counterfeit_marked_goods", 215: "fake_labels",
                          216: "counterfeit_patent", 217: "copyright_infringement", 218: "selling_infringing_copies",
                          140: "fake_shoddy_products", 141: "fake_drugs", 147: "farm_inputs"}
    assert {T.same_kind(f) for f in ("counterfeit_trademark", "selling_counterfeit_marked_goods", "fake_labels")} == {"trademark"}
    assert {T.same_kind(f) for f in ("copyright_infringement", "selling_infringing_copies")} == {"copyright"}
    assert T.same_kind("counterfeit_patent") == "patent"


@pytest.mark.parametrize(("conduct", "figures", "under", "rule"), [
    (213, {"illegal_turnover": 50000}, {"illegal_turnover": "49999.99"}, "counterfeit_trademark.turnover"),
    (214, {"sales": 50000}, {"sales": "49999.99"}, "selling_counterfeit_marked_goods.sales"),
    (215, {"illegal_turnover": 30000}, {"illegal_turnover": "29999.99"}, "fake_labels.turnover"),
])
def test_a_trademarks_case_naming_its_conduct_is_held_to_that_articles_amounts(conduct, figures, under, rule) -> None:
    assert crossed("trademarks", {**figures, "conduct": conduct}) == rule
    assert crossed("trademarks", {**under, "conduct": conduct}) is None


def test_without_the_conduct_a_trademarks_case_is_held_to_the_lowest_family_category_wide() -> None:
    # 3万 turnover crosses 215 (2025) but neither 213 (5万) nor 214 (no turnover condition): over-flags, never misses
    assert crossed("trademarks", {"illegal_turnover": 30000}) == "fake_labels.turnover"
    assert crossed("trademarks", {"illegal_turnover": 30000, "conduct": 213}) is None
    assert crossed("trademarks", {"illegal_turnover": 30000, "conduct": 0}) == "fake_labels.turnover"  # mixed reports: unknown


def test_a_conduct_of_another_kind_keeps_the_categorys_other_offence() -> None:
    # cosmetics = 140 and 214: named as 214, 生产、销售伪劣产品罪 (another kind) is still evaluated
    assert T.families_for(category("cosmetics").threshold_families, {"conduct": 214}) == \
        ("selling_counterfeit_marked_goods", "fake_shoddy_products")
    assert crossed("cosmetics", {"unsold_value": 150000, "conduct": 214}) is not None


def test_215_at_ten_thousand_labels_from_the_2025_date_of_effect_and_twenty_thousand_the_day_before() -> None:
    assert crossed("trademarks", {"pieces": 10000, "conduct": 215}) == "fake_labels.pieces"
    assert crossed("trademarks", {"pieces": 9999, "conduct": 215}) is None
    assert crossed("trademarks", {"pieces": 10000, "conduct": 215}, DAY_BEFORE) is None
    assert crossed("trademarks", {"pieces": 20000, "conduct": 215}, DAY_BEFORE) == "fake_labels.pieces"


def test_216_patents_and_218_copies_boundaries_with_the_conduct() -> None:
    assert crossed("patents", {"loss": 300000, "conduct": 216}) == "counterfeit_patent.loss"
    assert crossed("patents", {"loss": "299999.99", "conduct": 216}) is None
    assert crossed("patents", {"loss": 300000, "conduct": 216}, DAY_BEFORE) is None
    assert crossed("online_piracy", {"copies": 1000, "conduct": 218}) == "selling_infringing_copies.copies"
    assert crossed("online_piracy", {"copies": 999, "conduct": 218}) is None
    # without the conduct, 217's 500 copies decides
    assert crossed("online_piracy", {"copies": 999}) == "copyright_infringement.copies"


def test_service_marks_are_held_to_fifty_thousand_gains_and_goods_plus_services_combine() -> None:
    assert crossed("trademarks", {"service_illegal_gains": 50000, "conduct": 213}) == "counterfeit_trademark.service_gains"
    assert crossed("trademarks", {"service_illegal_gains": "49999.99", "conduct": 213}) is None
    assert crossed("trademarks", {"service_illegal_gains": 50000, "conduct": 213}, DAY_BEFORE) is None
    assert crossed("trademarks", {"illegal_gains": 29999, "service_illegal_gains": 20001, "conduct": 213}) == \
        "counterfeit_trademark.goods_and_service_gains"
    assert crossed("trademarks", {"illegal_gains": 29999, "service_illegal_gains": 20000, "conduct": 213}) is None
    assert crossed("trademarks", {"marks_count": 2, "service_illegal_gains": 30000, "conduct": 213}) == \
        "counterfeit_trademark.service_two_marks_gains"
    assert crossed("trademarks", {"prior_penalties_2y": 1, "service_illegal_gains": "29999.99", "conduct": 213}) is None


def test_unsold_labels_count_at_three_times_the_label_standards() -> None:
    assert crossed("trademarks", {"unsold_pieces": 30000, "conduct": 215}) == "fake_labels.unsold_pieces"
    assert crossed("trademarks", {"unsold_pieces": 29999, "conduct": 215}) is None
    assert crossed("trademarks", {"pieces": 9000, "unsold_pieces": 21000, "conduct": 215}) == "fake_labels.sold_and_unsold_pieces"
    assert crossed("trademarks", {"marks_count": 2, "pieces": 4000, "unsold_pieces": 11000, "conduct": 215}) == \
        "fake_labels.two_kinds_unsold_pieces"
    assert crossed("trademarks", {"marks_count": 2, "pieces": 4000, "unsold_pieces": 10999, "conduct": 215}) is None
    assert crossed("trademarks", {"unsold_pieces": 30000, "conduct": 215}, DAY_BEFORE) is None


def test_unsold_copies_count_at_three_thousand() -> None:
    assert crossed("online_piracy", {"unsold_copies": 3000, "conduct": 218}) == "selling_infringing_copies.unsold_copies"
    assert crossed("online_piracy", {"unsold_copies": 2999, "conduct": 218}) is None
    assert crossed("online_piracy", {"copies": 900, "unsold_copies": 2100, "conduct": 218}) == \
        "selling_infringing_copies.sold_and_unsold_copies"
    assert crossed("online_piracy", {"unsold_copies": 3000, "conduct": 218}, DAY_BEFORE) is None


@pytest.mark.parametrize(("figure", "at"), [("works_online", 500), ("downloads", 10000), ("clicks", 100000), ("members", 1000)])
def test_online_dissemination_counts_cross_217_at_their_figure(figure, at) -> None:
    assert crossed("online_piracy", {figure: at, "conduct": 217}) == f"copyright_infringement.online_{figure.removesuffix('_online')}"
    assert crossed("online_piracy", {figure: at - 1, "conduct": 217}) is None
    assert crossed("online_piracy", {figure: at, "conduct": 217}, DAY_BEFORE) is None


def test_half_of_two_items_including_online_dissemination_crosses_217() -> None:
    assert crossed("online_piracy", {"illegal_turnover": 25000, "clicks": 50000, "conduct": 217}) == \
        "copyright_infringement.half_turnover_and_clicks"
    assert crossed("online_piracy", {"illegal_turnover": 25000, "clicks": 49999, "conduct": 217}) is None
    assert crossed("online_piracy", {"copies": 250, "members": 500, "conduct": 217}) == "copyright_infringement.half_copies_and_members"
    assert crossed("online_piracy", {"prior_penalties_2y": 1, "illegal_gains": 10000, "works_online": 250, "conduct": 217}) == \
        "copyright_infringement.half_repeat_gains_and_works"
