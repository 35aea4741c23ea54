"""In-memory name index: candidates for a query, scored 0-100, each with an
explanation of what matched.

Each name of an entity (registered, former, alias) is split by the
`NameAnalyser`; its core's character bigrams go into an inverted index.
A query is split the same way; entities sharing the most core bigrams with
it (rarest bigrams first, very common ones only when nothing rarer exists)
become candidates, which rapidfuzz then scores on the cores. The region
prefix and legal form never decide a match; they are mentioned in the
explanation when they agree or differ.

Updates replace an entity's names; replaced slots become tombstones that a
search skips, and `compact()` rebuilds when they pile up.
"""
from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from services.credit.domain.names import NameAnalyser, NameParts, grams, regions_agree

NAME_KIND_ZH = {"registered": "现用名称", "former": "曾用名", "alias": "别名"}


@dataclass(frozen=True)
class IndexedName:
    entity_id: str
    credit_code: str | None
    name: str
    name_kind: str  # registered | former | alias
    parts: NameParts


@dataclass(frozen=True)
class Candidate:
    entity_id: str
    credit_code: str | None
    name: str
    matched_name: str
    matched_name_kind: str
    score: float
    explanation: tuple[str, ...]


@dataclass
class NameIndex:
    analyser: NameAnalyser
    #: postings lists longer than this are "common" bigrams, used only when a query has nothing rarer
    common_threshold: int = 5000
    candidate_pool: int = 120
    _slots: list[IndexedName | None] = field(default_factory=list)
    _postings: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    _by_entity: dict[str, list[int]] = field(default_factory=dict)
    _registered: dict[str, str] = field(default_factory=dict)
    _tombstones: int = 0

    def __len__(self) -> int:
        return len(self._by_entity)

    def upsert(self, entity_id: str, credit_code: str | None, names: list[tuple[str, str]]) -> None:
        """Index `names` ((name, kind) pairs) as the entity's complete set of names."""
        self.remove(entity_id)
        slots = []
        seen: set[tuple[str, str]] = set()
        for name, kind in names:
            if not name or (name, kind) in seen:
                continue
            seen.add((name, kind))
            if kind == "registered":
                self._registered[entity_id] = name
            parts = self.analyser.analyse(name)
            slot = len(self._slots)
            self._slots.append(IndexedName(entity_id, credit_code, name, kind, parts))
            for g in grams(parts.core):
                self._postings[g].append(slot)
            slots.append(slot)
        if slots:
            self._by_entity[entity_id] = slots

    def remove(self, entity_id: str) -> None:
        for slot in self._by_entity.pop(entity_id, ()):
            self._slots[slot] = None
            self._tombstones += 1
        self._registered.pop(entity_id, None)
        if self._tombstones > 50_000 and self._tombstones > len(self._slots) // 3:
            self.compact()

    def compact(self) -> None:
        live = [s for s in self._slots if s is not None]
        self._slots, self._postings, self._by_entity, self._tombstones = [], defaultdict(list), {}, 0
        by_entity: dict[str, list[tuple[str, str]]] = defaultdict(list)
        codes: dict[str, str | None] = {}
        for s in live:
            by_entity[s.entity_id].append((s.name, s.name_kind))
            codes[s.entity_id] = s.credit_code
        for entity_id, names in by_entity.items():
            self.upsert(entity_id, codes[entity_id], names)

    # -- search ---------------------------------------------------------------

    def _candidate_slots(self, query_grams: set[str]) -> list[int]:
        """Slots sharing the most core bigrams with the query. Rare bigrams are counted through
        their postings; common ones (in more than `common_threshold` names, or 0.5% of the
        entities) only re-rank those candidates, by a substring test on each candidate's core."""
        lists = sorted(((g, self._postings.get(g, ())) for g in query_grams), key=lambda gp: len(gp[1]))
        lists = [(g, p) for g, p in lists if p]
        if not lists:
            return []
        threshold = min(self.common_threshold, max(200, len(self._by_entity) // 200))
        rare = [p for _, p in lists if len(p) <= threshold]
        common = [g for g, p in lists if len(p) > threshold]
        if not rare:  # only common bigrams: count the least common one, re-rank by the others
            rare, common = [lists[0][1]], common[1:]
        hits: dict[int, int] = defaultdict(int)
        for postings in rare:
            for slot in postings:
                hits[slot] += 1
        pool = heapq.nlargest(self.candidate_pool * 3, hits, key=hits.__getitem__)
        if common:
            for slot in pool:
                entry = self._slots[slot]
                if entry is not None:
                    hits[slot] += sum(1 for g in common if g in entry.parts.core)
        return heapq.nlargest(self.candidate_pool, pool, key=hits.__getitem__)

    def search(self, query: str, limit: int = 10, min_score: float = 50.0) -> list[Candidate]:
        q = self.analyser.analyse(query)
        if not q.core:
            return []
        best: dict[str, tuple[float, IndexedName]] = {}
        for slot in self._candidate_slots(grams(q.core)):
            entry = self._slots[slot]
            if entry is None:
                continue
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
                name=self._registered.get(e.entity_id, e.name),
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
