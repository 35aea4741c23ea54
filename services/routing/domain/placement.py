"""Where a case goes: the lead bureau and its jurisdiction, co-operating bureaus,
and why it went to the city level (属地责任: a county's bureau handles its cases;
the city bureau takes cross-county and major cases, repeat suspects, and the
cases of bureaus a county does not have)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from services.routing.domain.bureaus import Bureau
from services.routing.domain.reference import Reference
from services.routing.domain.rules import RoutingRules


@dataclass(frozen=True)
class CaseFacts:
    """What placement needs to know about a case."""

    case_id: str
    category: str
    county: str
    counties: tuple[str, ...]
    figures: Mapping[str, Decimal]


@dataclass(frozen=True)
class Placement:
    lead: Bureau
    level: str  # county | city
    reasons: tuple[str, ...]
    co_bureaus: tuple[Bureau, ...]
    directory_version: str
    county: str | None  # the current code of the case's county, when it is one


def involved_counties(ref: Reference, county: str, counties: Iterable[str]) -> tuple[str, ...]:
    """The current codes of every county involved (historical codes mapped, others ignored), sorted."""
    out = set()
    for code in (county, *counties):
        current, _ = ref.current_county(code)
        if current is not None:
            out.add(current)
    return tuple(sorted(out))


def is_major(rules: RoutingRules, figures: Mapping[str, Decimal]) -> bool:
    """Whether any of the rules' major-case figures reaches the major-case amount (a case carries a
    few figures, the rules name many: only the figures the case has are compared)."""
    if not figures:
        return False
    limit = rules.city_level.major_case_amount
    wanted = rules.city_level.major_case_figures
    return any(v >= limit for k, v in figures.items() if k in wanted)


def is_repeat(rules: RoutingRules, prior_cases_of_suspect: int) -> bool:
    return prior_cases_of_suspect >= rules.city_level.repeat_suspect_prior_cases


def place(facts: CaseFacts, *, ref: Reference, rules: RoutingRules, now: dt.datetime, prior_cases_of_suspect: int) -> Placement:
    """Place a case under the directory in force `now`."""
    directory = ref.directory_at(now)
    city = ref.city_code
    office = Bureau(directory.resolve(rules.office_bureau_type), city)
    category = ref.category(facts.category)
    county, county_problem = ref.current_county(facts.county)
    if category is None:
        return Placement(office, "city", ("unknown_category",), (), directory.version, county)
    bureaus = directory.bureaus_for(category)
    reasons: list[str] = []
    if county_problem is not None:
        reasons.append(county_problem)
    if rules.city_level.cross_county and len(involved_counties(ref, facts.county, facts.counties)) > 1:
        reasons.append("cross_county")
    if is_major(rules, facts.figures):
        reasons.append("major_amount")
    if is_repeat(rules, prior_cases_of_suspect):
        reasons.append("repeat_suspect")
    if county is not None and rules.county_lacks(county, bureaus.lead):
        reasons.append("county_lacks_bureau")
    jurisdiction = city if reasons or county is None else rules.jurisdiction_of(county)
    co: list[Bureau] = []
    for t in bureaus.cooperating:
        if t == rules.office_bureau_type:
            continue
        co_jurisdiction = jurisdiction
        if jurisdiction != city and county is not None and rules.county_lacks(county, t):
            co_jurisdiction = city
        co.append(Bureau(t, co_jurisdiction))
    return Placement(
        lead=Bureau(bureaus.lead, jurisdiction),
        level="city" if jurisdiction == city else "county",
        reasons=tuple(reasons),
        co_bureaus=tuple(co),
        directory_version=directory.version,
        county=county,
    )


def resolve_target(requested: Bureau, *, ref: Reference, rules: RoutingRules, now: dt.datetime) -> tuple[Bureau | None, str]:
    """Where a transfer to `requested` really goes (a merged bureau type resolves to
    its successor; a county without that bureau sends it to the city), or (None, why)."""
    directory = ref.directory_at(now)
    if requested.type not in directory.mapping:
        return None, f"unknown bureau type {requested.type!r}"
    effective_type = directory.resolve(requested.type)
    city = ref.city_code
    if requested.jurisdiction == city or requested.jurisdiction in ref.counties.city.city_level_codes:
        return Bureau(effective_type, city), ""
    county, problem = ref.current_county(requested.jurisdiction)
    if county is None:
        return None, f"jurisdiction {requested.jurisdiction} is not a county of the city ({problem})"
    jurisdiction = rules.jurisdiction_of(county)
    if rules.county_lacks(county, effective_type):
        jurisdiction = city
    return Bureau(effective_type, jurisdiction), ""
