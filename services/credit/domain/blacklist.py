"""The serious-violation list (严重违法失信名单): when a new record makes a list rule hold.

A rule that holds lists nobody by itself (issue 14 §2): it opens a listing proceeding
(`listing_steps`) that a person takes through Order 44's steps, or, for a local-policy rule, a
review flag. `listings` below are the entity's listings and its proceedings (an open proceeding
counts as "listed": no second one under the same rule; a closed one's triggers are used).

Evaluation happens when a record is created, with the rule versions in force
on its decision date (blacklist.yaml). For a rule to list the entity:

1. the new record matches the rule (kind, categories, IP, intentional, heavy);
2. the entity is not already on the list under that rule;
3. with the new record, at least `count` matching records that are not
   revoked and have not triggered an earlier listing under the same rule lie
   within `window` of the new record's decision date (either side, bounds
   included).

The listing lasts the shared rule ``serious_violation_list_max`` (3 years) and
early removal may be applied for after ``serious_violation_list_early_removal``
(1 year), both from the listing date.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable, Sequence

from shared.workdays import SHANGHAI, Deadline, WorkdayCalendar, add_months

from services.credit.domain.model import ListingFacts, RecordFacts
from services.credit.rules import BlacklistVersion, Match, RuleBook, Window, shared_period

IsIpCategory = Callable[[str], bool]


@dataclass(frozen=True)
class ListingDecision:
    rule_id: str
    rule_version: str
    citation: str
    reason: str
    triggers: tuple[str, ...]
    authority: str
    early_removal: bool
    #: order44 (a ground of the order: a proceeding to weigh) or local_policy (a review flag only)
    basis: str = "order44"


def matches(match: Match, record: RecordFacts, is_ip: IsIpCategory) -> bool:
    if record.kind != match.kind:
        return False
    if match.bureau_types is not None and record.bureau.partition("@")[0] not in match.bureau_types:
        return False
    if match.categories is not None and record.category not in match.categories:
        return False
    if match.ip_category is not None and is_ip(record.category) != match.ip_category:
        return False
    if match.intentional is not None and record.intentional != match.intentional:
        return False
    if match.heavy is not None and record.heavy != match.heavy:
        return False
    return True


def window_bounds(center: dt.date, window: Window) -> tuple[dt.date, dt.date]:
    if window.unit == "calendar_days":
        delta = dt.timedelta(days=window.amount)
        return center - delta, center + delta
    months = window.amount * (12 if window.unit == "years" else 1)
    return add_months(center, -months), add_months(center, months)


def evaluate(
    book: RuleBook,
    new: RecordFacts,
    history: Sequence[RecordFacts],
    listings: Sequence[ListingFacts],
    is_ip: IsIpCategory,
) -> list[ListingDecision]:
    """The listings the new record causes (usually none). `history` is every other
    record of the entity; `listings` every listing it has had."""
    out: list[ListingDecision] = []
    for rule, version in book.blacklist.in_force(new.decided_on):
        if not matches(version.match, new, is_ip):
            continue
        if any(li.rule_id == rule.id and li.status == "listed" for li in listings):
            continue
        used = {rid for li in listings if li.rule_id == rule.id for rid in li.triggering}
        if new.record_id in used:
            continue
        triggers = _triggers(version, new, history, used, is_ip)
        if triggers is None:
            continue
        labels = [r.label for r in triggers]
        out.append(
            ListingDecision(
                rule_id=rule.id,
                rule_version=version.version,
                citation=version.citation,
                reason=f"{rule.name_zh}: {', '.join(labels)}",
                triggers=tuple(r.record_id for r in triggers),
                authority=new.bureau,
                early_removal=rule.early_removal,
                basis=rule.basis,
            )
        )
    return out


def _triggers(
    version: BlacklistVersion, new: RecordFacts, history: Sequence[RecordFacts], used: set[str], is_ip: IsIpCategory
) -> list[RecordFacts] | None:
    if version.count == 1:
        return [new]
    assert version.window is not None
    low, high = window_bounds(new.decided_on, version.window)
    others = [
        r for r in history
        if r.record_id != new.record_id
        and r.status != "revoked"
        and r.record_id not in used
        and low <= r.decided_on <= high
        and matches(version.match, r, is_ip)
    ]
    if len(others) + 1 < version.count:
        return None
    nearest = sorted(others, key=lambda r: (abs((r.decided_on - new.decided_on).days), r.record_id))[: version.count - 1]
    return sorted([new, *nearest], key=lambda r: (r.decided_on, r.record_id))


def still_holds(book: RuleBook, listing: ListingFacts, records: Sequence[RecordFacts], is_ip: IsIpCategory) -> bool:
    """Whether a listing's remaining (not revoked) triggers still satisfy its rule."""
    rule = book.blacklist.get(listing.rule_id)
    live = [r for r in records if r.record_id in listing.triggering and r.status != "revoked"]
    if not live:
        return False
    needed = max(
        (v.count for v in rule.versions if any(matches(v.match, r, is_ip) for r in live)),
        default=1,
    )
    return len(live) >= needed


@dataclass(frozen=True)
class ListPeriod:
    expires: Deadline
    early_removal_from: Deadline


def list_period(book: RuleBook, calendar: WorkdayCalendar, listed_at: dt.datetime) -> ListPeriod:
    """When a listing made at `listed_at` ends, and from when early removal may be applied for."""
    local_day = listed_at.astimezone(SHANGHAI).date()
    max_p = shared_period(book.blacklist.period.max, local_day)
    early_p = shared_period(book.blacklist.period.early_removal, local_day)
    return ListPeriod(calendar.deadline_from(listed_at, max_p), calendar.deadline_from(listed_at, early_p))
