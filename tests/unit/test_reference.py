"""Reference data: counties, bureaus and the directory, categories, deadlines, thresholds."""
from __future__ import annotations

import datetime as dt
import importlib.resources
import textwrap
from decimal import Decimal

import pytest
import yaml
from pydantic import ValidationError

from shared.reference import (
    REFERENCE_DIR_ENV,
    ReferenceDataError,
    UnknownCode,
    categories,
    category,
    city,
    clear_caches,
    counties,
    crosses_threshold,
    deadline_rule,
    directory,
    load_bureau_types,
    load_categories,
    load_counties,
    load_deadlines,
    load_directory,
    load_thresholds,
    resolve_county,
)

D = dt.date
DATA_FILES = [
    "counties.yaml",
    "bureau_types.yaml",
    "bureau_directory.yaml",
    "categories.yaml",
    "deadlines.yaml",
    "thresholds.yaml",
]


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch):
    monkeypatch.delenv(REFERENCE_DIR_ENV, raising=False)
    clear_caches()
    yield
    clear_caches()


def write(path, text):
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- provenance ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DATA_FILES)
def test_every_data_file_states_its_version_effective_date_citation_and_what_to_verify(name):
    raw = yaml.safe_load(importlib.resources.files("shared.reference.data").joinpath(name).read_text("utf-8"))
    assert isinstance(raw["version"], str) and raw["version"]
    assert isinstance(raw["effective_from"], dt.date)
    assert raw["citation"].strip()
    assert "verify" in raw["note"]


def test_loaded_reference_models_are_immutable():
    county = resolve_county("610402")
    with pytest.raises(ValidationError):
        county.name_zh = "x"  # type: ignore[misc]


# --- counties ----------------------------------------------------------------------------------

DESIGN_COUNTIES = {
    "610402": "秦都区", "610403": "杨陵区", "610404": "渭城区", "610422": "三原县", "610423": "泾阳县",
    "610424": "乾县", "610425": "礼泉县", "610426": "永寿县", "610428": "长武县", "610429": "旬邑县",
    "610430": "淳化县", "610431": "武功县", "610481": "兴平市", "610482": "彬州市",
}


def test_the_city_is_xianyang_610400():
    assert (city().code, city().name_zh) == ("610400", "咸阳市")


def test_the_counties_are_the_fourteen_gb2260_divisions_with_names_and_weights():
    assert {c.code: c.name_zh for c in counties()} == DESIGN_COUNTIES
    assert all(c.name_en and c.population_weight > 0 for c in counties())
    assert sum(c.population_weight for c in counties()) == pytest.approx(Decimal(1), abs=Decimal("0.05"))


def test_the_old_bin_county_code_610427_resolves_to_binzhou_610482():
    county = resolve_county("610427")
    assert (county.code, county.name_zh, county.name_en) == ("610482", "彬州市", "Binzhou City")
    assert "610427" in county.former_codes
    history = {h.code: h for h in load_counties().historical_codes}
    assert history["610427"].changed_in == 2018 and history["610427"].name_zh == "彬县"


def test_county_codes_are_accepted_in_full_width():
    assert resolve_county("６１０４０２").name_zh == "秦都区"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("610102", "outside_city"),
        ("110105", "outside_city"),
        ("610400", "city_level_code"),
        ("610401", "city_level_code"),
        ("610499", "unknown_county"),
        ("61040", "malformed_code"),
        ("abcdef", "malformed_code"),
    ],
)
def test_codes_that_are_not_a_county_of_the_city_raise_unknown_code_with_a_reason(code, reason):
    with pytest.raises(UnknownCode) as err:
        resolve_county(code)
    assert err.value.field == "county_code"
    assert err.value.reason == reason
    assert isinstance(err.value, LookupError)


# --- bureaus and the directory ----------------------------------------------------------------

BRIEF_BUREAUS = {
    "market_regulation", "industry_commerce", "food_drug", "health", "industry_it", "quality", "postal",
    "culture", "ip_office", "public_security", "agriculture", "forestry", "environment", "work_safety",
    "development_reform", "cyberspace", "procuratorate", "court", "justice", "pboc", "commerce", "office",
}


def test_every_bureau_type_of_the_brief_exists_with_chinese_and_english_names():
    types = load_bureau_types()
    assert BRIEF_BUREAUS <= types.ids
    assert all(b.name_zh and b.name_en for b in types.bureau_types)


