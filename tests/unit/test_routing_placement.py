"""Where routing sends a case: the category's lead bureau per the reference data,
at the county or the city level, and a bureau reorganisation as configuration."""
from __future__ import annotations

import dataclasses
import datetime as dt
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from shared.reference import categories, load_directory
from services.routing.domain.bureaus import Bureau
from services.routing.domain.case import open_case
from services.routing.domain.placement import CaseFacts, place, resolve_target
from tests.support.routing import case_opened, context, default_rules_and_reference

NOW = dt.datetime(2025, 6, 2, 2, 0, tzinfo=dt.timezone.utc)  # a Monday, 10:00 in Shanghai
RULES, REF = default_rules_and_reference()
CITY = REF.city_code


def facts(category: str, county: str = "610402", counties: tuple[str, ...] = (), **figures: int) -> CaseFacts:
    return CaseFacts("C-1", category, county, counties or (county,), {k: Decimal(v) for k, v in figures.items()})


@pytest.mark.parametrize("category", [c.id for c in categories()])
def test_every_category_routes_to_the_lead_and_co_operating_bureaus_the_reference_data_names(category: str) -> None:
    cat = REF.categories.get(category)
    directory = REF.directory_at(NOW)
    expected_lead = directory.resolve(cat.lead)
    county = "610402"
    expected_jurisdiction = CITY if RULES.county_lacks(county, expected_lead) else county

    placement = place(facts(category, county), ref=REF, rules=RULES, now=NOW, prior_cases_of_suspect=0)

    assert placement.lead == Bureau(expected_lead, expected_jurisdiction)
    expected_co = [directory.resolve(b) for b in cat.cooperating]
    assert [b.type for b in placement.co_bureaus] == [b for b in dict.fromkeys(expected_co) if b != expected_lead]
    assert placement.level == ("city" if expected_jurisdiction == CITY else "county")


@pytest.mark.parametrize("category", [c.id for c in categories()])
def test_before_the_2018_merger_every_category_goes_to_the_bureau_the_seed_names(category: str) -> None:
    before_merger = dt.datetime(2018, 1, 15, 2, 0, tzinfo=dt.timezone.utc)
    placement = place(facts(category), ref=REF, rules=RULES, now=before_merger, prior_cases_of_suspect=0)
    assert placement.lead.type == REF.categories.get(category).lead
    assert placement.directory_version == "2017-seed"


def test_a_case_in_one_county_stays_with_that_countys_bureau() -> None:
    placement = place(facts("trademarks", "610404"), ref=REF, rules=RULES, now=NOW, prior_cases_of_suspect=0)
    assert str(placement.lead) == "market_regulation@610404"
    assert placement.reasons == ()
    assert [str(b) for b in placement.co_bureaus] == ["public_security@610404"]


def test_a_case_crossing_counties_goes_to_the_city_bureau() -> None:
    placement = place(facts("trademarks", "610402", ("610402", "610481")), ref=REF, rules=RULES, now=NOW,
                      prior_cases_of_suspect=0)
    assert str(placement.lead) == f"market_regulation@{CITY}"
    assert placement.reasons == ("cross_county",)
    assert [str(b) for b in placement.co_bureaus] == [f"public_security@{CITY}"]


def test_an_amount_at_the_configured_major_case_amount_goes_to_the_city_bureau_and_just_below_does_not() -> None:
    limit = RULES.city_level.major_case_amount
    at_limit = place(CaseFacts("C", "food", "610402", ("610402",), {"sales": limit}), ref=REF, rules=RULES, now=NOW,
                     prior_cases_of_suspect=0)
    below = place(CaseFacts("C", "food", "610402", ("610402",), {"sales": limit - Decimal("0.01")}), ref=REF,
                  rules=RULES, now=NOW, prior_cases_of_suspect=0)
    assert at_limit.lead.jurisdiction == CITY and at_limit.reasons == ("major_amount",)
    assert below.lead.jurisdiction == "610402"


def test_a_repeat_suspect_goes_to_the_city_bureau() -> None:
    prior = RULES.city_level.repeat_suspect_prior_cases
    placement = place(facts("food"), ref=REF, rules=RULES, now=NOW, prior_cases_of_suspect=prior)
    assert placement.lead.jurisdiction == CITY
    assert placement.reasons == ("repeat_suspect",)


def test_a_county_without_the_bureau_sends_the_case_to_the_city_bureau() -> None:
    postal = place(facts("postal_channel", "610402"), ref=REF, rules=RULES, now=NOW, prior_cases_of_suspect=0)
    forestry = place(facts("seedlings", "610403"), ref=REF, rules=RULES, now=NOW, prior_cases_of_suspect=0)
    assert str(postal.lead) == f"postal@{CITY}" and postal.reasons == ("county_lacks_bureau",)
    assert str(forestry.lead) == f"forestry@{CITY}" and forestry.reasons == ("county_lacks_bureau",)


