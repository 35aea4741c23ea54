"""The entity registry's registrations (登记). Pure.

The registration authority — market regulation (《市场主体登记管理条例》第五条) — sends
registrations: credit code, name, county, the reference categories of the business, and whether
it is registered or deregistered. A county's bureau registers enterprises of its own county; the
city's bureau any of the city. A registration that changes nothing keeps its version; any change
is the next version, and an event (inspection draws its targets from them).

The kind follows the code (GB 32100: ``92…`` is a 个体工商户), and the name is published as
rules/party_names.yaml shows that kind (a trader known by its operator's own name by its surname):
the registry's events and inspection's pools are public.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping

from services.credit.domain.inspections import party_kind


@dataclass(frozen=True)
class Registration:
    credit_code: str
    kind: str
    name: str
    county: str
    categories: tuple[str, ...]
    status: str = "registered"
    registered_by: str = ""
    version: int = 0


class OutsideDivision(ValueError):
    def __init__(self, index: int, county: str, division: str) -> None:
        super().__init__(f"entries[{index}].county: {county} is not in {division}; a county's bureau registers its own county")
        self.index = index


def in_division(county: str, division: str, *, city_codes: Iterable[str]) -> bool:
    """A city-level bureau (its division is the city's) registers anywhere in the city; a county's its own."""
    return division in set(city_codes) or county == division


def changes(asked: list[Registration], kept: Mapping[str, Registration]) -> tuple[list[Registration], int]:
    """The registrations that are new or change something, each with its next version, and how many
    were unchanged. A code given twice keeps the last."""
    last = {r.credit_code: r for r in asked}
    out: list[Registration] = []
    same = 0
    for code, r in last.items():
        r = replace(r, kind=party_kind(code))
        old = kept.get(code)
        if old is not None and (old.kind, old.name, old.county, old.categories, old.status) == (
                r.kind, r.name, r.county, r.categories, r.status):
            same += 1
            continue
        out.append(replace(r, version=(old.version if old else 0) + 1))
    return out, same
