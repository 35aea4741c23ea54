"""The reference data routing decides with, loaded once and passed in (tests build their own).

Every lookup here is a pure function of the (immutable) tables and its arguments, and the same few
arguments come back for every case of a batch (a handful of counties, categories and rules, the
same local day), so `Reference` remembers its answers: deciding a case costs dictionary hits, not
a walk over the tables (issue 11 §3). The memory is per instance and bounded: a `Reference` made
with other tables (``dataclasses.replace(ref, calendar=...)`` once holiday data is added) starts
with an empty one, and one that grows past `MEMO_LIMIT` entries is emptied.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, TypeVar

from shared.reference import (
    BureauDirectory,
    Category,
    CategoryTable,
    CountyTable,
    DeadlineTable,
    Directory,
    ThresholdResult,
    ThresholdTable,
    UnknownCode,
)
from shared.workdays import SHANGHAI, Deadline, WorkdayCalendar

T = TypeVar("T")

#: the most answers one `Reference` remembers before it forgets them all (bounds memory whatever the input)
MEMO_LIMIT = 50_000


@dataclass(frozen=True)
class Reference:
    categories: CategoryTable
    directory: BureauDirectory
    counties: CountyTable
    deadlines: DeadlineTable
    thresholds: ThresholdTable
    calendar: WorkdayCalendar
    _memo: dict[Hashable, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def _remember(self, key: Hashable, compute: Callable[[], T]) -> T:
        memo = self._memo
        try:
            return memo[key]  # type: ignore[no-any-return]
        except KeyError:
            pass
        value = compute()
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        memo[key] = value
        return value

    @property
    def city_code(self) -> str:
        return self.counties.city.code

    def directory_at(self, now: dt.datetime) -> Directory:
        day = local_date(now)
        return self._remember(("directory", day), lambda: self.directory.at(day))

    def category(self, category_id: str) -> Category | None:
        def lookup() -> Category | None:
            try:
                return self.categories.get(category_id)
            except UnknownCode:
                return None
        return self._remember(("category", category_id), lookup)

    def current_county(self, code: str) -> tuple[str | None, str | None]:
        """(current county code, None) or (None, reason) — reason ``city_level_county`` or ``unknown_county``."""
        def lookup() -> tuple[str | None, str | None]:
            try:
                return self.counties.resolve(code).code, None
            except UnknownCode as exc:
                return None, "city_level_county" if exc.reason == "city_level_code" else "unknown_county"
        return self._remember(("county", code), lookup)

    def deadline_rule(self, rule_id: str, day: dt.date) -> Any:
        """The version of deadline rule `rule_id` in force on the local `day`."""
        return self._remember(("rule", rule_id, day), lambda: self.deadlines.rule(rule_id, day))

    def deadline_from(self, rule_id: str, starts_at: dt.datetime) -> tuple[Any, Deadline]:
        """(the rule in force on the local day `starts_at` falls on, the deadline it gives counted from
        `starts_at` with this calendar). A period counted in days, months or years ends at the end of a
        local day, so it depends on the starting day only and is remembered per day; one in hours is
        counted from the instant each time."""
        day = local_date(starts_at)
        rule = self.deadline_rule(rule_id, day)
        if rule.unit == "hours":
            return rule, self.calendar.deadline_from(starts_at, rule)
        return rule, self._remember(("due", rule_id, day), lambda: self.calendar.deadline_from(starts_at, rule))

    def money_figures(self) -> frozenset[str]:
        """Figure names a case may carry: the thresholds' figures plus intake's ``amount_involved``."""
        return frozenset(self.thresholds.figures) | {"amount_involved"}

    def crossing(self, category: Category, figures: dict, at: dt.date) -> ThresholdResult | None:
        """The first of the category's threshold families the figures cross on `at`, or None (only the conduct's
        family and families of another kind when the figures name the conduct: `ThresholdTable.families_for`)."""
        known = self._remember(("figures",), lambda: frozenset(self.thresholds.figures))
        clean = {k: v for k, v in figures.items() if k in known}

        def evaluate() -> ThresholdResult | None:
            # the conduct figure (刑法 article) narrows the category's families; without it, category-wide
            return self.thresholds.crossing(category.threshold_families, clean, at)
        return self._remember(("crossing", category.id, tuple(sorted(clean.items())), at), evaluate)


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(SHANGHAI).date()