def test_the_2018_merge_resolves_industry_commerce_to_market_regulation_in_2019_but_not_2017():
    assert directory(at=D(2019, 1, 1)).resolve("industry_commerce") == "market_regulation"
    assert directory(at=D(2019, 1, 1)).resolve("quality") == "market_regulation"
    assert directory(at=D(2019, 1, 1)).resolve("food_drug") == "market_regulation"
    assert directory(at=D(2017, 12, 15)).resolve("industry_commerce") == "industry_commerce"
    assert directory(at=D(2019, 1, 1)).resolve("postal") == "postal"


def test_after_the_merge_market_regulation_receives_the_work_of_the_three_old_bureaus():
    after = directory(at=D(2020, 6, 1))
    assert after.members("market_regulation") == {"market_regulation", "industry_commerce", "quality", "food_drug"}
    assert "industry_commerce" not in after.active_bureaus()
    assert "industry_commerce" in directory(at=D(2018, 1, 1)).active_bureaus()


def test_the_directory_refuses_dates_before_its_first_version_and_unknown_bureaus():
    with pytest.raises(UnknownCode) as err:
        directory(at=D(2010, 1, 1))
    assert err.value.reason == "no_version_in_force"
    with pytest.raises(UnknownCode) as err:
        directory(at=D(2019, 1, 1)).resolve("ministry_of_magic")
    assert (err.value.field, err.value.reason) == ("bureau_type", "unknown_bureau_type")


OPERATOR_DIRECTORY = """\
    version: "test-2030"
    effective_from: 2017-12-01
    citation: test fixture
    note: a test directory, not real data (nothing to verify)
    extra_bureau_types:
      - {id: culture_tourism, name_zh: 文化和旅游局, name_en: Culture and Tourism Bureau}
    versions:
      - version: "base"
        effective_from: 2017-12-01
        citation: test
        merges: []
      - version: "2030"
        effective_from: 2030-01-01
        citation: test
        merges:
          - {into: market_regulation, from: [industry_commerce, quality, food_drug]}
          - {into: culture_tourism, from: [culture]}
          - {into: market_regulation, from: [ip_office]}
"""


def test_a_reorganisation_is_expressed_by_an_operator_directory_file_alone(tmp_path):
    path = write(tmp_path / "directory.yaml", OPERATOR_DIRECTORY)
    loaded = load_directory(path)
    assert "culture_tourism" in loaded.bureau_types
    assert directory(at=D(2029, 12, 31), path=path).resolve("culture") == "culture"
    in_2030 = directory(at=D(2030, 1, 1), path=path)
    assert in_2030.resolve("culture") == "culture_tourism"
    assert in_2030.resolve("ip_office") == "market_regulation"
    patents = in_2030.bureaus_for(category("patents"))
    assert patents.lead == "market_regulation"
    # the packaged directory is untouched
    assert directory(at=D(2030, 1, 1)).resolve("culture") == "culture"


def test_the_reference_dir_environment_variable_replaces_the_packaged_directory(tmp_path, monkeypatch):
    write(tmp_path / "bureau_directory.yaml", OPERATOR_DIRECTORY)
    monkeypatch.setenv(REFERENCE_DIR_ENV, str(tmp_path))
    assert directory(at=D(2030, 1, 1)).resolve("culture") == "culture_tourism"


def test_merges_may_chain_but_a_loop_or_an_unknown_bureau_is_refused(tmp_path):
    chained = write(
        tmp_path / "chain.yaml",
        OPERATOR_DIRECTORY.replace(
            "- {into: market_regulation, from: [ip_office]}", "- {into: culture, from: [ip_office]}"
        ),
    )
    assert directory(at=D(2030, 1, 1), path=chained).resolve("ip_office") == "culture_tourism"
    looped = write(
        tmp_path / "loop.yaml",
        OPERATOR_DIRECTORY.replace(
            "- {into: market_regulation, from: [ip_office]}", "- {into: culture, from: [culture_tourism]}"
        ),
    )
    with pytest.raises(ReferenceDataError, match="loop"):
        load_directory(looped)
    unknown = write(tmp_path / "unknown.yaml", OPERATOR_DIRECTORY.replace("from: [culture]", "from: [kulture]"))
    with pytest.raises(ReferenceDataError, match="kulture"):
        load_directory(unknown)


