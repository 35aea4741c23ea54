"""The working-day calendar and legal deadline arithmetic (Asia/Shanghai).

Sources, lowest to highest precedence — a higher source replaces a lower one
for a whole calendar year:

1. the ``chinese_calendar`` package (official holidays and make-up workdays,
   2004–2026 in 1.11.0; it raises ``NotImplementedError`` outside its years);
2. packaged data files ``shared/reference/data/holidays/<year>.yaml``;
3. operator directories in ``$SHUANGDA_HOLIDAYS_DIR`` (``os.pathsep``-separated);
4. directories passed as ``WorkdayCalendar(extra_dirs=...)``, later ones winning.

A data file transcribes one State Council notice (国务院办公厅关于<year>年部分节假日
安排的通知). Its schema (see ``data/holidays/README.md``)::

    year: 2027
    citation: 国务院办公厅关于2027年部分节假日安排的通知 (国办发明电〔…〕…号)
    note: optional text
    holidays:                     # days off
      - {name: New Year's Day, dates: [2027-01-01]}
      - {name: Spring Festival, from: 2027-02-05, to: 2027-02-11}
    workdays:                     # make-up working days (调休上班), Saturdays or Sundays
      - {name: Spring Festival, dates: [2027-02-20]}

In a year a file covers, a day is a working day if it is listed under
``workdays``, or it is Monday–Friday and not listed under ``holidays``. A
notice may list days of the neighbouring years (a New Year break starting on
30 December); such entries override that day wherever it comes from.

Counting conventions (民法典 第二百零一条至第二百零三条):

* the day of the event does not count — counting starts the next day;
* a period counted in hours starts at the event's exact time;
* a period counted in months or years ends on the corresponding day of the
  final month (the month's last day when there is none);
* a period ends at 24:00 local time of its last day; this module represents that
  as 23:59:59.999999 Asia/Shanghai on the due day (``due_at_utc`` in UTC), so
  "breached" means ``now > due_at_utc``.

Beyond the data (a year no source covers) a day is a working day when it is
Monday–Friday and not a statutory holiday computed from 《全国年节及纪念日放假办法》
第二条 (the version in force that year) and the lunar calendar
(``data/statutory_holidays.yaml``; :func:`statutory_holidays`). Every result that
relied on such a day is still marked ``provisional``: make-up working days, the
第六条 extra day off for a holiday on a weekend and bridge days are known only
from the year's notice — never a silent guess.
"""
from __future__ import annotations

import calendar as _calendar
import datetime as dt
import functools
import importlib.resources
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import chinese_calendar
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.reference import ReferenceDataError

__all__ = [
    "HOLIDAYS_DIR_ENV",
    "SHANGHAI",
    "Deadline",
    "DeadlineDate",
    "HolidayDataError",
    "HolidayYear",
    "OutsideCoverage",
    "PeriodRule",
    "WorkdayCalendar",
    "add_months",
    "default_calendar",
    "load_holiday_file",
    "statutory_holidays",
    "statutory_rule_versions",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOLIDAYS_DIR_ENV = "SHUANGDA_HOLIDAYS_DIR"
_YEAR_FILE = re.compile(r"^(\d{4})\.ya?ml$")
_END_OF_DAY = dt.time(23, 59, 59, 999999)


class OutsideCoverage(LookupError):
    """A date no holiday source covers (``is_workday`` without ``allow_provisional``)."""

    def __init__(self, day: dt.date, covered_until: dt.date | None) -> None:
        until = covered_until.isoformat() if covered_until else "nothing"
        super().__init__(
            f"{day.isoformat()}: no official holiday data for {day.year} (data covers until {until}); "
            f"add a {day.year}.yaml holiday file from the State Council notice"
        )
        self.date = day
        self.covered_until = covered_until


class HolidayDataError(ReferenceDataError):
    """A holiday data file is malformed, or a configured directory is missing."""


# --- holiday data files ----------------------------------------------------------------------


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1)
    dates: tuple[dt.date, ...] = ()
    from_: dt.date | None = Field(default=None, alias="from")
    to: dt.date | None = None

    @model_validator(mode="after")
    def _one_form(self) -> "_Entry":
        if (self.from_ is None) != (self.to is None):
            raise ValueError(f"{self.name}: give both from and to")
        if self.from_ is not None and self.to is not None and self.from_ > self.to:
            raise ValueError(f"{self.name}: from is after to")
        if not self.dates and self.from_ is None:
            raise ValueError(f"{self.name}: give dates or from/to")
        return self

    def days(self) -> Iterator[dt.date]:
        yield from self.dates
        if self.from_ is not None and self.to is not None:
            d = self.from_
            while d <= self.to:
                yield d
                d += dt.timedelta(days=1)


