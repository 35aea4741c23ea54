"""Criminal prosecution thresholds as data, and a pure evaluator.

Data file ``thresholds.yaml``::

    version, effective_from, citation, note
    figures: {illegal_turnover: <description>, illegal_gains: ..., ...}   # the allowed figure names
    families:
      - id: counterfeit_trademark
        name_zh: 假冒注册商标罪
        name_en: ...
        article: 刑法 第二百一十三条
        versions:                                # strictly increasing effective_from
          - version: "2025"
            effective_from: 2025-04-26
            citation: 法释〔2025〕5号
            note: ...                            # optional
            conditions:                          # ANY condition crosses
              - id: two_marks_gains
                text: two or more marks and illegal gains >= 20,000
                text_zh: 假冒两种以上注册商标，违法所得数额在二万元以上
                all:                             # ALL comparisons must hold; [] always holds
                  - {figure: marks_count, at_least: "2"}
                  - {figure: illegal_gains, at_least: "20000"}
                  # or a weighted sum: {terms: {sales: "3", unsold_value: "1"}, at_least: "150000"}

Amounts are RMB yuan as :class:`~decimal.Decimal` (write them quoted in YAML).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from ._base import (
    Frozen,
    PathLike,
    RuleSetFile,
    RuleVersion,
    UnknownCode,
    cached_loader,
    check_versions,
    parse_model,
    pick_version,
    read_yaml,
    resolve_source,
)

_FILE = "thresholds.yaml"
_ID = r"^[a-z][a-z0-9_]*$"
#: the figure naming the conduct's 刑法 article (213, 214 …): it chooses the family, it is never compared
CONDUCT = "conduct"
#: the suspect's earlier penalties for the same kind of conduct (from credit's record)
PRIOR_PENALTIES = "prior_penalties_2y"


class Term(Frozen):
    figure: str = Field(pattern=_ID)
    coefficient: Decimal = Field(gt=0)


class Comparison(Frozen):
    """Σ coefficient × figure ≥ at_least."""

    terms: tuple[Term, ...] = Field(min_length=1)
    at_least: Decimal = Field(ge=0)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if "figure" in data:
                if "terms" in data:
                    raise ValueError("give either figure or terms, not both")
                data["terms"] = [{"figure": data.pop("figure"), "coefficient": "1"}]
            elif isinstance(data.get("terms"), dict):
                data["terms"] = [{"figure": k, "coefficient": v} for k, v in data["terms"].items()]
        return data

    def holds(self, figures: Mapping[str, Decimal]) -> bool:
        total = sum((t.coefficient * figures.get(t.figure, Decimal(0)) for t in self.terms), Decimal(0))
        return total >= self.at_least


class Condition(Frozen):
    """One alternative way to cross: every comparison must hold.

    ``article`` is the article/item of the version's citation it comes from
    (e.g. ``第三条第一款第(二)项``); empty when it could not be read.
    """

    id: str = Field(pattern=_ID)
    text: str
    text_zh: str
    article: str = ""
    all_of: tuple[Comparison, ...] = Field(alias="all")

    def holds(self, figures: Mapping[str, Decimal]) -> bool:
        return all(c.holds(figures) for c in self.all_of)

    @property
    def figures(self) -> frozenset[str]:
        return frozenset(t.figure for c in self.all_of for t in c.terms)


class ThresholdVersion(RuleVersion):
    """One version of an offence's thresholds: the conditions, any of which crosses it."""

    note: str = ""
    conditions: tuple[Condition, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "ThresholdVersion":
        ids = [c.id for c in self.conditions]
        if len(set(ids)) != len(ids):
            raise ValueError(f"version {self.version}: duplicate condition ids")
        return self


class ThresholdFamily(Frozen):
    """One offence (e.g. 假冒注册商标罪) with its threshold versions."""

    id: str = Field(pattern=_ID)
    name_zh: str
    name_en: str
    article: str
    #: the 刑法 article number of the conduct (213 for 假冒注册商标): the value of the ``conduct`` figure that
    #: names this family
    conduct: int | None = Field(default=None, ge=1, le=999)
    #: the family's kind of conduct (同类行为) for ``prior_penalties_2y``: 法释〔2025〕5号 counts 213–215
    #: penalties for 213–215 (第三、五、六条), 假冒专利 for 216 (第十条), 217/218 for 217 and 218 (第十三、十四条)
    same_kind: str | None = Field(default=None, pattern=_ID)
    versions: tuple[ThresholdVersion, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> "ThresholdFamily":
        check_versions(self.versions, f"threshold family {self.id}")
        return self


class ThresholdTable(RuleSetFile):
    """The thresholds file, validated."""

    figures: dict[str, str] = Field(min_length=1)
    families: tuple[ThresholdFamily, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "ThresholdTable":
        ids = [f.id for f in self.families]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate threshold family ids")
        conducts = [f.conduct for f in self.families if f.conduct is not None]
        if len(set(conducts)) != len(conducts):
            raise ValueError("two threshold families name the same conduct article")
        if conducts and CONDUCT not in self.figures:
            raise ValueError(f"figures: {CONDUCT!r} (the conduct's 刑法 article) is missing")
        for fam in self.families:
            for v in fam.versions:
                for c in v.conditions:
                    unknown = c.figures - set(self.figures)
                    if unknown:
                        raise ValueError(f"{fam.id} {v.version} {c.id}: unknown figures {sorted(unknown)}")
                    if CONDUCT in c.figures:
                        raise ValueError(f"{fam.id} {v.version} {c.id}: {CONDUCT!r} chooses the family, it is not an amount")
        return self

    @property
    def conducts(self) -> dict[int, str]:
        """The conduct articles the table knows → their family id (``conduct: 213`` → counterfeit_trademark)."""
        return {f.conduct: f.id for f in self.families if f.conduct is not None}

    def same_kind(self, family_id: str) -> str:
        """The family's kind of conduct (同类行为) for ``prior_penalties_2y`` (its own id when the data names none)."""
        fam = self.family(family_id)
        return fam.same_kind or fam.id

    def conduct_of(self, figures: Mapping[str, Decimal | int]) -> str | None:
        """The family the ``conduct`` figure names, or None when it is absent or names no family (a case
        whose reports named different conducts carries 0: unknown)."""
        value = figures.get(CONDUCT)
        if value is None or isinstance(value, bool):
            return None
        try:
            number = Decimal(value)
        except (ArithmeticError, TypeError, ValueError):
            return None
        if not number.is_finite() or number != number.to_integral_value():
            return None
        return self.conducts.get(int(number))

    def families_for(self, families: Sequence[str], figures: Mapping[str, Decimal | int]) -> tuple[str, ...]:
        """Which of a category's threshold *families* to evaluate for these figures.

        When the ``conduct`` figure names a family, that family is evaluated, and of the category's other
        families only those of another kind of conduct (a cosmetics case named as 214 is still checked
        against 生产、销售伪劣产品罪, a different offence that may concur; a trademarks case named as 213
        is no longer checked against 215's lower amounts). Without a known conduct every family of the
        category is evaluated — today's category-wide behaviour, which over-flags (a 213 or 214 case is
        held to 215's amounts) rather than misses.
        """
        named = self.conduct_of(figures)
        if named is None:
            return tuple(families)
        kind = self.same_kind(named)
        return (named, *(f for f in families if f != named and self.same_kind(f) != kind))

    def crossing(self, families: Sequence[str], figures: Mapping[str, Decimal | int], at: dt.date,
                 *, prior: Mapping[str, int] | None = None) -> "ThresholdResult | None":
        """The first family of :meth:`families_for` whose threshold the figures cross on *at*, or None.
        Families with no version in force on *at* are skipped. *prior*, when given, maps a kind of
        conduct (:meth:`same_kind`) to the suspect's ``prior_penalties_2y`` for it; each family is then
        evaluated with its own kind's count."""
        for family in self.families_for(families, figures):
            values = dict(figures)
            if prior is not None and PRIOR_PENALTIES in self.figures:
                values[PRIOR_PENALTIES] = prior.get(self.same_kind(family), 0)
            try:
                result = self.evaluate(family, values, at)
            except UnknownCode:
                continue
            if result.crossed:
                return result
        return None

    @property
    def family_ids(self) -> frozenset[str]:
        return frozenset(f.id for f in self.families)

    def family(self, family_id: str) -> ThresholdFamily:
        for f in self.families:
            if f.id == family_id:
                return f
        raise UnknownCode("threshold_family", "unknown_family", f"unknown threshold family {family_id!r}")

    def evaluate(self, family_id: str, figures: Mapping[str, Decimal | int], at: dt.date) -> "ThresholdResult":
        """See :func:`crosses_threshold`."""
        fam = self.family(family_id)
        version = pick_version(fam.versions, at, "threshold_family", family_id)
        clean = _clean_figures(figures, self.figures)
        for cond in version.conditions:
            if cond.holds(clean):
                return ThresholdResult(
                    crossed=True,
                    family=fam.id,
                    version=version.version,
                    rule_id=f"{fam.id}.{cond.id}",
                    condition_text=cond.text,
                    condition_text_zh=cond.text_zh,
                    citation=version.citation,
                    article=cond.article,
                    verified=version.verified,
                )
        return ThresholdResult(
            crossed=False,
            family=fam.id,
            version=version.version,
            rule_id=None,
            condition_text=None,
            condition_text_zh=None,
            citation=version.citation,
            verified=version.verified,
        )


@dataclass(frozen=True)
class ThresholdResult:
    """The outcome of :func:`crosses_threshold`.

    ``rule_id`` (``"<family>.<condition id>"``), ``condition_text`` and
    ``condition_text_zh`` name the first condition that holds, in data order;
    they are ``None`` when nothing crossed. ``version`` and ``citation`` are
    those of the family version applied — record them with any decision;
    ``article`` the condition's article/item (empty when not known) and
    ``verified`` whether the version's figures were read in the official text.
    """

    crossed: bool
    family: str
    version: str
    rule_id: str | None
    condition_text: str | None
    condition_text_zh: str | None
    citation: str
    article: str = ""
    verified: bool = False


def _clean_figures(figures: Mapping[str, Decimal | int], allowed: Mapping[str, str]) -> dict[str, Decimal]:
    clean: dict[str, Decimal] = {}
    for key, value in figures.items():
        if key not in allowed:
            raise ValueError(f"unknown figure {key!r}; expected one of {sorted(allowed)}")
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            raise TypeError(f"figure {key!r} must be an int or Decimal (never float), got {type(value).__name__}")
        amount = Decimal(value)
        if not amount.is_finite() or amount < 0:
            raise ValueError(f"figure {key!r} must be a finite, non-negative amount")
        clean[key] = amount
    return clean


@cached_loader
def _load(source: Path | None) -> ThresholdTable:
    return parse_model(ThresholdTable, read_yaml(_FILE, source), _FILE, source)


def load_thresholds(path: PathLike | None = None) -> ThresholdTable:
    """Load (cached) the threshold table; *path* replaces the packaged file."""
    return _load(resolve_source(_FILE, path))


def crosses_threshold(
    family: str,
    figures: Mapping[str, Decimal | int],
    at: dt.date,
    *,
    path: PathLike | None = None,
) -> ThresholdResult:
    """Does a case's figures cross the criminal threshold of *family* on date *at*?

    *figures* maps names from the data file's ``figures`` list —
    ``illegal_turnover``, ``illegal_gains``, ``sales``, ``unsold_value``,
    ``pieces``, ``copies``, ``loss``, ``marks_count``, ``patents_count``,
    ``prior_penalties_2y`` (the suspect's penalty history, from credit) — to non-negative
    ``int`` or ``Decimal`` values (floats are refused: money is never float).
    Figures not given count as zero, so ``crossed=False`` means "not on the
    figures given". *at* is the date whose rules apply (normally the date of the
    conduct or of the decision — the caller's legal choice).

    Raises :class:`UnknownCode` (``field="threshold_family"``) for an unknown
    family or a date before its first version, ``ValueError`` / ``TypeError``
    for bad figures.

    >>> crosses_threshold("selling_infringing_copies", {"illegal_gains": 60000}, dt.date(2025, 6, 1)).crossed
    True
    """
    return load_thresholds(path).evaluate(family, figures, at)
