"""Credit's rules as versioned data (this folder's YAML files), validated at load.

Each file carries the project's rule-set header (version, effective_from,
citation, note — `shared.reference`'s `RuleSetFile`) and each rule has ids and
versions with their own effective_from and citation. Periods that the shared
reference data already defines (disclosure 7 working days, publicity 3 months
/ 3 years, list 3 years / early removal 1 year) are referenced by rule id, not
repeated.

    book = load_rulebook()                     # packaged files
    book = load_rulebook(Path("/etc/credit"))  # an operator's copy (same file names)

Nothing here touches the network or a database; the domain gets a `RuleBook`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, PrivateAttr, model_validator

from shared.contracts.penalty import PENALTY_TYPES
from shared.reference import (
    ReferenceDataError, UnknownCode, categories, city, counties, deadline_rule, load_bureau_types, load_deadlines,
)
from shared.reference._base import Frozen, RuleSetFile, RuleVersion, check_versions, pick_version

RULES_DIR = Path(__file__).resolve().parent
_ID = r"^[a-z][a-z0-9_]*$"
Unit = Literal["working_days", "calendar_days", "hours", "months", "years"]
PartyKind = Literal["organisation", "individual_trader", "natural_person"]
RecordKind = Literal["penalty", "criminal_referral"]


# -- periods -----------------------------------------------------------------------

class PeriodSpec(Frozen):
    """A period: a shared deadline rule id, or an amount and unit."""

    rule: str | None = None
    amount: int | None = Field(default=None, gt=0)
    unit: Unit | None = None

    @model_validator(mode="after")
    def _one_form(self) -> "PeriodSpec":
        if (self.rule is None) == (self.amount is None or self.unit is None):
            raise ValueError("a period is either {rule: <shared rule id>} or {amount, unit}")
        return self


@dataclass(frozen=True)
class Period:
    """A resolved period; satisfies `shared.workdays.PeriodRule`."""

    amount: int
    unit: str
    citation: str
    id: str | None = None
    version: str | None = None
    roll_to_workday: bool = False


def resolve_period(spec: PeriodSpec, at: dt.date, citation: str) -> Period:
    if spec.rule is not None:
        rule = deadline_rule(spec.rule, at)
        return Period(rule.amount, rule.unit, rule.citation, rule.id, rule.version, rule.roll_to_workday)
    assert spec.amount is not None and spec.unit is not None
    return Period(spec.amount, spec.unit, citation)


def shared_period(rule_id: str, at: dt.date) -> Period:
    return resolve_period(PeriodSpec(rule=rule_id), at, "")


# -- heavy penalties ---------------------------------------------------------------

class HeavyVersion(RuleVersion):
    enabled: bool = True
    any_penalty_type: tuple[str, ...] = ()
    aggravated: bool | None = None
    fine_at_least: dict[PartyKind, Decimal] | None = None

    @model_validator(mode="after")
    def _known_types(self) -> "HeavyVersion":
        unknown = set(self.any_penalty_type) - set(PENALTY_TYPES)
        if unknown:
            raise ValueError(f"unknown penalty types {sorted(unknown)}")
        if self.enabled and not (self.any_penalty_type or self.aggravated is not None or self.fine_at_least):
            raise ValueError(f"version {self.version}: a rule needs at least one condition")
        return self


class HeavyRule(Frozen):
    id: str = Field(pattern=_ID)
    name_zh: str
    name_en: str
    versions: tuple[HeavyVersion, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> "HeavyRule":
        check_versions(self.versions, f"heavy rule {self.id}")
        return self


def _enabled_in_force(rules: tuple[Any, ...], memo: dict[dt.date, tuple[Any, ...]], at: dt.date,
                      kind: str) -> tuple[Any, ...]:
    """(rule, version) for each enabled rule with a version in force on `at`, remembered per date in
    `memo` (the rules do not change once loaded, and a decision batch asks for the same dates again
    and again; bounded)."""
    found = memo.get(at)
    if found is None:
        out = []
        for rule in rules:
            try:
                v = pick_version(rule.versions, at, kind, rule.id)
            except UnknownCode:
                continue
            if v.enabled:
                out.append((rule, v))
        if len(memo) > 10_000:
            memo.clear()
        found = memo[at] = tuple(out)
    return found


class HeavyRules(RuleSetFile):
    rules: tuple[HeavyRule, ...] = Field(min_length=1)
    _in_force: dict[dt.date, tuple[tuple[HeavyRule, HeavyVersion], ...]] = PrivateAttr(default_factory=dict)

    def in_force(self, at: dt.date) -> tuple[tuple[HeavyRule, HeavyVersion], ...]:
        """The enabled rules with their version in force on `at` (see `_enabled_in_force`)."""
        return _enabled_in_force(self.rules, self._in_force, at, "heavy_rule")  # type: ignore[return-value]


# -- publicity types ---------------------------------------------------------------

class PublicityApplies(Frozen):
    kind: RecordKind
    heavy: bool | None = None


class PublicityVersion(RuleVersion):
    min: PeriodSpec
    max: PeriodSpec


class PublicityType(Frozen):
    id: str = Field(pattern=_ID)
    name_zh: str
    applies: PublicityApplies
    disclose: bool
    repairable: bool = True
    versions: tuple[PublicityVersion, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> "PublicityType":
        check_versions(self.versions, f"publicity type {self.id}")
        return self

    def version_at(self, at: dt.date) -> PublicityVersion:
        return pick_version(self.versions, at, "publicity_type", self.id)


class PublicityRules(RuleSetFile):
    types: tuple[PublicityType, ...] = Field(min_length=1)

    def type_for(self, kind: str, heavy: bool) -> PublicityType:
        for t in self.types:
            if t.applies.kind == kind and (t.applies.heavy is None or t.applies.heavy == heavy):
                return t
        raise UnknownCode("publicity_type", "no_type", f"no publicity type for a {'heavy ' if heavy else ''}{kind} record")

    def get(self, type_id: str) -> PublicityType:
        for t in self.types:
            if t.id == type_id:
                return t
        raise UnknownCode("publicity_type", "unknown_type", f"unknown publicity type {type_id!r}")


# -- blacklist ---------------------------------------------------------------------

class Match(Frozen):
    kind: RecordKind
    #: the deciding bureau's type must be one of these (an SAMR order binds market regulation departments only)
    bureau_types: tuple[str, ...] | None = None
    ip_category: bool | None = None
    categories: tuple[str, ...] | None = None
    intentional: bool | None = None
    heavy: bool | None = None


class Window(Frozen):
    amount: int = Field(gt=0)
    unit: Literal["months", "years", "calendar_days"]


class BlacklistVersion(RuleVersion):
    article: str = ""
    enabled: bool = True
    match: Match
    count: int = Field(default=1, ge=1)
    window: Window | None = None

    @model_validator(mode="after")
    def _window_for_counts(self) -> "BlacklistVersion":
        if self.count > 1 and self.window is None:
            raise ValueError(f"version {self.version}: count > 1 needs a window")
        return self


class BlacklistRule(Frozen):
    id: str = Field(pattern=_ID)
    name_zh: str
    name_en: str
    #: order44: a ground of Order 44 (a match opens a listing proceeding); local_policy: a review flag only
    basis: Literal["order44", "local_policy"]
    early_removal: bool = True
    versions: tuple[BlacklistVersion, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> "BlacklistRule":
        check_versions(self.versions, f"blacklist rule {self.id}")
        return self


class BlacklistPeriod(Frozen):
    max: str
    early_removal: str


class StepText(Frozen):
    article: str
    text: str
    verified: bool = False
    verified_note: str = ""


class NoticeStep(StepText):
    #: the party's period to state its case (陈述、申辩) after the notice is served
    statement_within: PeriodSpec
    #: the party's period to ask for a hearing after the notice is served
    hearing_request_within: PeriodSpec
    hearing_citation: str = ""


class ApprovalStep(StepText):
    #: the division levels whose listing decisions need the level above's consent
    levels: tuple[Literal["county", "prefecture", "province"], ...] = ()


class WithinStep(StepText):
    within: PeriodSpec


class ProcedureVersion(RuleVersion):
    """The steps before a listing takes effect (Order 44), in force from `effective_from`."""

    weighing: StepText
    notice: NoticeStep
    approval: ApprovalStep
    basis_revoked: WithinStep


class Procedure(Frozen):
    versions: tuple[ProcedureVersion, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> "Procedure":
        check_versions(self.versions, "listing procedure")
        return self

    def at(self, day: dt.date) -> ProcedureVersion:
        return pick_version(self.versions, day, "listing_procedure", "procedure")


class BlacklistRules(RuleSetFile):
    period: BlacklistPeriod
    procedure: Procedure
    rules: tuple[BlacklistRule, ...] = Field(min_length=1)
    _in_force: dict[dt.date, tuple[tuple[BlacklistRule, BlacklistVersion], ...]] = PrivateAttr(default_factory=dict)

    def in_force(self, at: dt.date) -> tuple[tuple[BlacklistRule, BlacklistVersion], ...]:
        """The enabled rules with their version in force on `at` (see `_enabled_in_force`)."""
        return _enabled_in_force(self.rules, self._in_force, at, "blacklist_rule")  # type: ignore[return-value]

    def get(self, rule_id: str) -> BlacklistRule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise UnknownCode("blacklist_rule", "unknown_rule", f"unknown blacklist rule {rule_id!r}")


# -- joint punishment measures ---------------------------------------------------

class Department(Frozen):
    id: str = Field(pattern=_ID)
    name_zh: str
    name_en: str


class Measure(Frozen):
    id: str = Field(pattern=_ID)
    department: str
    name_zh: str
    name_en: str
    applies_to: tuple[str, ...] = Field(min_length=1)
    effective_from: dt.date
    citation: str = Field(min_length=1)


class MeasureTable(RuleSetFile):
    departments: tuple[Department, ...]
    measures: tuple[Measure, ...]

    @model_validator(mode="after")
    def _departments_known(self) -> "MeasureTable":
        ids = {d.id for d in self.departments}
        for m in self.measures:
            if m.department not in ids:
                raise ValueError(f"measure {m.id}: unknown department {m.department!r}")
        return self

    def department(self, dept_id: str) -> Department:
        return next(d for d in self.departments if d.id == dept_id)


# -- names ---------------------------------------------------------------------------

class NamePrefixes(Frozen):
    provinces: tuple[str, ...]
    cities: tuple[str, ...]
    other: tuple[str, ...] = ()
    short_form_endings: tuple[str, ...] = ()


class NameRules(RuleSetFile):
    prefixes: NamePrefixes
    legal_form_suffixes: tuple[str, ...]


# -- disclosure ------------------------------------------------------------------

class PublishedField(Frozen):
    key: str = Field(pattern=_ID)
    label_zh: str


class DisclosureRules(RuleSetFile):
    penalty_fields: tuple[PublishedField, ...]
    listing_fields: tuple[PublishedField, ...]
    #: published random-inspection results (双随机、一公开, from inspection.lifecycle)
    inspection_fields: tuple[PublishedField, ...]
    inspection_result_labels: dict[Literal["no_problem", "problems_found", "referred_to_case"], str]

    @model_validator(mode="after")
    def _every_result_labelled(self) -> "DisclosureRules":
        missing = {"no_problem", "problems_found", "referred_to_case"} - set(self.inspection_result_labels)
        if missing:
            raise ValueError(f"inspection_result_labels: no label for {', '.join(sorted(missing))}")
        return self


# -- natural persons: which party fields are published, and how (party_names.yaml) -------------

class PartyFields(Frozen):
    """How each field of a party of one kind is shown to the public, the platforms and departments."""

    name: Literal["clear", "surname", "surname_if_own_name"]
    legal_representative: Literal["clear", "surname", "withheld"]
    resident_id: Literal["last4", "withheld"]


class PartyNameVersion(RuleVersion):
    article: str = ""
    parties: dict[PartyKind, PartyFields]

    @model_validator(mode="after")
    def _every_kind(self) -> "PartyNameVersion":
        missing = {"organisation", "individual_trader", "natural_person"} - set(self.parties)
        if missing:
            raise ValueError(f"version {self.version}: no publication form for {sorted(missing)}")
        return self

    def of(self, kind: str) -> PartyFields:
        return self.parties[kind]  # type: ignore[index]


class PartyNameExample(Frozen):
    """A worked example: the party as given, and what is shown of it on `day`."""

    day: dt.date
    kind: PartyKind
    name: str
    legal_representative: str | None = None
    resident_id: str | None = None
    shown: dict[Literal["name", "legal_representative", "resident_id_masked"], str | None]


class PartyNameRules(RuleSetFile):
    versions: tuple[PartyNameVersion, ...] = Field(min_length=1)
    examples: tuple[PartyNameExample, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> "PartyNameRules":
        check_versions(self.versions, "party names")
        return self

    def at(self, day: dt.date) -> PartyNameVersion:
        """The version in force on `day`; before the first version, the first (the file has no older rule)."""
        if day < self.versions[0].effective_from:
            return self.versions[0]
        return pick_version(self.versions, day, "party_names", "party_names")


# -- applications (repair, early removal) ---------------------------------------

class ApplicationRule(RuleVersion):
    decision_within: PeriodSpec
    requires: tuple[Literal["obligations_met", "commitment_signed", "no_new_heavy_penalty"], ...]


class ApplicationKindRules(Frozen):
    kind: Literal["repair", "early_removal"]
    versions: tuple[ApplicationRule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> "ApplicationKindRules":
        check_versions(self.versions, f"application kind {self.kind}")
        return self


class ApplicationRules(RuleSetFile):
    kinds: tuple[ApplicationKindRules, ...]

    def at(self, kind: str, day: dt.date) -> ApplicationRule:
        spec = next((k for k in self.kinds if k.kind == kind), None)
        if spec is None:
            raise UnknownCode("application_kind", "unknown_kind", f"no rules for {kind!r} applications")
        return pick_version(spec.versions, day, "application_kind", kind)


# -- the book ------------------------------------------------------------------------

@dataclass(frozen=True)
class RuleBook:
    heavy: HeavyRules
    publicity: PublicityRules
    blacklist: BlacklistRules
    measures: MeasureTable
    names: NameRules
    disclosure: DisclosureRules
    applications: ApplicationRules
    party_names: PartyNameRules
    #: a short digest of the files, recorded with every decision taken under them
    version: str

    def region_prefixes(self) -> dict[str, str]:
        """Every region prefix → its full form (陕西 → 陕西省): the provinces, cities and other
        prefixes of names.yaml plus the city and its counties from shared reference data."""
        p = self.names.prefixes
        full = list(p.provinces) + list(p.cities) + list(p.other)
        full.append(city().name_zh)
        full.extend(c.name_zh for c in counties())
        out = {name: name for name in full}
        for name in full:
            for ending in sorted(p.short_form_endings, key=len, reverse=True):
                if name.endswith(ending) and len(name) - len(ending) >= 2:
                    out.setdefault(name[: -len(ending)], name)
                    break
        return out


_FILES = {
    "heavy": ("heavy_penalty.yaml", HeavyRules),
    "publicity": ("publicity.yaml", PublicityRules),
    "blacklist": ("blacklist.yaml", BlacklistRules),
    "measures": ("measures.yaml", MeasureTable),
    "names": ("names.yaml", NameRules),
    "disclosure": ("disclosure.yaml", DisclosureRules),
    "applications": ("applications.yaml", ApplicationRules),
    "party_names": ("party_names.yaml", PartyNameRules),
}


def load_rulebook(directory: Path | None = None) -> RuleBook:
    """Load and cross-check every rules file from `directory` (default: this package)."""
    root = directory or RULES_DIR
    parts: dict[str, object] = {}
    digest = hashlib.sha256()
    for attr, (name, model) in _FILES.items():
        path = root / name
        try:
            text = path.read_text(encoding="utf-8")
            parts[attr] = model.model_validate(yaml.safe_load(text))
        except (OSError, yaml.YAMLError, ValueError) as exc:
            raise ReferenceDataError(f"{path}: invalid credit rules: {exc}") from exc
        digest.update(name.encode() + b"\0" + text.encode())
    book = RuleBook(version=digest.hexdigest()[:12], **parts)  # type: ignore[arg-type]
    _cross_check(book, root)
    return book


def _cross_check(book: RuleBook, root: Path) -> None:
    known_categories = {c.id for c in categories()}
    rule_ids = {r.id for r in book.blacklist.rules}
    for rule in book.blacklist.rules:
        for v in rule.versions:
            unknown = set(v.match.categories or ()) - known_categories
            if unknown:
                raise ReferenceDataError(f"{root}/blacklist.yaml: rule {rule.id}: unknown categories {sorted(unknown)}")
            unknown = set(v.match.bureau_types or ()) - load_bureau_types().ids
            if unknown:
                raise ReferenceDataError(f"{root}/blacklist.yaml: rule {rule.id}: unknown bureau types {sorted(unknown)}")
    for m in book.measures.measures:
        unknown = set(m.applies_to) - rule_ids - {"blacklisted", "heavy_penalty"}
        if unknown:
            raise ReferenceDataError(f"{root}/measures.yaml: measure {m.id}: applies_to names unknown {sorted(unknown)}")
    for shared_id in (book.blacklist.period.max, book.blacklist.period.early_removal):
        try:
            load_deadlines().spec(shared_id)
        except UnknownCode as exc:
            raise ReferenceDataError(f"{root}/blacklist.yaml: period {shared_id}: {exc}") from exc