class _HolidayFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    year: int = Field(ge=1900, le=2200)
    citation: str = Field(min_length=1)
    note: str = ""
    published: dt.date | None = None
    holidays: tuple[_Entry, ...] = ()
    workdays: tuple[_Entry, ...] = ()


@dataclass(frozen=True)
class HolidayYear:
    """One year's official arrangement, as read from a data file."""

    year: int
    citation: str
    source: str
    #: day → True (make-up working day) / False (holiday), for every listed day
    explicit: Mapping[dt.date, bool] = field(repr=False)
    names: Mapping[dt.date, str] = field(repr=False)


def _parse_holiday_file(text: str, source: str, expected_year: int | None) -> HolidayYear:
    try:
        parsed = _HolidayFile.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise HolidayDataError(f"{source}: invalid holiday file: {exc}") from exc
    if expected_year is not None and parsed.year != expected_year:
        raise HolidayDataError(f"{source}: file name says {expected_year} but year is {parsed.year}")
    explicit: dict[dt.date, bool] = {}
    names: dict[dt.date, str] = {}
    for is_workday, entries in ((False, parsed.holidays), (True, parsed.workdays)):
        for entry in entries:
            for day in entry.days():
                if abs(day.year - parsed.year) > 1:
                    raise HolidayDataError(f"{source}: {day} is too far from {parsed.year}")
                if day in explicit and explicit[day] != is_workday:
                    raise HolidayDataError(f"{source}: {day} listed both as holiday and as workday")
                if is_workday and day.weekday() < 5:
                    raise HolidayDataError(f"{source}: make-up workday {day} is not a Saturday or Sunday")
                explicit[day] = is_workday
                names[day] = entry.name
    return HolidayYear(
        year=parsed.year,
        citation=parsed.citation,
        source=source,
        explicit=MappingProxyType(explicit),
        names=MappingProxyType(names),
    )


def load_holiday_file(path: str | os.PathLike[str]) -> HolidayYear:
    """Read and validate one ``<year>.yaml`` holiday file."""
    p = Path(path)
    m = _YEAR_FILE.match(p.name)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise HolidayDataError(f"{p}: cannot read holiday file: {exc}") from exc
    return _parse_holiday_file(text, str(p), int(m.group(1)) if m else None)


def _packaged_files() -> list[HolidayYear]:
    root = importlib.resources.files("shared.reference.data.holidays")
    out = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        m = _YEAR_FILE.match(entry.name)
        if m and entry.is_file():
            out.append(
                _parse_holiday_file(entry.read_text(encoding="utf-8"), f"packaged holidays/{entry.name}", int(m.group(1)))
            )
    return out


def _dir_files(directory: Path) -> list[HolidayYear]:
    if not directory.is_dir():
        raise HolidayDataError(f"holiday data directory {directory} does not exist")
    return [load_holiday_file(p) for p in sorted(directory.iterdir()) if _YEAR_FILE.match(p.name) and p.is_file()]


@functools.lru_cache(maxsize=1)
def _package_years() -> frozenset[int]:
    """The years the installed chinese_calendar package has data for."""
    years = set()
    for year in range(1900, 2201):
        try:
            chinese_calendar.is_workday(dt.date(year, 6, 1))
        except NotImplementedError:
            continue
        years.add(year)
    return frozenset(years)


# --- statutory holidays computed from the rule (years without a notice) ------------------------


