"""The legal register: every legal figure in force on a date, in one shape.

Each entry says what a figure governs, its value, the citation with its article,
the dates its version is in force and whether it was read in the regulation's
own text. The shared reference data (criminal thresholds, deadlines, statutory
holidays) is listed here; a service with rule files of its own (credit) lists
its figures in the same shape, and ``shuangda rules`` shows them together.
Pure: no I/O beyond reading the packaged data files.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Protocol, Sequence

from shared.reference.deadlines import load_deadlines
from shared.reference.thresholds import load_thresholds

UNIT_ZH = {"working_days": "个工作日", "calendar_days": "日", "hours": "小时", "months": "个月", "years": "年"}


@dataclass(frozen=True)
class LegalFigure:
    """One legal figure of the version in force on a date."""

    area: str             # thresholds | deadlines | holidays | credit.<file>
    id: str               # stable id within its area (rule id, family.condition …)
    governs: str          # what the figure decides, in the data's own words
    value: str            # the figure as a person reads it
    citation: str
    article: str
    version: str
    effective_from: dt.date
    effective_until: dt.date | None   # the day before the next version, None while it is the latest
    verified: bool
    verified_note: str

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["effective_from"] = self.effective_from.isoformat()
        d["effective_until"] = self.effective_until.isoformat() if self.effective_until else None
        return d


class _Versioned(Protocol):
    effective_from: dt.date


def in_force(versions: Sequence[_Versioned], at: dt.date) -> tuple[Any, dt.date | None] | None:
    """The version in force on *at* (latest ``effective_from`` on or before it) and the last day it is in
    force (the day before the next version), or None when *at* precedes every version."""
    ordered = sorted(versions, key=lambda v: v.effective_from)
    current = None
    until: dt.date | None = None
    for i, v in enumerate(ordered):
        if v.effective_from <= at:
            current = v
            nxt = ordered[i + 1] if i + 1 < len(ordered) else None
            until = nxt.effective_from - dt.timedelta(days=1) if nxt else None
    return None if current is None else (current, until)


def period_text(amount: int, unit: str, extended: int | None = None) -> str:
    text = f"{amount}{UNIT_ZH.get(unit, ' ' + unit)} ({amount} {unit.replace('_', ' ')})"
    if extended:
        text += f"; extendable to {extended}"
    return text


def threshold_figures(at: dt.date) -> Iterable[LegalFigure]:
    table = load_thresholds()
    for fam in table.families:
        found = in_force(fam.versions, at)
        if found is None:
            continue
        v, until = found
        for c in v.conditions:
            yield LegalFigure(
                area="thresholds", id=f"{fam.id}.{c.id}",
                governs=f"{fam.name_zh} ({fam.article}) — criminal prosecution threshold",
                value=f"{c.text_zh} ({c.text})", citation=v.citation, article=c.article,
                version=v.version, effective_from=v.effective_from, effective_until=until,
                verified=v.verified, verified_note=v.verified_note)


def deadline_figures(at: dt.date) -> Iterable[LegalFigure]:
    for spec in load_deadlines().rules:
        found = in_force(spec.versions, at)
        if found is None:
            continue
        v, until = found
        yield LegalFigure(
            area="deadlines", id=spec.id, governs=f"{spec.name_zh} ({spec.kind}, from: {v.starts_at or spec.starts_at})",
            value=period_text(v.amount, v.unit, v.extended_amount), citation=v.citation, article=v.article,
            version=v.version, effective_from=v.effective_from, effective_until=until,
            verified=v.verified, verified_note=v.verified_note)


def holiday_figures(at: dt.date) -> Iterable[LegalFigure]:
    from shared.workdays import statutory_rule_versions

    found = in_force(statutory_rule_versions(), at)
    if found is None:
        return
    v, until = found
    for day in v.days:
        count = len(day.fixed) + len(day.offsets)
        yield LegalFigure(
            area="holidays", id=f"statutory.{day.name}", governs=f"全体公民放假的节日 {day.name} (days off without a notice)",
            value=f"{count} 天 ({', '.join(day.fixed) or f'{day.lunar} {list(day.offsets)}'})",
            citation=v.citation, article="第二条", version=v.version, effective_from=v.effective_from,
            effective_until=until, verified=v.verified, verified_note=v.verified_note)


def shared_figures(at: dt.date) -> list[LegalFigure]:
    """Every figure of the shared reference data in force on *at*."""
    return [*threshold_figures(at), *deadline_figures(at), *holiday_figures(at)]
