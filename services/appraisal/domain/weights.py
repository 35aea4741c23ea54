"""What each evidential weight does to a case's figures (issue 15): a versioned rule. Pure.

`parse` turns the rule file's data (``rules/evidential_weight.yaml``) into `WeightRules`; `in_force`
picks the version of a local day; `WeightRule.counts` says whether a result of that weight raises
the case's figures toward a criminal threshold. The default rule: the appraisal centre's opinion
counts, a rights holder's identification alone does not (its figures are carried as withheld).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

WEIGHTS = ("appraisal_opinion", "rights_holder_identification")


@dataclass(frozen=True)
class WeightRule:
    version: str
    effective_from: dt.date
    citation: str
    article: str
    verified: bool
    counting: frozenset[str]  # the weights whose figures count toward the thresholds

    def counts(self, weight: str) -> bool:
        return weight in self.counting

    def ref(self, weight: str) -> dict[str, Any]:
        return {"version": self.version, "citation": self.citation, "article": self.article,
                "verified": self.verified, "counts_toward_thresholds": self.counts(weight)}


@dataclass(frozen=True)
class WeightRules:
    versions: tuple[WeightRule, ...]  # by effective date

    def in_force(self, day: dt.date) -> WeightRule:
        found = [v for v in self.versions if v.effective_from <= day]
        if not found:
            raise LookupError(f"no evidential-weight rule in force on {day}")
        return found[-1]


def parse(doc: Mapping[str, Any]) -> WeightRules:
    versions = []
    for v in doc["versions"]:
        weights = v["weights"]
        unknown = set(weights) - set(WEIGHTS)
        if unknown or set(weights) != set(WEIGHTS):
            raise ValueError(f"version {v['version']}: weights must be exactly {', '.join(WEIGHTS)}")
        day = v["effective_from"]
        versions.append(WeightRule(
            version=str(v["version"]), effective_from=day if isinstance(day, dt.date) else dt.date.fromisoformat(day),
            citation=str(v["citation"]), article=str(v.get("article") or ""), verified=bool(v["verified"]),
            counting=frozenset(w for w, r in weights.items() if bool(r["counts_toward_thresholds"]))))
    if not versions:
        raise ValueError("no versions")
    return WeightRules(tuple(sorted(versions, key=lambda r: r.effective_from)))