class _StatutoryDay(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    fixed: tuple[str, ...] = ()
    lunar: str | None = None
    offsets: tuple[int, ...] = ()

    @model_validator(mode="after")
    def _one_kind(self) -> "_StatutoryDay":
        if bool(self.fixed) == (self.lunar is not None):
            raise ValueError(f"{self.name}: give either fixed or lunar")
        if self.lunar is not None and not self.offsets:
            raise ValueError(f"{self.name}: a lunar day needs offsets")
        for md in self.fixed:
            if not re.fullmatch(r"\d\d-\d\d", md):
                raise ValueError(f"{self.name}: fixed day {md!r} is not MM-DD")
        return self


class _StatutoryVersion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    effective_from: dt.date
    citation: str = Field(min_length=1)
    verified: bool
    verified_note: str = ""
    days: tuple[_StatutoryDay, ...] = Field(min_length=1)


class _Festivals(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    spring_festival: dt.date
    dragon_boat: dt.date
    mid_autumn: dt.date
    qingming: dt.date


class _StatutoryFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    versions: tuple[_StatutoryVersion, ...] = Field(min_length=1)
    lunar: dict[int, _Festivals]

    @model_validator(mode="after")
    def _consistent(self) -> "_StatutoryFile":
        dates = [v.effective_from for v in self.versions]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("statutory holiday versions must have strictly increasing effective_from")
        for year, f in self.lunar.items():
            for name, day in f.model_dump().items():
                if day.year != year:
                    raise ValueError(f"lunar table {year}: {name} {day} is not in {year}")
        return self


@functools.lru_cache(maxsize=1)
def _statutory_file() -> _StatutoryFile:
    text = importlib.resources.files("shared.reference.data").joinpath("statutory_holidays.yaml").read_text("utf-8")
    try:
        return _StatutoryFile.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise HolidayDataError(f"statutory_holidays.yaml: {exc}") from exc


def statutory_rule_versions() -> tuple[Any, ...]:
    """The versions of 第二条 of 《全国年节及纪念日放假办法》 as shipped (version, effective_from, citation,
    verified, verified_note, days) — for the legal register."""
    return _statutory_file().versions


@dataclass(frozen=True)
class StatutoryHolidays:
    """The statutory holidays of one year, computed from the rule in force on 1 January."""

    year: int
    version: str
    citation: str
    verified: bool
    days: Mapping[dt.date, str] = field(repr=False)


@functools.lru_cache(maxsize=256)
def statutory_holidays(year: int) -> StatutoryHolidays:
    """The days off 第二条 of 《全国年节及纪念日放假办法》 gives in *year* (no 调休, no 补假).

    Raises :class:`OutsideCoverage` for a year before the first rule version or
    beyond the shipped lunar table.
    """
    data = _statutory_file()
    jan1 = dt.date(year, 1, 1)
    in_force = [v for v in data.versions if v.effective_from <= jan1]
    festivals = data.lunar.get(year)
    if not in_force or festivals is None:
        raise OutsideCoverage(jan1, None)
    v = in_force[-1]
    days: dict[dt.date, str] = {}
    for d in v.days:
        for md in d.fixed:
            days[dt.date(year, int(md[:2]), int(md[3:]))] = d.name
        if d.lunar is not None:
            base = getattr(festivals, d.lunar)
            for off in d.offsets:
                days[base + dt.timedelta(days=off)] = d.name
    return StatutoryHolidays(year, v.version, v.citation, v.verified, MappingProxyType(days))


def _computed_status(day: dt.date) -> bool:
    """A day beyond the official data: Monday–Friday and not a statutory holiday of its year."""
    try:
        holidays = statutory_holidays(day.year).days
    except OutsideCoverage:
        holidays = {}
    return day.weekday() < 5 and day not in holidays


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadlineDate:
    """A due date; ``provisional`` when any day counted lies beyond the holiday data."""

    date: dt.date
    provisional: bool


@dataclass(frozen=True)
class Deadline:
    """A computed due instant.

    ``due_at_utc`` is the last instant of the period (timezone-aware, UTC);
    ``due_date_local`` its Asia/Shanghai date. ``provisional`` means the
    computation assumed Monday–Friday for days beyond the holiday data:
    recompute once the year's notice is added. ``rule_id``/``rule_version``
    echo the rule used, when it had them.
    """

    due_at_utc: dt.datetime
    due_date_local: dt.date
    provisional: bool
    rule_id: str | None = None
    rule_version: str | None = None


class PeriodRule(Protocol):
    """What :meth:`WorkdayCalendar.deadline_from` needs of a rule
    (:class:`shared.reference.DeadlineRule` satisfies it)."""

    @property
    def amount(self) -> int: ...

    @property
    def unit(self) -> str: ...


def add_months(day: dt.date, months: int) -> dt.date:
    """The corresponding day *months* later, or that month's last day (民法典 第二百零二条)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = _calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(day.day, last))


# --- the calendar ----------------------------------------------------------------------------


class WorkdayCalendar:
    """Official working days (holidays and make-up workdays) with explicit coverage.

    Args:
        extra_dirs: directories of ``<year>.yaml`` holiday files, highest
            precedence last. A missing directory is an error.
        use_env: also read the directories in ``$SHUANGDA_HOLIDAYS_DIR``.
        use_package_data: read the packaged holiday files.
        use_chinese_calendar: use the ``chinese_calendar`` package's years.

    Files starting with ``_`` (templates) and other names are ignored.
    """

    def __init__(
        self,
        extra_dirs: Iterable[str | os.PathLike[str]] = (),
        *,
        use_env: bool = True,
        use_package_data: bool = True,
        use_chinese_calendar: bool = True,
    ) -> None:
        layers: list[HolidayYear] = []
        if use_package_data:
            layers.extend(_packaged_files())
        if use_env:
            for part in os.environ.get(HOLIDAYS_DIR_ENV, "").split(os.pathsep):
                if part.strip():
                    layers.extend(_dir_files(Path(part.strip()).expanduser()))
        for d in extra_dirs:
            layers.extend(_dir_files(Path(d).expanduser()))
        files: dict[int, HolidayYear] = {}
        for hy in layers:  # later layers win for their year
            files[hy.year] = hy
        self._files: Mapping[int, HolidayYear] = MappingProxyType(files)
        self._package_years = _package_years() if use_chinese_calendar else frozenset()
        years = set(files) | set(self._package_years)
        self._years = frozenset(years)
        self._covered_until = self._contiguous_end(years)
        #: each day's status once worked out (the data above never changes; chinese_calendar scans its
        #: whole holiday table on every call)
        self._status_memo: dict[dt.date, bool | None] = {}

    @staticmethod
    def _contiguous_end(years: set[int]) -> dt.date | None:
        if not years:
            return None
        year = min(years)
        while year + 1 in years:
            year += 1
        return dt.date(year, 12, 31)

    # -- coverage --

    def covered_until(self) -> dt.date:
        """The last date up to which every day (from the first covered year) is covered.

        A covered year after a gap does not extend it. Raises ``LookupError``
        when no source is configured at all.
        """
        if self._covered_until is None:
            raise LookupError("no holiday data configured")
        return self._covered_until

    def is_covered(self, day: dt.date) -> bool:
        """Whether some source covers *day*'s year."""
        return _as_date(day).year in self._years

    def sources(self) -> Mapping[int, str]:
        """Which source covers each year: a file path/citation or ``chinese_calendar``."""
        out: dict[int, str] = {y: f"chinese_calendar {getattr(chinese_calendar, '__version__', '')}".strip()
                               for y in self._package_years}
        for y, hy in self._files.items():
            out[y] = f"{hy.source} ({hy.citation})"
        return MappingProxyType(dict(sorted(out.items())))

    def _status(self, day: dt.date) -> bool | None:
        """True/False for a covered day; None when no source covers it."""
        memo = self._status_memo
        if day in memo:
            return memo[day]
        if len(memo) > 100_000:
            memo.clear()
        status = memo[day] = self._status_of(day)
        return status

    def _status_of(self, day: dt.date) -> bool | None:
        own = self._files.get(day.year)
        if own is not None and day in own.explicit:
            return own.explicit[day]
        for neighbour in (self._files.get(day.year + 1), self._files.get(day.year - 1)):
            if neighbour is not None and day in neighbour.explicit:
                return neighbour.explicit[day]
        if own is not None:
            return day.weekday() < 5
        if day.year in self._package_years:
            try:
                return bool(chinese_calendar.is_workday(day))
            except NotImplementedError:  # pragma: no cover - probed at start
                return None
        return None

    # -- queries --

    def is_workday(self, day: dt.date, *, allow_provisional: bool = False) -> bool:
        """Whether *day* is an official working day.

        Outside coverage raises :class:`OutsideCoverage`, unless
        *allow_provisional* is true, in which case Monday–Friday less the
        statutory holidays computed from the rule (:func:`statutory_holidays`) is assumed.
        """
        day = _as_date(day)
        status = self._status(day)
        if status is None:
            if not allow_provisional:
                raise OutsideCoverage(day, self._covered_until)
            return _computed_status(day)
        return status

    def add_workdays(self, start: dt.date, n: int) -> DeadlineDate:
        """The *n*-th working day after *start* (the day of the event does not count).

        ``add_workdays(Friday, 1)`` is the next Monday in an ordinary week.
        ``provisional`` is true when any day examined lies beyond the data
        (such days follow the statutory holidays computed from the rule).
        ``n == 0`` returns *start*.
        """
        start = _as_date(start)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError("n must be a non-negative int")
        day, counted, provisional = start, 0, False
        while counted < n:
            day += dt.timedelta(days=1)
            status = self._status(day)
            if status is None:
                provisional = True
                status = _computed_status(day)
            if status:
                counted += 1
        return DeadlineDate(day, provisional)

    def next_workday_on_or_after(self, day: dt.date) -> DeadlineDate:
        """*day* itself if it is a working day, else the next one."""
        day = _as_date(day)
        provisional = False
        while True:
            status = self._status(day)
            if status is None:
                provisional = True
                status = _computed_status(day)
            if status:
                return DeadlineDate(day, provisional)
            day += dt.timedelta(days=1)

    def deadline_from(self, event_time_utc: dt.datetime, rule: PeriodRule) -> Deadline:
        """When the period *rule* (amount + unit) that starts at *event_time_utc* ends.

        *event_time_utc* must be timezone-aware (any zone; it is converted).
        Units: ``working_days`` (this calendar), ``calendar_days``, ``months``
        and ``years`` end at the end of the local due day; ``hours`` end at the
        exact instant. A rule with ``roll_to_workday`` true moves a calendar
        period's last day to the next working day. See the module docstring
        for the counting conventions and their citation.
        """
        if not isinstance(event_time_utc, dt.datetime) or event_time_utc.tzinfo is None \
                or event_time_utc.utcoffset() is None:
            raise ValueError("event_time_utc must be a timezone-aware datetime")
        amount, unit = rule.amount, rule.unit
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise ValueError(f"rule amount must be a non-negative int, got {amount!r}")
        rule_id = _opt_str(getattr(rule, "id", None))
        rule_version = _opt_str(getattr(rule, "version", None))
        local = event_time_utc.astimezone(SHANGHAI)
        if unit == "hours":
            due = (event_time_utc + dt.timedelta(hours=amount)).astimezone(dt.timezone.utc)
            return Deadline(due, due.astimezone(SHANGHAI).date(), False, rule_id, rule_version)
        provisional = False
        if unit == "working_days":
            result = self.add_workdays(local.date(), amount)
            due_date, provisional = result.date, result.provisional
        elif unit == "calendar_days":
            due_date = local.date() + dt.timedelta(days=amount)
        elif unit == "months":
            due_date = add_months(local.date(), amount)
        elif unit == "years":
            due_date = add_months(local.date(), 12 * amount)
        else:
            raise ValueError(f"unknown period unit {unit!r}")
        if unit != "working_days" and getattr(rule, "roll_to_workday", False):
            rolled = self.next_workday_on_or_after(due_date)
            due_date, provisional = rolled.date, rolled.provisional
        due_local = dt.datetime.combine(due_date, _END_OF_DAY, tzinfo=SHANGHAI)
        return Deadline(due_local.astimezone(dt.timezone.utc), due_date, provisional, rule_id, rule_version)


def _as_date(day: Any) -> dt.date:
    if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
        raise TypeError(f"expected a datetime.date (a local calendar day), got {type(day).__name__}")
    return day


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@functools.lru_cache(maxsize=1)
def default_calendar() -> WorkdayCalendar:
    """The process-wide calendar: package + packaged files + ``$SHUANGDA_HOLIDAYS_DIR``.

    Built once; call ``default_calendar.cache_clear()`` after adding a file.
    """
    return WorkdayCalendar()
