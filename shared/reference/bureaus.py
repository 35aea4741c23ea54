"""Bureau types and the versioned bureau directory.

A *bureau type* is a stable id (``market_regulation``, ``food_drug`` …) used in
routing, egress topic names and metric labels; ids are never renamed.

The *directory* says which bureau type actually receives the work of each type
at a date. A reorganisation is configuration: a new directory version with a
``merges`` entry, e.g. from 2018 ``industry_commerce``, ``quality`` and
``food_drug`` → ``market_regulation``::

    directory(at=date(2019, 1, 1)).resolve("industry_commerce")  # "market_regulation"
    directory(at=date(2017, 12, 15)).resolve("industry_commerce")  # "industry_commerce"

Data file ``bureau_types.yaml``::

    version, effective_from, citation, note
    bureau_types: [{id, name_zh, name_en}]

Data file ``bureau_directory.yaml`` (replaceable per call with
``load_directory(path=...)`` or via ``$SHUANGDA_REFERENCE_DIR``)::

    version, effective_from, citation, note
    extra_bureau_types: [{id, name_zh, name_en}]      # optional: types new in this file
    versions:
      - version: "2018-market-regulation"
        effective_from: 2018-04-10
        citation: ...
        note: ...                                       # optional
        merges: [{into: market_regulation, from: [industry_commerce, quality, food_drug]}]

Each version is complete (merges are not inherited from earlier versions);
merges may chain but must not loop.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from pydantic import Field, PrivateAttr, ValidationInfo, model_validator

from ._base import (
    Frozen,
    PathLike,
    RuleSetFile,
    UnknownCode,
    cached_loader,
    check_versions,
    parse_model,
    pick_version,
    read_yaml,
    resolve_source,
)

if TYPE_CHECKING:
    from .categories import Category

_TYPES_FILE = "bureau_types.yaml"
_DIRECTORY_FILE = "bureau_directory.yaml"
_ID = r"^[a-z][a-z0-9_]*$"


class BureauType(Frozen):
    """A kind of bureau (the city and each county have their own instance)."""

    id: str = Field(pattern=_ID)
    name_zh: str
    name_en: str


class BureauTypes(RuleSetFile):
    """The bureau types file, validated."""

    bureau_types: tuple[BureauType, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "BureauTypes":
        ids = [b.id for b in self.bureau_types]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate bureau type ids")
        return self

    def get(self, bureau_type: str) -> BureauType:
        for b in self.bureau_types:
            if b.id == bureau_type:
                return b
        raise UnknownCode("bureau_type", "unknown_bureau_type", f"unknown bureau type {bureau_type!r}")

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(b.id for b in self.bureau_types)


class Merge(Frozen):
    """Every type in ``from`` hands its work to ``into``."""

    into: str = Field(pattern=_ID)
    from_: tuple[str, ...] = Field(alias="from", min_length=1)


class DirectoryVersion(Frozen):
    """One version of the directory as written in the file."""

    version: str = Field(min_length=1)
    effective_from: dt.date
    citation: str = Field(min_length=1)
    note: str = ""
    merges: tuple[Merge, ...] = ()


@dataclass(frozen=True)
class CategoryBureaus:
    """Who handles a category under one directory version."""

    lead: str
    #: Co-operating bureaus, deduplicated, never including the lead.
    cooperating: tuple[str, ...]


@dataclass(frozen=True)
class Directory:
    """The directory in force at a date: resolves bureau types to effective bureaus."""

    version: str
    effective_from: dt.date
    citation: str
    #: every known bureau type → the bureau type that receives its work
    mapping: Mapping[str, str] = field(repr=False)

    def resolve(self, bureau_type: str) -> str:
        """The effective bureau for *bureau_type* (itself unless merged away).

        Raises :class:`UnknownCode` (``field="bureau_type"``,
        ``reason="unknown_bureau_type"``) for an id not in the bureau types.
        """
        try:
            return self.mapping[bureau_type]
        except (KeyError, TypeError):
            raise UnknownCode(
                "bureau_type", "unknown_bureau_type", f"unknown bureau type {bureau_type!r}"
            ) from None

    def active_bureaus(self) -> frozenset[str]:
        """Bureau types that exist as receivers under this version (not merged away)."""
        return frozenset(self.mapping.values())

    def members(self, bureau: str) -> frozenset[str]:
        """The bureau types whose work *bureau* receives (including itself if active)."""
        self.resolve(bureau)
        return frozenset(t for t, target in self.mapping.items() if target == bureau)

    def bureaus_for(self, category: "Category") -> CategoryBureaus:
        """Resolve a category's lead and co-operating bureaus under this version."""
        lead = self.resolve(category.lead)
        cooperating: list[str] = []
        for b in category.cooperating:
            target = self.resolve(b)
            if target != lead and target not in cooperating:
                cooperating.append(target)
        return CategoryBureaus(lead=lead, cooperating=tuple(cooperating))


