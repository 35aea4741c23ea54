"""Case categories: lead and co-operating bureau types, IP flag, threshold families.

Data file ``categories.yaml``::

    version, effective_from, citation, note
    categories:
      - id: trademarks                      # stable id, never renamed
        name_zh: 商标侵权假冒
        name_en: Trademark infringement and counterfeiting
        lead: industry_commerce             # a bureau type id
        cooperating: [public_security]      # bureau type ids
        ip: true                            # an IP category (reasonable suspicion suffices to transfer)
        threshold_families: [counterfeit_trademark, ...]   # first = primary; may be empty

Lead and co-operating ids are the seed's bureau types; resolve them for a date
with ``directory(at=...).bureaus_for(category)``.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from ._base import (
    Frozen,
    PathLike,
    ReferenceDataError,
    RuleSetFile,
    UnknownCode,
    cached_loader,
    parse_model,
    read_yaml,
    resolve_source,
)
from .bureaus import load_bureau_types
from .thresholds import load_thresholds

_FILE = "categories.yaml"
_ID = r"^[a-z][a-z0-9_]*$"


class Category(Frozen):
    """What a complaint, lead or case is about, and who handles it."""

    id: str = Field(pattern=_ID)
    name_zh: str
    name_en: str
    lead: str = Field(pattern=_ID)
    cooperating: tuple[str, ...] = ()
    ip: bool
    threshold_families: tuple[str, ...] = ()

    @property
    def threshold_family(self) -> str | None:
        """The primary criminal threshold family, or ``None`` if none applies."""
        return self.threshold_families[0] if self.threshold_families else None


class CategoryTable(RuleSetFile):
    """The categories file, validated."""

    categories: tuple[Category, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "CategoryTable":
        ids = [c.id for c in self.categories]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate category ids")
        for c in self.categories:
            if c.lead in c.cooperating:
                raise ValueError(f"category {c.id}: lead {c.lead} also listed as co-operating")
        return self

    def get(self, category_id: str) -> Category:
        """The category with this id; :class:`UnknownCode` (``field="category"``) otherwise."""
        for c in self.categories:
            if c.id == category_id:
                return c
        raise UnknownCode("category", "unknown_category", f"unknown category {category_id!r}")

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.categories)


@cached_loader
def _load(source: Path | None) -> CategoryTable:
    table = parse_model(CategoryTable, read_yaml(_FILE, source), _FILE, source)
    where = str(source) if source is not None else f"packaged data/{_FILE}"
    bureau_ids = load_bureau_types().ids
    families = load_thresholds().family_ids
    for c in table.categories:
        for b in (c.lead, *c.cooperating):
            if b not in bureau_ids:
                raise ReferenceDataError(f"{where}: category {c.id}: unknown bureau type {b!r}")
        for f in c.threshold_families:
            if f not in families:
                raise ReferenceDataError(f"{where}: category {c.id}: unknown threshold family {f!r}")
    return table


def load_categories(path: PathLike | None = None) -> CategoryTable:
    """Load (cached) the categories, checked against bureau types and threshold families."""
    return _load(resolve_source(_FILE, path))


def categories(path: PathLike | None = None) -> tuple[Category, ...]:
    """All categories, in file order."""
    return load_categories(path).categories


def category(category_id: str, *, path: PathLike | None = None) -> Category:
    """The category with this id; raises :class:`UnknownCode` (``field="category"``)."""
    return load_categories(path).get(category_id)
