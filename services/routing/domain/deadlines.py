"""Legal deadlines as routing tracks them: computed from the versioned deadline
rules and the working-day calendar, with the instant a warning is due.

A deadline counted over days the holiday data does not cover yet is
*provisional* (Monday–Friday assumed); `recompute` gives its value with the
calendar at hand, which is how provisional deadlines are revised once the
year's State Council notice is added.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from shared.contracts.routing import DeadlineInfo
from services.routing.domain.reference import Reference
from services.routing.domain.rules import RoutingRules


@dataclass(frozen=True)
class DeadlineSpec:
    deadline_id: str
    case_id: str
    kind: str
    bureau: str
    subject: str  # the case id, or the referral id for referral steps
    rule_id: str
    rule_version: str
    citation: str
    starts_at: dt.datetime
    due_at: dt.datetime
    due_date_local: dt.date
    provisional: bool
    warn_at: dt.datetime

    def info(self) -> DeadlineInfo:
        return DeadlineInfo(
            deadline_id=self.deadline_id, kind=self.kind, bureau=self.bureau,  # type: ignore[arg-type]
            starts_at=self.starts_at, due_at=self.due_at, due_date_local=self.due_date_local,
            provisional=self.provisional, rule_id=self.rule_id, rule_version=self.rule_version, citation=self.citation,
        )


def compute(
    *, ref: Reference, rules: RoutingRules, deadline_id: str, case_id: str, kind: str, rule_id: str,
    bureau: str, subject: str, starts_at: dt.datetime,
) -> DeadlineSpec:
    """The deadline of `rule_id` (the version in force on the local day it starts) counted from `starts_at`."""
    rule, due = ref.deadline_from(rule_id, starts_at)
    return DeadlineSpec(
        deadline_id=deadline_id, case_id=case_id, kind=kind, bureau=bureau, subject=subject,
        rule_id=rule.id, rule_version=rule.version, citation=rule.citation,
        starts_at=starts_at, due_at=due.due_at_utc, due_date_local=due.due_date_local, provisional=due.provisional,
        warn_at=warn_at(rules, starts_at, due.due_at_utc),
    )


def warn_at(rules: RoutingRules, starts_at: dt.datetime, due_at: dt.datetime) -> dt.datetime:
    """When `deadline.approaching` is due: the configured time before the deadline,
    but never before the configured fraction of the period has passed."""
    watch = rules.deadline_watch
    before = due_at - dt.timedelta(hours=watch.approaching_before_hours)
    earliest = starts_at + (due_at - starts_at) * float(watch.approaching_not_before_fraction)
    return max(before, earliest)


def recompute(spec: DeadlineSpec, ref: Reference, rules: RoutingRules) -> DeadlineSpec:
    """The same deadline (same rule version) counted again with `ref`'s calendar."""
    rule, due = ref.deadline_from(spec.rule_id, spec.starts_at)
    if rule.version != spec.rule_version:  # the version in force that day cannot change, but say so if it did
        raise ValueError(f"deadline {spec.deadline_id}: rule {spec.rule_id} version changed "
                         f"from {spec.rule_version} to {rule.version}")
    return replace(
        spec, due_at=due.due_at_utc, due_date_local=due.due_date_local, provisional=due.provisional,
        warn_at=warn_at(rules, spec.starts_at, due.due_at_utc),
    )
