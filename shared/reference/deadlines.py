"""Legal deadlines and periods, versioned by effective date.

Data file ``deadlines.yaml``::

    version, effective_from, citation, note
    rules:
      - id: complaint_accept_decision        # stable id
        name_zh: ..., name_en: ...
        kind: deadline | minimum_period | maximum_period
        starts_at: the complaint is received   # the triggering event, in words
        versions:                              # strictly increasing effective_from
          - version: "2020"
            effective_from: 2020-01-01
            amount: 7
            unit: working_days | calendar_days | hours | months | years
            citation: 《…》第十八条
            note: ...                          # optional
            extended_amount: 30                # optional: total period if extended
            roll_to_workday: false             # optional: see below

``kind``: *deadline* — act by the end of the period; *minimum_period* — not
before it ends; *maximum_period* — the state ends when it ends.
``roll_to_workday``: for calendar periods, a last day that is not a working day
moves to the next working day (民法典 第二百零三条). Computing the due instant is
:meth:`shared.workdays.WorkdayCalendar.deadline_from`.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

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

_FILE = "deadlines.yaml"

Unit = Literal["working_days", "calendar_days", "hours", "months", "years"]
Kind = Literal["deadline", "minimum_period", "maximum_period"]


class DeadlineVersion(RuleVersion):
    """One version of a rule, as written in the file."""

    amount: int = Field(gt=0)
    unit: Unit
    note: str = ""
    extended_amount: int | None = Field(default=None, gt=0)
    roll_to_workday: bool = False
    #: the article (and paragraph/item) of ``citation`` the period comes from
    article: str = ""
    #: when this version counts from a different event than the rule's ``starts_at``
    starts_at: str | None = None

    @model_validator(mode="after")
    def _extension_longer(self) -> "DeadlineVersion":
        if self.extended_amount is not None and self.extended_amount <= self.amount:
            raise ValueError(f"version {self.version}: extended_amount must exceed amount")
        return self


class DeadlineRuleSpec(Frozen):
    """A rule with all its versions, as written in the file."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str
    name_en: str
    kind: Kind
    starts_at: str
    versions: tuple[DeadlineVersion, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> "DeadlineRuleSpec":
        check_versions(self.versions, f"deadline rule {self.id}")
        return self


class DeadlineRule(Frozen):
    """The version of one rule in force at a date — what callers use.

    ``amount`` and ``unit`` define the period; ``citation`` is the legal source
    to record next to any deadline computed from it.
    """

    id: str
    version: str
    effective_from: dt.date
    name_zh: str
    name_en: str
    kind: Kind
    starts_at: str
    amount: int
    unit: Unit
    citation: str
    note: str = ""
    extended_amount: int | None = None
    roll_to_workday: bool = False
    article: str = ""
    verified: bool = False
    verified_note: str = ""


class DeadlineTable(RuleSetFile):
    """The deadlines file, validated."""

    rules: tuple[DeadlineRuleSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "DeadlineTable":
        ids = [r.id for r in self.rules]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate deadline rule ids")
        return self

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rules)

    def spec(self, rule_id: str) -> DeadlineRuleSpec:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise UnknownCode("deadline_rule", "unknown_rule", f"unknown deadline rule {rule_id!r}")

    def rule(self, rule_id: str, at: dt.date) -> DeadlineRule:
        """See :func:`deadline_rule`."""
        spec = self.spec(rule_id)
        v = pick_version(spec.versions, at, "deadline_rule", rule_id)
        fields = v.model_dump()
        starts_at = fields.pop("starts_at") or spec.starts_at
        return DeadlineRule(
            id=spec.id,
            name_zh=spec.name_zh,
            name_en=spec.name_en,
            kind=spec.kind,
            starts_at=starts_at,
            **fields,
        )


@cached_loader
def _load(source: Path | None) -> DeadlineTable:
    return parse_model(DeadlineTable, read_yaml(_FILE, source), _FILE, source)


def load_deadlines(path: PathLike | None = None) -> DeadlineTable:
    """Load (cached) the deadline rules; *path* replaces the packaged file."""
    return _load(resolve_source(_FILE, path))


def deadline_rule(rule_id: str, at: dt.date, *, path: PathLike | None = None) -> DeadlineRule:
    """The version of rule *rule_id* in force on *at* (the local date of the triggering event).

    Raises :class:`UnknownCode` with ``field="deadline_rule"`` and reason
    ``unknown_rule`` or ``no_version_in_force``.
    """
    return load_deadlines(path).rule(rule_id, at)
