"""The name search's rules (`NameIndex`): what an entity's names are indexed as, which of a
query's bigrams select candidates, and how candidates are scored, each with an explanation of
what matched.

Each name of an entity (registered, former, alias) is split by the `NameAnalyser`; its core's
character bigrams are what the index holds (`NameIndex.rows`). A query is split the same way;
the names sharing the most of its *rare* core bigrams become candidates, re-ranked by how many
of its *common* bigrams (those in more names than `common_threshold`) their core contains
(`NameIndex.plan`); rapidfuzz then scores them on the cores (`rank`). The region prefix and
legal form never decide a match; they are mentioned in the explanation when they agree or differ.

Where the postings live is the adapters' business (`adapters.search` keeps them in Postgres, so
no process holds a province's registry in memory: issue 11); everything here is pure.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from rapidfuzz import fuzz

from services.credit.domain.names import NameAnalyser, NameParts, grams, regions_agree

NAME_KIND_ZH = {"registered": "现用名称", "former": "曾用名", "alias": "别名"}

#: bigrams in more names than this are "common": they re-rank candidates but do not select them
COMMON_THRESHOLD = 5000
#: how many names the rare bigrams select, and how many of those are scored
CANDIDATE_POOL = 120


@dataclass(frozen=True)
class IndexedName:
    entity_id: str
    credit_code: str | None
    #: the entity's registered name (what a result is shown as), when it has one
    registered: str | None
    name: str
    name_kind: str  # registered | former | alias
    parts: NameParts

    @property
    def grams(self) -> set[str]:
        return grams(self.parts.core)


@dataclass(frozen=True)
class Candidate:
    entity_id: str
    credit_code: str | None
    name: str
    matched_name: str
    matched_name_kind: str
    score: float
    explanation: tuple[str, ...]


@dataclass(frozen=True)
class QueryPlan:
    """How to look a query up: select by `rare` bigrams, re-rank by `common` ones."""

    parts: NameParts
    rare: tuple[str, ...]
    common: tuple[str, ...]
    pool: int
    keep: int


@dataclass(frozen=True)
class NameIndex:
    """The name index's rules (not its storage): how names are indexed, which of a query's
    bigrams select candidates, how candidates are scored. `adapters.search` keeps the postings."""

    analyser: NameAnalyser
    common_threshold: int = COMMON_THRESHOLD
    candidate_pool: int = CANDIDATE_POOL

    def rows(self, entity_id: str, credit_code: str | None, names: Iterable[tuple[str, str]]) -> list[IndexedName]:
        """What an entity with `names` ((name, kind) pairs, its complete set) is indexed as: each
        distinct (name, kind) once, empty names left out."""
        pairs = list(dict.fromkeys((n, k) for n, k in names if n))
        registered = next((n for n, k in pairs if k == "registered"), None)
        return [IndexedName(entity_id, credit_code, registered, n, k, self.analyser.analyse(n)) for n, k in pairs]

    def plan(self, query: str, postings: Mapping[str, int], entities: int) -> QueryPlan | None:
        """Which of the query's core bigrams select candidates, given how many names hold each
        (`postings`; absent: none) among `entities` indexed entities. A bigram is common when more
        than `common_threshold` names (or 0.5% of the entities, at least 200) hold it; when every
        bigram is common, the least common one selects. None: nothing can match."""
        q = self.analyser.analyse(query)
        if not q.core:
            return None
        held = sorted((postings.get(g, 0), g) for g in grams(q.core))
        held = [(n, g) for n, g in held if n > 0]
        if not held:
            return None
        threshold = min(self.common_threshold, max(200, entities // 200))
        rare = [g for n, g in held if n <= threshold]
        common = [g for n, g in held if n > threshold]
        if not rare:
            rare, common = [common[0]], common[1:]
        return QueryPlan(q, tuple(rare), tuple(common), self.candidate_pool * 3, self.candidate_pool)

    def query_grams(self, query: str) -> set[str]:
        """The bigrams whose postings `plan` needs."""
        return grams(self.analyser.analyse(query).core)


def rank(q: NameParts, names: Iterable[IndexedName], limit: int = 10, min_score: float = 50.0) -> list[Candidate]:
    """Score each candidate name against the query, keep each entity's best name, best first."""
    best: dict[str, tuple[float, IndexedName]] = {}
    for entry in names:
        score = _score(q, entry.parts)
        if entry.name_kind != "registered":
            score -= 2.0  # a current name ranks above an equally good former name or alias
        current = best.get(entry.entity_id)
        if current is None or score > current[0]:
            best[entry.entity_id] = (score, entry)
    ranked = sorted(best.values(), key=lambda se: (-se[0], se[1].name))[:limit]
    return [
        Candidate(
            entity_id=e.entity_id,
            credit_code=e.credit_code,
            name=e.registered or e.name,
            matched_name=e.name,
            matched_name_kind=e.name_kind,
            score=round(max(0.0, min(100.0, s)), 1),
            explanation=tuple(explain(q, e)),
        )
        for s, e in ranked
        if s >= min_score
    ]


def _score(q: NameParts, c: NameParts) -> float:
    if q.normalised == c.normalised:
        return 100.0
    if q.core == c.core:
        # same trade name in another region: probably another enterprise
        return 90.0 if regions_agree(q, c) is False else 97.0
    full = fuzz.ratio(q.core, c.core)
    partial = fuzz.partial_ratio(q.core, c.core) if min(len(q.core), len(c.core)) >= 2 else 0.0
    return max(full, 0.9 * partial)


def explain(q: NameParts, c: IndexedName) -> list[str]:
    p = c.parts
    out: list[str] = []
    kind = NAME_KIND_ZH.get(c.name_kind, c.name_kind)
    if q.normalised == p.normalised:
        out.append(f"the whole name equals the {c.name_kind} name ({kind}) '{c.name}'")
        return out
    if q.core == p.core:
        out.append(f"core name '{p.core}' equals the query's core ({c.name_kind} name, {kind})")
    elif q.core in p.core:
        out.append(f"query core '{q.core}' is contained in core '{p.core}' ({c.name_kind} name, {kind})")
    elif p.core in q.core:
        out.append(f"core '{p.core}' ({c.name_kind} name, {kind}) is contained in the query core '{q.core}'")
    else:
        shared = sorted(grams(q.core) & grams(p.core))
        out.append(
            f"core '{p.core}' ({c.name_kind} name, {kind}) is similar to the query core '{q.core}'"
            + (f"; shared character pairs: {', '.join(shared[:6])}" if shared else "")
        )
    agree = regions_agree(q, p)
    if agree is True:
        out.append(f"region agrees: {''.join(p.prefixes) or p.bracket_region} (query {''.join(q.prefixes) or q.bracket_region})")
    elif agree is False:
        out.append(f"region differs: query {''.join(q.prefixes) or q.bracket_region}, candidate {''.join(p.prefixes) or p.bracket_region}")
    elif q.prefixes or p.prefixes:
        out.append(f"region prefix {''.join(q.prefixes or p.prefixes)} set aside")
    if q.suffix or p.suffix:
        if q.suffix == p.suffix:
            out.append(f"same legal form {p.suffix}")
        else:
            out.append(f"legal form set aside (query: {q.suffix or 'none'}, candidate: {p.suffix or 'none'})")
    return out

