"""The reference data routing decides with, loaded once and passed in (tests build their own)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

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
from shared.workdays import SHANGHAI, WorkdayCalendar


@dataclass(frozen=True)
class Reference:
    categories: CategoryTable
    directory: BureauDirectory
    counties: CountyTable
    deadlines: DeadlineTable
    thresholds: ThresholdTable
    calendar: WorkdayCalendar

    @property
    def city_code(self) -> str:
        return self.counties.city.code

    def directory_at(self, now: dt.datetime) -> Directory:
        return self.directory.at(local_date(now))

    def category(self, category_id: str) -> Category | None:
        try:
            return self.categories.get(category_id)
        except UnknownCode:
            return None

    def current_county(self, code: str) -> tuple[str | None, str | None]:
        """(current county code, None) or (None, reason) — reason ``city_level_county`` or ``unknown_county``."""
        try:
            return self.counties.resolve(code).code, None
        except UnknownCode as exc:
            return None, "city_level_county" if exc.reason == "city_level_code" else "unknown_county"

    def money_figures(self) -> frozenset[str]:
        """Figure names a case may carry: the thresholds' figures plus intake's ``amount_involved``."""
        return frozenset(self.thresholds.figures) | {"amount_involved"}

    def crossing(self, category: Category, figures: dict, at: dt.date) -> ThresholdResult | None:
        """The first of the category's threshold families the figures cross on `at`, or None."""
        known = set(self.thresholds.figures)
        clean = {k: v for k, v in figures.items() if k in known}
        for family in category.threshold_families:
            try:
                result = self.thresholds.evaluate(family, clean, at)
            except UnknownCode:
                continue  # no version in force on that date
            if result.crossed:
                return result
        return None


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(SHANGHAI).date()
