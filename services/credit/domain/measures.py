"""Joint punishment (联合惩戒): the measures that apply to an entity now."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from services.credit.rules import RuleBook


@dataclass(frozen=True)
class AppliedMeasure:
    id: str
    department: str
    department_name_zh: str
    name_zh: str
    name_en: str
    citation: str
    because: tuple[str, ...]  # "blacklisted", "heavy_penalty" or listing rule ids


def applicable(book: RuleBook, *, listing_rules: Iterable[str], has_heavy_record: bool, today: dt.date) -> list[AppliedMeasure]:
    rules = set(listing_rules)
    facts = set(rules)
    if rules:
        facts.add("blacklisted")
    if has_heavy_record:
        facts.add("heavy_penalty")
    out = []
    for m in book.measures.measures:
        if m.effective_from > today:
            continue
        because = tuple(a for a in m.applies_to if a in facts)
        if because:
            dept = book.measures.department(m.department)
            out.append(AppliedMeasure(m.id, m.department, dept.name_zh, m.name_zh, m.name_en, m.citation, because))
    return out


def measure_ids_for_listing(book: RuleBook, rule_id: str, today: dt.date) -> list[str]:
    return [m.id for m in applicable(book, listing_rules=[rule_id], has_heavy_record=False, today=today)]
