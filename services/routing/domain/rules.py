"""Routing rules (``services/routing/rules/routing.yaml``) as a validated model.

`RoutingRules` checks its own shape; `problems(reference)` checks it against
the reference data (bureau types, counties, deadline rules, figure names), so
a bad file stops the service at start-up with every problem named.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.routing.domain.reference import Reference

ReferralKind = Literal[
    "referral_head_decision", "referral_transfer", "police_filing_decision",
    "reconsideration_request", "reconsideration_decision", "handover",
]
REFERRAL_KINDS: tuple[str, ...] = ReferralKind.__args__  # type: ignore[attr-defined]
ORIGINS = ("complaint", "report", "lead")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CityLevel(_Strict):
    cross_county: bool = True
    major_case_amount: Decimal = Field(gt=0)
    major_case_figures: tuple[str, ...] = Field(min_length=1)
    repeat_suspect_prior_cases: int = Field(ge=1)


class JointMeeting(_Strict):
    min_bureaus: int = Field(ge=2)
    cross_county: bool = True
    major_amount: bool = True
    repeat_suspect: bool = False


class DeadlineWatch(_Strict):
    approaching_before_hours: float = Field(gt=0)
    approaching_not_before_fraction: Decimal = Field(ge=0, le=1)


class SurgeRule(_Strict):
    window_seconds: int = Field(ge=10)
    step_seconds: int = Field(ge=1)
    threshold: int = Field(ge=2)

    @model_validator(mode="after")
    def _step_fits(self) -> "SurgeRule":
        if self.step_seconds > self.window_seconds or self.window_seconds % self.step_seconds:
            raise ValueError("step_seconds must divide window_seconds")
        return self


class Surges(_Strict):
    county_category: SurgeRule
    suspect: SurgeRule


class Reopening(_Strict):
    """The period a case reopened by the complainant's survey gets (issue 15 §4): `rule` is a deadline rule of
    the reference data for a case reopened as accepted; a refused case reopened goes back to be acknowledged
    under its origin's acknowledgement rule. `verified`: whether a regulation sets this period for a reopening."""

    rule: str = Field(min_length=1)
    verified: bool
    note: str = Field(min_length=1)


class RoutingRules(_Strict):
    version: str = Field(min_length=1)
    effective_from: dt.date
    citation: str = Field(min_length=1)
    note: str = Field(min_length=1)
    office_bureau_type: str
    county_jurisdictions: dict[str, str] = Field(default_factory=dict)
    city_only_bureau_types: tuple[str, ...] = ()
    county_missing_bureau_types: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    city_level: CityLevel
    acknowledgement_rules: dict[Literal["complaint", "report", "lead"], str]
    referral_rules: dict[ReferralKind, str]
    reopening: Reopening
    max_transfers: int = Field(ge=0)
    joint_meeting: JointMeeting
    deadline_watch: DeadlineWatch
    surges: Surges

    @model_validator(mode="after")
    def _complete(self) -> "RoutingRules":
        missing = [o for o in ORIGINS if o not in self.acknowledgement_rules]
        if missing:
            raise ValueError(f"acknowledgement_rules: no rule for origin(s) {missing}")
        missing = [k for k in REFERRAL_KINDS if k not in self.referral_rules]
        if missing:
            raise ValueError(f"referral_rules: no rule for step(s) {missing}")
        return self

    def problems(self, ref: Reference) -> list[str]:
        """Everything in these rules the reference data does not know."""
        out: list[str] = []
        types = ref.directory.bureau_types
        for t in (self.office_bureau_type, *self.city_only_bureau_types):
            if t not in types:
                out.append(f"unknown bureau type {t!r}")
        city = ref.city_code
        for county, jurisdiction in self.county_jurisdictions.items():
            if ref.counties.by_code(county) is None:
                out.append(f"county_jurisdictions: {county} is not a current county code")
            if jurisdiction != city and ref.counties.by_code(jurisdiction) is None:
                out.append(f"county_jurisdictions: {county} → {jurisdiction} is neither a county nor the city")
        for county, missing in self.county_missing_bureau_types.items():
            if ref.counties.by_code(county) is None:
                out.append(f"county_missing_bureau_types: {county} is not a current county code")
            out.extend(f"county_missing_bureau_types[{county}]: unknown bureau type {t!r}" for t in missing if t not in types)
        figures = ref.money_figures()
        out.extend(f"city_level.major_case_figures: unknown figure {f!r}" for f in self.city_level.major_case_figures if f not in figures)
        rule_ids = set(ref.deadlines.ids)
        for what, mapping in (("acknowledgement_rules", self.acknowledgement_rules), ("referral_rules", self.referral_rules)):
            out.extend(f"{what}[{k}]: unknown deadline rule {v!r}" for k, v in mapping.items() if v not in rule_ids)
        if self.reopening.rule not in rule_ids:
            out.append(f"reopening.rule: unknown deadline rule {self.reopening.rule!r}")
        return out

    def city_only(self, bureau_type: str) -> bool:
        return bureau_type in self.city_only_bureau_types

    def county_lacks(self, county: str, bureau_type: str) -> bool:
        return self.city_only(bureau_type) or bureau_type in self.county_missing_bureau_types.get(county, ())

    def jurisdiction_of(self, county: str) -> str:
        return self.county_jurisdictions.get(county, county)