def test_a_co_operating_bureau_the_county_lacks_is_the_city_ones() -> None:
    placement = place(facts("cross_border", "610404"), ref=REF, rules=RULES, now=NOW, prior_cases_of_suspect=0)
    assert str(placement.lead) == "market_regulation@610404"
    assert [str(b) for b in placement.co_bureaus] == [f"postal@{CITY}", "commerce@610404"]


def test_an_old_county_code_routes_to_the_county_that_replaced_it() -> None:
    placement = place(facts("food", "610427"), ref=REF, rules=RULES, now=NOW, prior_cases_of_suspect=0)
    assert str(placement.lead) == "market_regulation@610482"


@pytest.mark.parametrize("county, reason", [("610400", "city_level_county"), ("610499", "unknown_county"),
                                            ("110101", "unknown_county")])
def test_a_county_code_that_is_not_a_county_of_the_city_goes_to_the_city_bureau(county: str, reason: str) -> None:
    placement = place(facts("food", county), ref=REF, rules=RULES, now=NOW, prior_cases_of_suspect=0)
    assert placement.lead == Bureau("market_regulation", CITY)
    assert reason in placement.reasons


def test_an_unknown_category_goes_to_the_leading_group_office() -> None:
    placement = place(facts("no_such_category"), ref=REF, rules=RULES, now=NOW, prior_cases_of_suspect=0)
    assert placement.lead == Bureau("office", CITY)
    assert placement.reasons == ("unknown_category",)


def _directory_file(tmp_path: Path, name: str, versions: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent("""\
        version: "test"
        effective_from: 2017-12-01
        citation: test directory
        note: written by a test
        versions:
        """) + textwrap.indent(textwrap.dedent(versions), "  "), encoding="utf-8")
    return path


def test_merging_three_bureaus_into_market_regulation_is_a_configuration_change_that_routing_follows(tmp_path: Path) -> None:
    without_merger = _directory_file(tmp_path, "seed.yaml", """\
        - version: "2017-seed"
          effective_from: 2017-12-01
          citation: seed
          merges: []
        """)
    with_merger = _directory_file(tmp_path, "merged.yaml", """\
        - version: "2017-seed"
          effective_from: 2017-12-01
          citation: seed
          merges: []
        - version: "2025-merger"
          effective_from: 2025-05-01
          citation: a reorganisation decided by configuration
          merges:
            - into: market_regulation
              from: [industry_commerce, quality, food_drug]
        """)
    before = dict(ref=dataclasses.replace(REF, directory=load_directory(without_merger)), rules=RULES)
    after = dict(ref=dataclasses.replace(REF, directory=load_directory(with_merger)), rules=RULES)

    for category, seed_bureau in (("trademarks", "industry_commerce"), ("product_quality", "quality"),
                                  ("counterfeit_drugs", "food_drug")):
        assert place(facts(category), now=NOW, prior_cases_of_suspect=0, **before).lead.type == seed_bureau
        assert place(facts(category), now=NOW, prior_cases_of_suspect=0, **after).lead.type == "market_regulation"
        # the version in force at the time decides: before its effective date the old bureaus still receive
        early = dt.datetime(2025, 4, 30, 2, 0, tzinfo=dt.timezone.utc)
        assert place(facts(category), now=early, prior_cases_of_suspect=0, **after).lead.type == seed_bureau
    # co-operating bureaus merged into the lead disappear from the co-operating list
    workshops = place(facts("unlicensed_workshops"), now=NOW, prior_cases_of_suspect=0, **after)
    assert str(workshops.lead) == "market_regulation@610402" and workshops.co_bureaus == ()


def test_a_transfer_to_a_merged_bureau_type_goes_to_the_bureau_that_took_its_work() -> None:
    target, _ = resolve_target(Bureau("quality", "610404"), ref=REF, rules=RULES, now=NOW)
    assert target == Bureau("market_regulation", "610404")


def test_a_transfer_to_a_bureau_type_a_county_lacks_goes_to_the_city_one() -> None:
    target, _ = resolve_target(Bureau("postal", "610404"), ref=REF, rules=RULES, now=NOW)
    assert target == Bureau("postal", CITY)


@pytest.mark.parametrize("bureau", ["no_such_bureau@610402", "culture@110101", "culture@610499"])
def test_a_transfer_to_an_unknown_bureau_or_a_place_outside_the_city_has_no_target(bureau: str) -> None:
    target, why = resolve_target(Bureau.parse(bureau), ref=REF, rules=RULES, now=NOW)
    assert target is None and why


def test_the_assignment_event_names_the_bureau_its_co_operating_bureaus_and_the_versions_used() -> None:
    fx = open_case(case_opened("C-9", category="fake_websites", county="610422"), ctx=context(NOW),
                   prior_cases_of_suspect=0)
    assigned = fx.emissions[0].payload
    assert assigned.bureau == "market_regulation@610422"
    assert assigned.co_bureaus == ["industry_it@610422", "cyberspace@610422"]
    assert assigned.directory_version == "2018-market-regulation"
    assert assigned.rules_version == RULES.version
    assert fx.emissions[0].audience == ("market_regulation@610422",)