class BureauDirectory(RuleSetFile):
    """The whole directory file: every version, validated against the bureau types.

    Validation needs the known type ids; pass them as the validation context
    ``{"known_bureau_types": frozenset[str]}`` (the loader does), else the
    packaged bureau types are used.
    """

    extra_bureau_types: tuple[BureauType, ...] = ()
    versions: tuple[DirectoryVersion, ...] = Field(min_length=1)
    _views: dict[str, Directory] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _build_views(self, info: ValidationInfo) -> "BureauDirectory":
        check_versions(self.versions, "bureau directory")
        context = info.context if isinstance(info.context, Mapping) else {}
        known = context.get("known_bureau_types")
        if known is None:
            known = load_bureau_types().ids
        extra = {b.id for b in self.extra_bureau_types}
        if extra & set(known):
            raise ValueError(f"extra_bureau_types redefine existing ids {sorted(extra & set(known))}")
        self._views = _build_views(self.versions, frozenset(known) | extra)
        return self

    def at(self, at: dt.date) -> Directory:
        """The directory version in force at *at* (raises ``UnknownCode`` before the first)."""
        chosen = pick_version(self.versions, at, "bureau_directory", "directory")
        return self._views[chosen.version]

    @property
    def bureau_types(self) -> frozenset[str]:
        """All type ids this directory knows (packaged types plus ``extra_bureau_types``)."""
        return frozenset(next(iter(self._views.values())).mapping)


def _build_views(versions: tuple[DirectoryVersion, ...], known: frozenset[str]) -> dict[str, Directory]:
    """Validate merges against the known type ids; build each version's resolved view."""
    views: dict[str, Directory] = {}
    for v in versions:
        direct: dict[str, str] = {}
        for m in v.merges:
            for t in (m.into, *m.from_):
                if t not in known:
                    raise ValueError(f"directory version {v.version}: unknown bureau type {t!r}")
            for t in m.from_:
                if t == m.into:
                    raise ValueError(f"directory version {v.version}: {t!r} merged into itself")
                if t in direct:
                    raise ValueError(f"directory version {v.version}: {t!r} merged twice")
                direct[t] = m.into
        mapping: dict[str, str] = {}
        for t in sorted(known):
            seen = [t]
            target = t
            while target in direct:
                target = direct[target]
                if target in seen:
                    raise ValueError(f"directory version {v.version}: merge loop {' -> '.join(seen + [target])}")
                seen.append(target)
            mapping[t] = target
        views[v.version] = Directory(
            version=v.version,
            effective_from=v.effective_from,
            citation=v.citation,
            mapping=MappingProxyType(mapping),
        )
    return views


@cached_loader
def _load_types(source: Path | None) -> BureauTypes:
    return parse_model(BureauTypes, read_yaml(_TYPES_FILE, source), _TYPES_FILE, source)


def load_bureau_types(path: PathLike | None = None) -> BureauTypes:
    """Load (cached) the bureau types; *path* replaces the packaged file."""
    return _load_types(resolve_source(_TYPES_FILE, path))


def bureau_type(bureau_type_id: str) -> BureauType:
    """The packaged (or ``$SHUANGDA_REFERENCE_DIR``) bureau type with this id."""
    return load_bureau_types().get(bureau_type_id)


@cached_loader
def _load_directory(source: Path | None) -> BureauDirectory:
    context = {"known_bureau_types": load_bureau_types().ids}
    return parse_model(BureauDirectory, read_yaml(_DIRECTORY_FILE, source), _DIRECTORY_FILE, source, context)


def load_directory(path: PathLike | None = None) -> BureauDirectory:
    """Load (cached) the bureau directory with all its versions.

    *path* replaces the packaged ``bureau_directory.yaml`` (routing tests and
    operators use this to describe a reorganisation); without it,
    ``$SHUANGDA_REFERENCE_DIR/bureau_directory.yaml`` is used when present.
    Raises :class:`ReferenceDataError` for an invalid file.
    """
    return _load_directory(resolve_source(_DIRECTORY_FILE, path))


def directory(at: dt.date, *, path: PathLike | None = None) -> Directory:
    """The directory in force at *at*: ``directory(at=d).resolve("quality")``."""
    return load_directory(path).at(at)
