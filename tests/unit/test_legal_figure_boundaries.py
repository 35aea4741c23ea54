"""Every figure of the legal register has a worked example at its boundaries (issue 14, "Done when").

The examples are not listed by hand: the test walks ``shuangda rules`` itself (the shared reference
data and credit's rule files, as ``deploy.commands.rules.figures`` lists them), so a figure or version
added later is exercised without anyone writing its example:

* dates: for every effective date found in the register, the register lists on that day the version
  that starts then, and on the day before the previous version (ending that day) or nothing;
* periods: every deadline in the register ends on the day its figure names — one unit less ends
  earlier, and a working-day period ends on the N-th working day;
* credit's heavy-penalty rules: a decision at the figure (a listed penalty type, the aggravation, a fine
  amount) is heavy, an ordinary one just under it is not, nor one of the day before the rule applies.

The criminal thresholds' amounts (at the figure / one unit under, every condition of every version)
are walked the same way in test_legal_thresholds.py. Pure: reads only the shipped data.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

import pytest

from deploy.commands.rules import figures
from services.credit.domain.records import classify_heavy
from services.credit.rules import load_rulebook
from shared.reference import deadline_rule
from shared.workdays import WorkdayCalendar

DAY = dt.timedelta(days=1)
SH = ZoneInfo("Asia/Shanghai")
SEEDS = (dt.date(2005, 1, 1), dt.date(2012, 1, 1), dt.date(2020, 1, 1), dt.date(2024, 1, 1), dt.date(2026, 12, 7))
CAL = WorkdayCalendar(use_env=False)


@lru_cache(maxsize=None)
def _listed(at: dt.date) -> dict[tuple[str, str], object]:
    return {(f.area, f.id): f for f in figures(at)}


@lru_cache(maxsize=1)
def _effective_dates() -> tuple[dt.date, ...]:
    """Every effective date reachable in the register: list on the seed dates, then on the day before each
    version's start and the day after each version's end, until no new date turns up."""
    seen: set[dt.date] = set()
    todo = set(SEEDS)
    found: set[dt.date] = set()
    while todo:
        at = todo.pop()
        seen.add(at)
        for f in _listed(at).values():
            found.add(f.effective_from)
            for nxt in (f.effective_from - DAY, f.effective_until + DAY if f.effective_until else None):
                if nxt is not None and nxt not in seen:
                    todo.add(nxt)
    return tuple(sorted(found))


def test_the_register_walk_finds_the_versions_of_several_areas() -> None:
    dates = _effective_dates()
    assert dt.date(2025, 4, 26) in dates and dt.date(2026, 4, 1) in dates
    areas = {f.area for d in dates for f in _listed(d).values()}
    assert {"thresholds", "deadlines", "holidays", "credit.publicity", "credit.heavy_penalty", "credit.blacklist"} <= areas


def test_a_credit_period_naming_a_shared_rule_not_yet_in_force_is_listed_as_such_not_a_crash() -> None:
    # criminal_referral's 2017 version names the 2021 Order 44 list periods: on 2020-01-01 the register used to raise
    row = _listed(dt.date(2020, 1, 1))[("credit.publicity", "criminal_referral")]
    assert "no version of shared rule serious_violation_list_max in force on 2020-01-01" in row.value


@pytest.mark.parametrize("day", _effective_dates(), ids=str)
def test_each_version_is_listed_from_its_effective_date_and_the_day_before_lists_the_previous_one(day: dt.date) -> None:
    on, before = _listed(day), _listed(day - DAY)
    starting = [key for key, f in on.items() if f.effective_from == day]
    assert starting, f"no figure starts on {day}, yet the walk found it"
    for key in starting:
        prev = before.get(key)
        if prev is not None:  # a previous version, ending the day before
            assert prev.version != on[key].version, key
            assert prev.effective_until == day - DAY, key
    for key, prev in before.items():  # a version ending the day before is replaced on the day, or retired
        if prev.effective_until == day - DAY and key in on:
            assert on[key].effective_from == day, key


def _deadline_rows():
    keys: dict[tuple[str, str], object] = {}
    for d in _effective_dates():
        for (area, fid), f in _listed(d).items():
            if area == "deadlines":
                keys.setdefault((fid, f.version), f)
    for (fid, version), f in sorted(keys.items()):
        yield pytest.param(fid, f.effective_from, id=f"{fid}-{version}")


@pytest.mark.parametrize(("rule_id", "effective_from"), list(_deadline_rows()))
def test_each_period_ends_on_the_day_its_figure_names_and_one_unit_less_ends_earlier(rule_id, effective_from) -> None:
    rule = deadline_rule(rule_id, effective_from)
    start = dt.datetime.combine(effective_from, dt.time(10, 0), tzinfo=SH)
    due = CAL.deadline_from(start, rule)
    under = CAL.deadline_from(start, rule.model_copy(update={"amount": rule.amount - 1}))
    assert under.due_at_utc < due.due_at_utc
    if rule.unit == "working_days":
        counted = [start.date() + DAY * i for i in range(1, (due.due_date_local - start.date()).days + 1)]
        workdays = [d for d in counted if CAL.is_workday(d, allow_provisional=True)]
        assert len(workdays) == rule.amount and workdays[-1] == due.due_date_local
    elif rule.unit == "hours":
        assert due.due_at_utc - start == dt.timedelta(hours=rule.amount)


def _heavy_rules():
    for rule in load_rulebook().heavy.rules:
        for v in rule.versions:
            if v.enabled:
                yield pytest.param(rule.id, v, id=f"{rule.id}-{v.version}")


@pytest.mark.parametrize(("rule_id", "version"), list(_heavy_rules()))
def test_each_heavy_penalty_rule_matches_at_its_figure_not_just_under_it_and_not_the_day_before(rule_id, version) -> None:
    """At the figure: each listed penalty type (or the aggravation, or the fine amount) makes the decision
    heavy under this rule. Just under: an ordinary fine, unaggravated, one fen under any fine figure, is
    not heavy under it. And not for a decision of the day before the version's effective date."""
    book = load_rulebook()
    kind = next(iter(version.fine_at_least), "organisation") if version.fine_at_least else "organisation"
    fine = version.fine_at_least[kind] if version.fine_at_least else Decimal("5000")

    def rules(types, *, aggravated, amount, on):
        return classify_heavy(book, penalty_types=types, aggravated=aggravated, fine_amount=amount,
                              party_kind=kind, decided_on=on).rules

    at = version.effective_from
    aggravated = bool(version.aggravated)
    for t in version.any_penalty_type or ("fine",):
        assert rule_id in rules([t], aggravated=aggravated, amount=fine, on=at), t
        assert rule_id not in rules([t], aggravated=aggravated, amount=fine, on=at - DAY), t
    under_types = ["fine"] if "fine" not in version.any_penalty_type or version.aggravated else ["warning"]
    under = rules(under_types, aggravated=not aggravated if version.aggravated is not None else False,
                  amount=fine - Decimal("0.01") if version.fine_at_least else fine, on=at)
    assert rule_id not in under