def test_a_directory_with_versions_out_of_order_is_refused(tmp_path):
    bad = write(tmp_path / "bad.yaml", OPERATOR_DIRECTORY.replace("effective_from: 2030-01-01", "effective_from: 2016-01-01"))
    with pytest.raises(ReferenceDataError, match="increasing"):
        load_directory(bad)


# --- categories ------------------------------------------------------------------------------

BRIEF_CATEGORIES = {
    "counterfeit_drugs", "medical_devices", "cosmetics", "food", "false_advertising", "disinfection_products",
    "unlicensed_workshops", "product_quality", "vehicle_fuel", "postal_channel", "online_piracy",
    "software_piracy", "patents", "trademarks", "fake_websites", "unfair_competition", "pyramid_selling",
    "price_fraud", "fake_reviews", "farm_inputs", "seedlings", "cross_border", "online_fraud",
}


def test_every_category_of_the_brief_exists():
    assert set(load_categories().ids) == BRIEF_CATEGORIES


@pytest.mark.parametrize("at", [D(2017, 12, 15), D(2019, 1, 1), D(2026, 6, 1)])
def test_every_category_has_a_lead_bureau_that_exists_in_the_directory(at):
    view = directory(at=at)
    for c in categories():
        handled = view.bureaus_for(c)
        assert handled.lead in view.active_bureaus(), c.id
        assert all(b in view.active_bureaus() for b in handled.cooperating), c.id
        assert handled.lead not in handled.cooperating


@pytest.mark.parametrize(
    ("category_id", "lead", "cooperating"),
    [
        ("counterfeit_drugs", "food_drug", ("public_security",)),
        ("unlicensed_workshops", "industry_commerce", ("quality", "food_drug")),
        ("vehicle_fuel", "quality", ("commerce",)),
        ("online_piracy", "culture", ("cyberspace",)),
        ("fake_websites", "industry_commerce", ("industry_it", "cyberspace")),
        ("cross_border", "industry_commerce", ("quality", "postal", "commerce")),
        ("online_fraud", "public_security", ("cyberspace",)),
        ("price_fraud", "development_reform", ()),
        ("seedlings", "forestry", ()),
    ],
)
def test_categories_follow_the_design_table(category_id, lead, cooperating):
    c = category(category_id)
    assert (c.lead, c.cooperating) == (lead, cooperating)


def test_after_the_merge_a_category_led_and_assisted_by_merged_bureaus_goes_to_market_regulation_alone():
    handled = directory(at=D(2019, 1, 1)).bureaus_for(category("unlicensed_workshops"))
    assert handled.lead == "market_regulation" and handled.cooperating == ()
    cross = directory(at=D(2019, 1, 1)).bureaus_for(category("cross_border"))
    assert cross.lead == "market_regulation" and cross.cooperating == ("postal", "commerce")


def test_ip_categories_are_flagged_and_carry_a_threshold_family():
    ip = {c.id for c in categories() if c.ip}
    assert {"trademarks", "patents", "online_piracy", "software_piracy"} <= ip
    assert not category("price_fraud").ip
    assert category("trademarks").threshold_family == "counterfeit_trademark"
    assert category("counterfeit_drugs").threshold_family == "fake_drugs"
    assert category("pyramid_selling").threshold_family is None
    families = load_thresholds().family_ids
    assert all(f in families for c in categories() for f in c.threshold_families)


def test_an_unknown_category_raises_unknown_code():
    with pytest.raises(UnknownCode) as err:
        category("alchemy")
    assert err.value.field == "category"


# --- deadlines -------------------------------------------------------------------------------

EXPECTED_DEADLINES = {
    "complaint_accept_decision": (7, "working_days"),
    "report_case_decision": (15, "working_days"),
    "transfer_head_decision": (3, "calendar_days"),
    "transfer_to_police": (24, "hours"),
    "police_filing_decision": (3, "calendar_days"),
    "transfer_reconsideration_request": (3, "calendar_days"),
    "transfer_handover": (3, "calendar_days"),
    "penalty_disclosure": (7, "working_days"),
    "serious_violation_list_max": (3, "years"),
    "serious_violation_list_early_removal": (1, "years"),
    "penalty_publicity_min": (3, "months"),
    "penalty_publicity_max": (3, "years"),
}


