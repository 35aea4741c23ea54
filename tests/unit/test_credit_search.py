"""Enterprise names, the in-memory name search and the masked disclosure rows (issue #5)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from services.credit.domain.disclosure import project, public_party, to_csv
from services.credit.domain.names import NameAnalyser
from services.credit.domain.search import Candidate, NameIndex, rank
from services.credit.rules import load_rulebook

BOOK = load_rulebook()
ANALYSER = NameAnalyser(BOOK.region_prefixes(), BOOK.names.legal_form_suffixes)


def test_a_name_is_split_into_region_core_and_legal_form() -> None:
    parts = ANALYSER.analyse("陕西省咸阳市华泰商贸有限公司")
    assert parts.prefixes == ("陕西省", "咸阳市")
    assert parts.core == "华泰商贸"
    assert parts.suffix == "有限公司"


def test_short_region_forms_full_width_brackets_and_bracketed_regions_are_understood() -> None:
    parts = ANALYSER.analyse("华为技术（咸阳）有限责任公司")
    assert parts.core == "华为技术" and parts.bracket_region == "咸阳市" and parts.suffix == "有限责任公司"
    assert ANALYSER.analyse("咸阳 秦都 华泰商贸").prefixes == ("咸阳市", "秦都区")


def test_a_one_character_county_name_is_never_taken_for_a_prefix() -> None:
    assert ANALYSER.analyse("乾坤商贸有限公司").core == "乾坤商贸"


INDEX = NameIndex(ANALYSER)
NAMES = [
    *INDEX.rows("e1", "91610400MA6XUN0001", [("陕西省咸阳市华泰商贸有限公司", "registered")]),
    *INDEX.rows("e2", None, [("西安华泰商贸有限公司", "registered")]),
    *INDEX.rows("e3", "91610400MA6XUN0002", [("咸阳秦都新天地食品有限公司", "registered"), ("咸阳秦都天地副食店", "former")]),
    *INDEX.rows("e4", "91610400MA6XUN0003", [("渭城区永兴建材经营部", "registered"), ("永兴建材", "alias")]),
]


def search(query: str) -> list[Candidate]:
    """Every indexed name scored (the candidate selection is the adapter's, in Postgres)."""
    return rank(ANALYSER.analyse(query), NAMES)


def test_the_search_finds_an_enterprise_without_its_region_and_legal_form_and_says_why() -> None:
    [best, *rest] = search("咸阳华泰商贸")
    assert best.entity_id == "e1" and best.score >= 95
    assert any("core name '华泰商贸'" in line for line in best.explanation)
    assert any("region agrees" in line for line in best.explanation)
    assert any("legal form set aside" in line for line in best.explanation)
    other = next(c for c in rest if c.entity_id == "e2")
    assert other.score < best.score and any("region differs" in line for line in other.explanation)


def test_a_former_name_is_found_and_labelled_as_such_under_the_registered_name() -> None:
    [best, *_] = search("天地副食店")
    assert best.entity_id == "e3" and best.matched_name_kind == "former"
    assert best.name == "咸阳秦都新天地食品有限公司"


def test_an_alias_is_found() -> None:
    assert search("永兴建材")[0].entity_id == "e4"


def test_a_query_with_a_typo_still_ranks_the_right_enterprise_first() -> None:
    assert search("咸阳华秦商贸有限公司")[0].entity_id in {"e1", "e2"}


def test_an_entity_is_indexed_once_per_distinct_name_under_its_registered_name() -> None:
    rows = INDEX.rows("e9", None, [("甲乙商贸有限公司", "former"), ("丙丁科技有限公司", "registered"),
                                   ("甲乙商贸有限公司", "former"), ("", "alias")])
    assert [(r.name, r.name_kind) for r in rows] == [("甲乙商贸有限公司", "former"), ("丙丁科技有限公司", "registered")]
    assert {r.registered for r in rows} == {"丙丁科技有限公司"}
    assert rows[0].grams == {"甲乙", "乙商", "商贸"}


def test_rare_bigrams_select_candidates_and_common_ones_only_re_rank_them() -> None:
    # 1M entities: a bigram in more than 5,000 names is common
    plan = INDEX.plan("华泰商贸", {"华泰": 40, "泰商": 300, "商贸": 45_000}, 1_000_000)
    assert plan is not None and plan.rare == ("华泰", "泰商") and plan.common == ("商贸",)
    assert (plan.pool, plan.keep) == (360, 120)
    # a small registry: 0.5% of the entities, but never under 200 names
    small = INDEX.plan("华泰商贸", {"华泰": 150, "泰商": 300, "商贸": 250}, 10_000)
    assert small is not None and small.rare == ("华泰",) and set(small.common) == {"商贸", "泰商"}


def test_when_every_bigram_is_common_the_least_common_selects_and_unknown_ones_are_ignored() -> None:
    plan = INDEX.plan("商贸科技", {"商贸": 45_000, "贸科": 9_000, "科技": 30_000}, 1_000_000)
    assert plan is not None and plan.rare == ("贸科",) and plan.common == ("科技", "商贸")
    assert INDEX.plan("无人知晓", {}, 1_000_000) is None


def test_a_persons_name_is_masked_and_the_id_number_withheld_for_the_public() -> None:
    party = public_party(kind="natural_person", credit_code=None, name="张三丰", legal_representative=None,
                         resident_id="11010519491231002X", rule=BOOK.party_names.at(dt.date(2026, 1, 5)))
    assert party["name"] == "张**"
    assert party["resident_id_masked"] is None, "no ID number (rules/party_names.yaml)"


def test_an_organisation_is_published_by_name_with_its_representative_masked() -> None:
    party = public_party(kind="organisation", credit_code="91110000600037341L", name="华泰商贸有限公司",
                         legal_representative="李四", resident_id=None, rule=BOOK.party_names.at(dt.date(2026, 1, 5)))
    assert party["name"] == "华泰商贸有限公司" and party["legal_representative"] == "李*"


def test_the_feed_publishes_only_the_fields_the_rules_list_in_their_order() -> None:
    fields = BOOK.disclosure.penalty_fields
    row = {"decision_no": "咸市监罚〔2024〕1号", "party_name": "华泰", "fine_amount": Decimal("50000.00"),
           "penalty_types": ["fine", "warning"], "internal_note": "never published"}
    published = project(row, fields)
    assert list(published) == [f.key for f in fields]
    assert "internal_note" not in published
    text = to_csv([published], fields)
    header, line = text.splitlines()
    assert header.split(",")[0] == "decision_no"
    assert "50000.00" in line and "fine;warning" in line
    assert to_csv([], fields, labels=True).startswith("行政处罚决定书文号,")


@pytest.mark.parametrize("name, shown", [
    ("张三", "张*"), ("欧阳娜娜", "欧***"), ("买买提·艾力", "买*****"),  # known by the operator's own name
    ("秦都区张三五金店", "秦都区张三五金店"), ("老张面馆", "老张面馆"), ("咸阳市渭城区李四超市", "咸阳市渭城区李四超市"),
])
def test_an_individual_trader_known_by_its_operator_s_name_is_published_masked_and_a_shop_name_as_it_is(
        name: str, shown: str) -> None:
    party = public_party(kind="individual_trader", credit_code="92610400MA6XXXXXX0", name=name,
                         legal_representative="张三", resident_id=None, rule=BOOK.party_names.at(dt.date(2026, 1, 5)))
    assert party["name"] == shown and party["legal_representative"] == "张*"
