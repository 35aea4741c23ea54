"""Worked examples for the criminal thresholds, version by version, at each boundary.

For every condition: the figure itself crosses, one unit under does not; and
each version applies from its effective date (the day before, the previous
version applies). Figures are those of shared/reference/data/thresholds.yaml,
checked against the texts named in its verified_note (see docs/legal.md).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from shared.reference import crosses_threshold, load_thresholds
from shared.reference._base import UnknownCode

D = dt.date
V2004, V2010, V2025 = D(2004, 12, 22), D(2010, 5, 7), D(2025, 4, 26)
DAY = dt.timedelta(days=1)


def _cases():
    """(family, version, condition id, figures at the boundary, the figure decreased by one)."""
    table = load_thresholds()
    for fam in table.families:
        for v in fam.versions:
            for c in v.conditions:
                if not c.all_of:
                    continue
                figures: dict[str, Decimal] = {}
                for comp in c.all_of:
                    if len(comp.terms) == 1:
                        t = comp.terms[0]
                        figures[t.figure] = max(figures.get(t.figure, Decimal(0)), comp.at_least / t.coefficient)
                for comp in c.all_of:  # a weighted sum: put the remainder on its last term
                    if len(comp.terms) > 1:
                        have = sum(t.coefficient * figures.get(t.figure, Decimal(0)) for t in comp.terms)
                        if have < comp.at_least:
                            last = comp.terms[-1]
                            figures[last.figure] = figures.get(last.figure, Decimal(0)) + (comp.at_least - have) / last.coefficient
                # the figure to lower by one unit: the amount of the last comparison
                lowered = c.all_of[-1].terms[-1].figure
                yield pytest.param(fam.id, v, c, figures, lowered, id=f"{fam.id}-{v.version}-{c.id}")


@pytest.mark.parametrize(("family", "version", "condition", "figures", "lowered"), list(_cases()))
def test_each_condition_crosses_at_its_figure_and_not_one_unit_under(family, version, condition, figures, lowered):
    at = version.effective_from
    hit = crosses_threshold(family, figures, at)
    assert hit.crossed and hit.version == version.version
    assert hit.rule_id is not None
    under = dict(figures)
    under[lowered] = under[lowered] - 1
    result = crosses_threshold(family, under, at)
    # one unit under this condition: either nothing crosses, or a different condition of the same version does
    assert not result.crossed or result.rule_id != f"{family}.{condition.id}"


@pytest.mark.parametrize(
    ("family", "first"),
    [("counterfeit_trademark", "2004"), ("selling_counterfeit_marked_goods", "2004"), ("fake_labels", "2004"),
     ("counterfeit_patent", "2004"), ("copyright_infringement", "2004"), ("selling_infringing_copies", "2004")],
)
def test_no_ip_threshold_applies_before_22_december_2004(family, first):
    assert crosses_threshold(family, {}, V2004).version == first
    with pytest.raises(UnknownCode):
        crosses_threshold(family, {}, V2004 - DAY)


def test_selling_counterfeit_goods_sold_under_50000_with_unsold_reaching_150000_crosses_from_2010_not_2004():
    figures = {"sales": 40000, "unsold_value": 110000}  # 立案追诉标准(二) 第七十条第(三)项
    assert crosses_threshold("selling_counterfeit_marked_goods", figures, V2010).rule_id == \
        "selling_counterfeit_marked_goods.sold_and_unsold"
    assert not crosses_threshold("selling_counterfeit_marked_goods", figures, V2010 - DAY).crossed  # 2004: sales only
    assert not crosses_threshold("selling_counterfeit_marked_goods", {"sales": 40000, "unsold_value": 109999}, V2010).crossed


def test_from_2025_illegal_gains_alone_can_cross_for_selling_counterfeit_goods():
    figures = {"illegal_gains": 30000}
    assert crosses_threshold("selling_counterfeit_marked_goods", figures, V2025).rule_id == \
        "selling_counterfeit_marked_goods.gains"
    assert not crosses_threshold("selling_counterfeit_marked_goods", figures, V2025 - DAY).crossed
    assert not crosses_threshold("selling_counterfeit_marked_goods", {"illegal_gains": 29999}, V2025).crossed


def test_the_2025_unsold_goods_cross_on_their_own_under_article_5_para_1_item_3_not_as_an_attempt():
    r = crosses_threshold("selling_counterfeit_marked_goods", {"unsold_value": 150000}, V2025)
    assert r.rule_id == "selling_counterfeit_marked_goods.unsold" and r.article == "第五条第一款第(三)项" and r.verified
    assert "未遂" not in (r.condition_text_zh or "")
    assert not crosses_threshold("selling_counterfeit_marked_goods", {"unsold_value": 149999}, V2025).crossed


def test_two_kinds_of_labels_cross_at_10000_pieces_from_2004():
    two = {"marks_count": 2, "pieces": 10000}
    r = crosses_threshold("fake_labels", two, V2004)
    assert r.rule_id == "fake_labels.two_kinds_pieces" and r.article == "第三条第一款第(二)项" and r.verified
    assert not crosses_threshold("fake_labels", {"marks_count": 1, "pieces": 10000}, V2004).crossed
    assert not crosses_threshold("fake_labels", {"marks_count": 2, "pieces": 9999}, V2004).crossed


def test_two_patents_cross_at_100000_turnover_or_50000_gains():
    assert crosses_threshold("counterfeit_patent", {"patents_count": 2, "illegal_turnover": 100000}, V2010).rule_id == \
        "counterfeit_patent.two_patents_turnover"
    assert crosses_threshold("counterfeit_patent", {"patents_count": 2, "illegal_gains": 50000}, V2004).rule_id == \
        "counterfeit_patent.two_patents_gains"
    assert not crosses_threshold("counterfeit_patent", {"patents_count": 1, "illegal_gains": 50000}, V2004).crossed


def test_the_2025_patent_loss_of_300000_applies_from_26_april_2025_under_article_10_item_2():
    figures = {"loss": 300000}
    after = crosses_threshold("counterfeit_patent", figures, V2025)
    assert after.crossed and after.version == "2025" and after.verified and after.article == "第十条第(二)项"
    assert not crosses_threshold("counterfeit_patent", figures, V2025 - DAY).crossed
    assert not crosses_threshold("counterfeit_patent", {"loss": 299999}, V2025).crossed


def test_copyright_copies_fall_from_1000_to_500_in_2007():
    assert not crosses_threshold("copyright_infringement", {"copies": 999}, D(2007, 4, 4)).crossed
    assert crosses_threshold("copyright_infringement", {"copies": 1000}, D(2007, 4, 4)).crossed
    assert crosses_threshold("copyright_infringement", {"copies": 500}, D(2007, 4, 5)).crossed


def test_the_penalty_history_is_an_accepted_figure():
    # accepted (routing passes it through) though no verified condition uses it yet
    assert "prior_penalties_2y" in load_thresholds().figures
    assert not crosses_threshold("counterfeit_trademark", {"prior_penalties_2y": 1}, V2025).crossed


def test_every_version_says_whether_it_was_verified_and_against_what():
    for fam in load_thresholds().families:
        for v in fam.versions:
            assert v.verified_note.strip(), f"{fam.id} {v.version}: no verified_note"
            if v.verified:
                assert all(c.article for c in v.conditions), f"{fam.id} {v.version}: verified without articles"


@pytest.mark.parametrize("family", ["fake_shoddy_products", "farm_inputs"])
def test_the_2008_prosecution_standards_apply_from_25_june_2008_and_not_the_day_before(family):
    assert crosses_threshold(family, {}, D(2008, 6, 25)).version == "2008"
    with pytest.raises(UnknownCode):
        crosses_threshold(family, {}, D(2008, 6, 24))


def test_fake_shoddy_products_cross_at_three_times_sales_plus_unsold_of_150000_and_not_a_yuan_under():
    at = D(2026, 12, 7)
    hit = crosses_threshold("fake_shoddy_products", {"sales": 40000, "unsold_value": 30000}, at)
    assert hit.crossed and hit.rule_id == "fake_shoddy_products.three_times_sales_plus_unsold" and hit.verified
    assert hit.article == "第十六条第(三)项"
    assert not crosses_threshold("fake_shoddy_products", {"sales": 40000, "unsold_value": 29999}, at).crossed


def test_farm_inputs_cross_at_a_loss_of_20000_citing_article_23():
    hit = crosses_threshold("farm_inputs", {"loss": 20000}, D(2026, 12, 7))
    assert hit.crossed and hit.article == "第二十三条第(一)项" and hit.verified
    assert not crosses_threshold("farm_inputs", {"loss": 19999}, D(2026, 12, 7)).crossed


def test_copyright_figures_of_2004_and_2007_are_verified_with_their_articles():
    old = crosses_threshold("copyright_infringement", {"illegal_turnover": 50000}, D(2007, 4, 4))
    assert old.crossed and old.version == "2004" and old.verified and old.article == "第五条第一款第(一)项"
    new = crosses_threshold("copyright_infringement", {"copies": 500}, D(2007, 4, 5))
    assert new.version == "2007" and new.verified and new.article == "法释〔2007〕6号 第一条"
    assert not crosses_threshold("copyright_infringement", {"copies": 499}, D(2007, 4, 5)).crossed


def test_selling_infringing_copies_needs_100000_gains_until_the_2025_interpretation():
    before = crosses_threshold("selling_infringing_copies", {"illegal_gains": 100000}, V2025 - DAY)
    assert before.crossed and before.version == "2004" and before.verified and before.article == "第六条"
    assert not crosses_threshold("selling_infringing_copies", {"illegal_gains": 99999}, V2025 - DAY).crossed



# --- 法释〔2025〕5号, read in full (thresholds.yaml verified_note): lowered figures and repeat conduct -------

@pytest.mark.parametrize(
    ("family", "figures", "rule"),
    [
        ("fake_labels", {"pieces": 10000}, "pieces"),                                   # 第六条第一款第(一)项
        ("fake_labels", {"illegal_gains": 20000}, "gains"),
        ("fake_labels", {"illegal_turnover": 30000}, "turnover"),
        ("fake_labels", {"marks_count": 2, "pieces": 5000}, "two_kinds_pieces"),        # 第(二)项
        ("selling_infringing_copies", {"sales": 100000}, "sales"),                      # 第十四条第(一)项
        ("selling_infringing_copies", {"copies": 1000}, "copies"),                      # 第(三)项
        ("selling_infringing_copies", {"unsold_value": 300000}, "unsold"),              # 第(四)项
    ],
)
def test_a_figure_lowered_or_added_in_2025_crosses_from_26_april_2025_and_not_the_day_before(family, figures, rule):
    hit = crosses_threshold(family, figures, V2025)
    assert hit.crossed and hit.rule_id == f"{family}.{rule}" and hit.verified
    assert not crosses_threshold(family, figures, V2025 - DAY).crossed


@pytest.mark.parametrize(
    ("family", "figures", "rule"),
    [
        ("counterfeit_trademark", {"illegal_gains": 20000}, "repeat_gains"),           # 第三条第一款第(三)项
        ("counterfeit_trademark", {"illegal_turnover": 30000}, "repeat_turnover"),
        ("selling_counterfeit_marked_goods", {"sales": 30000}, "repeat_sales"),         # 第五条第一款第(二)项
        ("selling_counterfeit_marked_goods", {"unsold_value": 90000}, "repeat_unsold"),  # 第(三)项: 3 x 3万
        ("fake_labels", {"pieces": 5000}, "repeat_pieces"),                              # 第六条第一款第(三)项
        ("counterfeit_patent", {"illegal_gains": 50000}, "repeat_gains"),                # 第十条第(四)项
        ("copyright_infringement", {"illegal_turnover": 30000}, "repeat_turnover"),      # 第十三条第一款第(二)项
        ("selling_infringing_copies", {"sales": 50000}, "repeat_sales"),                 # 第十四条第(二)项
    ],
)
def test_repeat_conduct_within_two_years_crosses_at_the_lower_2025_amount_only_with_a_prior_penalty(family, figures, rule):
    repeat = dict(figures, prior_penalties_2y=1)
    hit = crosses_threshold(family, repeat, V2025)
    assert hit.crossed and hit.rule_id == f"{family}.{rule}" and hit.verified
    assert not crosses_threshold(family, figures, V2025).crossed          # no prior penalty: the full amount applies
    assert not crosses_threshold(family, repeat, V2025 - DAY).crossed     # nor before the interpretation
    (figure, amount), = figures.items()
    assert not crosses_threshold(family, dict(repeat, **{figure: amount - 1}), V2025).crossed


def test_copyright_half_of_two_standards_crosses_under_article_13_item_5():
    hit = crosses_threshold("copyright_infringement", {"illegal_turnover": 25000, "copies": 250}, V2025)
    assert hit.crossed and hit.rule_id == "copyright_infringement.half_turnover_and_copies"
    assert hit.article == "第十三条第一款第(五)项"
    assert not crosses_threshold("copyright_infringement", {"illegal_turnover": 25000, "copies": 249}, V2025).crossed
    assert not crosses_threshold("copyright_infringement", {"illegal_turnover": 25000, "copies": 250}, V2025 - DAY).crossed


def test_every_threshold_in_force_today_was_read_in_its_text():
    table = load_thresholds()
    today = D(2026, 12, 7)
    for fam in table.families:
        v = max((x for x in fam.versions if x.effective_from <= today), key=lambda x: x.effective_from)
        assert v.verified and all(c.article for c in v.conditions), fam.id