@pytest.mark.parametrize(("rule_id", "expected"), sorted(EXPECTED_DEADLINES.items()))
def test_deadlines_in_force_in_2025_have_the_design_values_and_a_citation(rule_id, expected):
    rule = deadline_rule(rule_id, at=D(2025, 6, 1))
    assert (rule.amount, rule.unit) == expected
    assert rule.citation and rule.effective_from <= D(2025, 6, 1)


def test_minimum_and_maximum_periods_are_told_apart_from_deadlines():
    assert deadline_rule("serious_violation_list_early_removal", at=D(2025, 1, 1)).kind == "minimum_period"
    assert deadline_rule("serious_violation_list_max", at=D(2025, 1, 1)).kind == "maximum_period"
    assert deadline_rule("complaint_accept_decision", at=D(2025, 1, 1)).kind == "deadline"


def test_the_report_deadline_version_in_force_depends_on_the_date():
    old = deadline_rule("report_case_decision", at=D(2018, 6, 1))
    new = deadline_rule("report_case_decision", at=D(2019, 4, 1))
    assert (old.version, old.amount, old.extended_amount) == ("2007", 7, 15)
    assert (new.version, new.amount, new.extended_amount) == ("2019", 15, 30)


def test_an_operator_file_can_add_a_new_version_of_a_rule(tmp_path):
    path = write(
        tmp_path / "deadlines.yaml",
        """\
        version: test
        effective_from: 2020-01-01
        citation: test fixture
        note: test data, nothing to verify
        rules:
          - id: complaint_accept_decision
            name_zh: 投诉受理
            name_en: Complaint decision
            kind: deadline
            starts_at: received
            versions:
              - {version: "2020", effective_from: 2020-01-01, amount: 7, unit: working_days, citation: old}
              - {version: "2026", effective_from: 2026-03-01, amount: 3, unit: working_days, citation: new}
        """,
    )
    assert deadline_rule("complaint_accept_decision", at=D(2026, 2, 28), path=path).amount == 7
    later = deadline_rule("complaint_accept_decision", at=D(2026, 3, 1), path=path)
    assert (later.version, later.amount, later.citation) == ("2026", 3, "new")


def test_unknown_deadline_rules_and_dates_before_a_rule_existed_raise_unknown_code():
    with pytest.raises(UnknownCode) as err:
        deadline_rule("eternity", at=D(2025, 1, 1))
    assert err.value.reason == "unknown_rule"
    with pytest.raises(UnknownCode) as err:
        deadline_rule("serious_violation_list_max", at=D(2020, 1, 1))
    assert err.value.reason == "no_version_in_force"


def test_every_deadline_rule_has_increasing_versions_with_citations():
    for spec in load_deadlines().rules:
        dates = [v.effective_from for v in spec.versions]
        assert dates == sorted(dates) and all(v.citation for v in spec.versions)


# --- thresholds ------------------------------------------------------------------------------

BEFORE_2025 = D(2024, 6, 1)
AFTER_2025 = D(2025, 6, 1)


def test_selling_infringing_copies_with_60000_gains_crosses_under_2025_but_not_2010():
    new = crosses_threshold("selling_infringing_copies", {"illegal_gains": Decimal("60000")}, AFTER_2025)
    old = crosses_threshold("selling_infringing_copies", {"illegal_gains": Decimal("60000")}, BEFORE_2025)
    assert new.crossed and new.version == "2025" and new.rule_id == "selling_infringing_copies.gains"
    assert "50,000" in new.condition_text and "2025" in new.citation
    assert not old.crossed and old.version == "2004" and old.rule_id is None and old.condition_text is None


def test_the_2025_interpretation_applies_from_its_effective_date():
    figures = {"illegal_gains": 60000}
    assert not crosses_threshold("selling_infringing_copies", figures, D(2025, 4, 25)).crossed
    assert crosses_threshold("selling_infringing_copies", figures, D(2025, 4, 26)).crossed


