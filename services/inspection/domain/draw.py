"""双随机、一公开: the random draw, reproducible by anyone. Pure.

A plan names a scope and a sample; targets are drawn from the bureau's **enterprise pool**
(检查对象名录库) and inspectors from its **inspector roster** (执法检查人员名录库), both versioned:
every upload is a new version with a digest, and a plan records the versions it drew from and
its seed, which are published with it. The draw is a plain rule anyone can re-run:

1. ``rank(label) = sha256(seed + "|" + label)`` as lowercase hex.
2. The eligible enterprises are the pool version's entries inside the scope (category, county,
   risk levels, quality commitment); the sample is ``sample_size``, or ``ceil(sample_rate ×
   eligible)``, at most all of them.
3. Targets: the eligible enterprises ordered by ``rank("target|" + credit_code)`` (ties by
   credit code), the first *n*.
4. For each target in that order, its inspectors: the roster's inspectors without a declared
   conflict of interest with it (回避: the inspector lists the enterprise's credit code), ordered
   by ``rank("inspector|" + credit_code + "|" + inspector_id)``, the first *k* (two by default:
   two people inspect together).

A pool's digest is ``sha256`` of its canonical JSON (entries sorted by id, keys sorted, no
spaces, UTF-8), so a re-run can check it drew from the same pool.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Literal, Sequence

from shared.refusals import Refused

Risk = Literal["low", "medium", "high"]
RISKS: tuple[Risk, ...] = ("low", "medium", "high")


@dataclass(frozen=True)
class Commitment:
    """A 质量承诺 the enterprise made (published with its inspection results)."""

    committed_on: str          # ISO date
    text: str


@dataclass(frozen=True)
class Enterprise:
    credit_code: str
    name: str
    county: str
    category: str
    risk: Risk = "medium"
    commitment: Commitment | None = None


@dataclass(frozen=True)
class Inspector:
    inspector_id: str
    name: str
    conflicts: tuple[str, ...] = ()   # credit codes the inspector must not inspect


@dataclass(frozen=True)
class Scope:
    category: str | None = None
    county: str | None = None
    risks: tuple[Risk, ...] = ()
    quality_commitment: bool | None = None   # True: only enterprises that made one

    def holds(self, e: Enterprise) -> bool:
        return ((self.category is None or e.category == self.category)
                and (self.county is None or e.county == self.county)
                and (not self.risks or e.risk in self.risks)
                and (self.quality_commitment is None or (e.commitment is not None) == self.quality_commitment))


@dataclass(frozen=True)
class Drawn:
    credit_code: str
    name: str
    county: str
    category: str
    inspectors: tuple[str, ...]


@dataclass(frozen=True)
class Draw:
    eligible: int
    targets: tuple[Drawn, ...] = field(default=())


def canonical(entries: Sequence[Enterprise] | Sequence[Inspector]) -> str:
    def key(x: Enterprise | Inspector) -> str:
        return x.credit_code if isinstance(x, Enterprise) else x.inspector_id
    rows = [asdict(x) for x in sorted(entries, key=key)]
    return json.dumps(rows, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def digest(entries: Sequence[Enterprise] | Sequence[Inspector]) -> str:
    return hashlib.sha256(canonical(entries).encode()).hexdigest()


def rank(seed: str, label: str) -> str:
    return hashlib.sha256(f"{seed}|{label}".encode()).hexdigest()


def sample_count(eligible: int, sample_size: int | None, sample_rate: Decimal | None) -> int:
    if (sample_size is None) == (sample_rate is None):
        raise Refused("sample_size", "size_or_rate", "give a sample size or a sample rate, not both")
    if sample_size is not None:
        if sample_size < 1:
            raise Refused("sample_size", "not_positive", "a sample has at least one enterprise")
        return min(sample_size, eligible)
    assert sample_rate is not None
    if not (Decimal(0) < sample_rate <= Decimal(1)):
        raise Refused("sample_rate", "out_of_range", "a rate is more than 0 and at most 1")
    return min(eligible, math.ceil(sample_rate * eligible))


def draw(seed: str, enterprises: Sequence[Enterprise], inspectors: Sequence[Inspector], scope: Scope, *,
         sample_size: int | None, sample_rate: Decimal | None, inspectors_per_target: int = 2) -> Draw:
    """The plan's targets and their inspectors (see the module docstring for the rule)."""
    if len(seed) < 16:
        raise Refused("seed", "too_short", "a seed has at least 16 characters (e.g. 32 hex digits)")
    if inspectors_per_target < 1:
        raise Refused("inspectors_per_target", "not_positive", "at least one inspector per target")
    eligible = sorted((e for e in enterprises if scope.holds(e)), key=lambda e: e.credit_code)
    if not eligible:
        raise Refused("scope", "no_enterprise", "no enterprise of the pool is inside the scope")
    n = sample_count(len(eligible), sample_size, sample_rate)
    chosen = sorted(eligible, key=lambda e: (rank(seed, "target|" + e.credit_code), e.credit_code))[:n]
    targets = []
    for e in chosen:
        free = [i for i in inspectors if e.credit_code not in i.conflicts]
        if len(free) < inspectors_per_target:
            raise Refused("inspectors", "too_few_inspectors",
                          f"{e.credit_code} needs {inspectors_per_target} inspectors without a conflict; the roster has {len(free)}")
        picked = sorted(free, key=lambda i: (rank(seed, f"inspector|{e.credit_code}|{i.inspector_id}"), i.inspector_id))
        targets.append(Drawn(e.credit_code, e.name, e.county, e.category,
                             tuple(i.inspector_id for i in picked[:inspectors_per_target])))
    return Draw(len(eligible), tuple(targets))


@dataclass(frozen=True)
class Registered:
    """An enterprise as the registry (credit's, copied from its events) holds it."""

    credit_code: str
    name: str
    county: str
    categories: tuple[str, ...]


def jurisdiction(scope: Scope, division: str, county_codes: Sequence[str]) -> Scope:
    """A county's bureau draws in its own county (属地): its scope's county is its division, and another
    county is refused; a bureau above the counties (the city's) draws in the scope's county, or city-wide."""
    if division not in county_codes:
        return scope
    if scope.county is not None and scope.county != division:
        raise Refused("scope.county", "outside_division", f"a county's bureau draws in its own county ({division})")
    return Scope(scope.category, division, scope.risks, scope.quality_commitment)


def snapshot(registered: Sequence[Registered], attributes: Sequence[Enterprise], scope: Scope) -> list[Enterprise]:
    """The plan's enterprise pool: the registry's enterprises in the scope's county and category, each
    with the bureau's risk grade and quality commitment for it (``medium`` and none when the bureau
    gave none). An enterprise's category in the pool is the scope's, else its first registered one.
    The draw then applies the rest of the scope (risks, commitment) to this pool."""
    given = {a.credit_code: a for a in attributes}
    out = []
    for r in sorted(registered, key=lambda r: r.credit_code):
        if scope.county is not None and r.county != scope.county:
            continue
        if scope.category is not None and scope.category not in r.categories:
            continue
        a = given.get(r.credit_code)
        category = scope.category or (sorted(r.categories)[0] if r.categories else "")
        out.append(Enterprise(r.credit_code, r.name, r.county, category, a.risk if a else "medium",
                              a.commitment if a else None))
    return out
