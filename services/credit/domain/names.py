"""Enterprise names: normalisation and the parts a comparison sets aside.

A Chinese enterprise name is region + trade name (字号) + industry + legal form
(企业名称登记管理规定 第六条), e.g. 陕西省咸阳市|华泰|商贸|有限公司. Two names
are the same enterprise's when they agree after normalisation; they are
*similar* when their cores (region and legal form set aside) are close.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Iterable, Mapping

_BRACKETS = str.maketrans({"（": "(", "）": ")", "【": "(", "】": ")", "[": "(", "]": ")", "〔": "(", "〕": ")"})
_DROP = set(" \t\u3000·•・.,，、\"'“”‘’《》<>")


@dataclass(frozen=True)
class NameParts:
    original: str
    #: the whole name normalised: the key for "same name" (entities without a code)
    normalised: str
    #: what similarity compares: region prefixes, bracketed region and legal form set aside
    core: str
    #: region prefixes in their full form (陕西 → 陕西省), outermost first
    prefixes: tuple[str, ...]
    bracket_region: str | None
    suffix: str | None


class NameAnalyser:
    """Splits names with the region prefixes and legal-form suffixes of the rules data."""

    def __init__(self, region_prefixes: Mapping[str, str], legal_form_suffixes: Iterable[str]) -> None:
        """`region_prefixes` maps each prefix (full or short form) to its full form."""
        self.canonical = dict(region_prefixes)
        self.prefixes = tuple(sorted(self.canonical, key=len, reverse=True))
        self.suffixes = tuple(sorted(set(legal_form_suffixes), key=len, reverse=True))
        self._prefix_set = frozenset(self.prefixes)

    @staticmethod
    def normalise(name: str) -> str:
        text = unicodedata.normalize("NFKC", name).translate(_BRACKETS)
        return "".join(ch for ch in text if ch not in _DROP).lower()

    def analyse(self, name: str) -> NameParts:
        norm = self.normalise(name)
        rest = norm
        bracket_region = None
        # a bracketed region anywhere: 华为技术(咸阳)有限公司
        start = rest.find("(")
        while start != -1:
            end = rest.find(")", start)
            if end == -1:
                break
            inner = rest[start + 1:end]
            if inner in self._prefix_set:
                bracket_region = self.canonical[inner]
                rest = rest[:start] + rest[end + 1:]
                start = rest.find("(")
            else:
                start = rest.find("(", end)
        prefixes: list[str] = []
        stripped = True
        while stripped:
            stripped = False
            for p in self.prefixes:
                if rest.startswith(p) and len(rest) - len(p) >= 2:
                    prefixes.append(self.canonical[p])
                    rest = rest[len(p):]
                    stripped = True
                    break
        suffix = None
        for s in self.suffixes:
            if rest.endswith(s) and len(rest) - len(s) >= 2:
                suffix = s
                rest = rest[: -len(s)]
                break
        core = rest.replace("(", "").replace(")", "")
        return NameParts(name, norm.replace("(", "").replace(")", ""), core or norm, tuple(prefixes), bracket_region, suffix)


def grams(core: str) -> set[str]:
    """Character bigrams of a core name (the whole core when it is one character)."""
    if len(core) < 2:
        return {core} if core else set()
    return {core[i:i + 2] for i in range(len(core) - 1)}


def regions_agree(a: NameParts, b: NameParts) -> bool | None:
    """None when either name has no region; True when one's regions include the other's
    (咸阳市 and 陕西省咸阳市 agree); False when they name different places."""
    ra = set(a.prefixes) | ({a.bracket_region} if a.bracket_region else set())
    rb = set(b.prefixes) | ({b.bracket_region} if b.bracket_region else set())
    if not ra or not rb:
        return None
    return ra <= rb or rb <= ra