@pytest.mark.parametrize("at", [BEFORE_2025, AFTER_2025])
@pytest.mark.parametrize(
    ("figures", "crossed", "rule"),
    [
        ({"illegal_turnover": 50000}, True, "turnover"),
        ({"illegal_turnover": Decimal("49999.99")}, False, None),
        ({"illegal_gains": 30000}, True, "gains"),
        ({"illegal_turnover": 30000, "marks_count": 1}, False, None),
        ({"illegal_turnover": 30000, "marks_count": 2}, True, "two_marks_turnover"),
        ({"illegal_gains": 20000, "marks_count": 3}, True, "two_marks_gains"),
        ({"illegal_gains": 19999, "marks_count": 3}, False, None),
    ],
)
def test_counterfeit_trademark_worked_examples(at, figures, crossed, rule):
    result = crosses_threshold("counterfeit_trademark", figures, at)
    assert result.crossed is crossed
    assert result.rule_id == (f"counterfeit_trademark.{rule}" if rule else None)


@pytest.mark.parametrize(
    ("family", "figures", "crossed"),
    [
        ("fake_shoddy_products", {"sales": 50000}, True),
        ("fake_shoddy_products", {"unsold_value": 150000}, True),
        ("fake_shoddy_products", {"sales": 40000, "unsold_value": 30000}, True),  # 3 × 40,000 + 30,000
        ("fake_shoddy_products", {"sales": 40000, "unsold_value": 29999}, False),
        ("selling_counterfeit_marked_goods", {"sales": 49999, "unsold_value": 100000}, False),  # together 149,999
        ("selling_counterfeit_marked_goods", {"sales": 49999, "unsold_value": 100001}, True),  # together 150,000
        ("selling_counterfeit_marked_goods", {"unsold_value": 150000}, True),
        ("fake_labels", {"pieces": 10000}, True),  # 法释〔2025〕5号 第六条第一款第(一)项
        ("fake_labels", {"pieces": 9999, "illegal_gains": 19999, "illegal_turnover": 29999}, False),
        ("counterfeit_patent", {"loss": 500000}, True),
        ("counterfeit_patent", {"illegal_turnover": 199999, "illegal_gains": 99999}, False),
        ("copyright_infringement", {"copies": 500}, True),
        ("copyright_infringement", {"copies": 499}, False),
        ("farm_inputs", {"loss": 20000}, True),
        ("farm_inputs", {"loss": 19999}, False),
        ("fake_drugs", {}, True),
        ("fake_drugs", {"sales": 1}, True),
    ],
)
def test_threshold_worked_examples(family, figures, crossed):
    assert crosses_threshold(family, figures, AFTER_2025).crossed is crossed


def test_threshold_figures_must_be_known_non_negative_ints_or_decimals_never_floats():
    with pytest.raises(TypeError):
        crosses_threshold("counterfeit_trademark", {"illegal_gains": 30000.0}, AFTER_2025)  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        crosses_threshold("counterfeit_trademark", {"marks_count": True}, AFTER_2025)  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="unknown figure"):
        crosses_threshold("counterfeit_trademark", {"turnover": 1}, AFTER_2025)
    with pytest.raises(ValueError):
        crosses_threshold("counterfeit_trademark", {"illegal_gains": -1}, AFTER_2025)
    with pytest.raises(ValueError):
        crosses_threshold("counterfeit_trademark", {"illegal_gains": Decimal("NaN")}, AFTER_2025)


def test_unknown_threshold_families_and_dates_before_any_version_raise_unknown_code():
    with pytest.raises(UnknownCode) as err:
        crosses_threshold("jaywalking", {}, AFTER_2025)
    assert err.value.field == "threshold_family"
    with pytest.raises(UnknownCode) as err:
        crosses_threshold("counterfeit_trademark", {}, D(2001, 1, 1))
    assert err.value.reason == "no_version_in_force"


def test_threshold_amounts_are_decimals():
    for fam in load_thresholds().families:
        for v in fam.versions:
            for cond in v.conditions:
                for comp in cond.all_of:
                    assert isinstance(comp.at_least, Decimal)


def test_a_threshold_file_referring_to_an_undeclared_figure_is_refused(tmp_path):
    path = write(
        tmp_path / "thresholds.yaml",
        """\
        version: test
        effective_from: 2020-01-01
        citation: test fixture
        note: test data, nothing to verify
        figures: {sales: sales}
        families:
          - id: x
            name_zh: x
            name_en: x
            article: x
            versions:
              - version: "1"
                effective_from: 2020-01-01
                citation: x
                conditions:
                  - {id: c, text: t, text_zh: t, all: [{figure: profit, at_least: "1"}]}
        """,
    )
    with pytest.raises(ReferenceDataError, match="profit"):
        load_thresholds(path)
