"""Versioned domain reference data: counties, bureaus, categories, deadlines, thresholds.

Every rule lives in a YAML file under ``shared/reference/data/`` carrying a
``version``, an ``effective_from`` date, a ``citation`` (the legal or official
source) and a ``note`` on provenance — the legal figures were gathered from
secondary sources and are reference values to verify (DESIGN.md, "Domain
reference"). Nothing here performs I/O beyond reading those files.

Loaders return frozen pydantic models and are cached per source file
(:func:`clear_caches` forgets them). Each takes ``path=`` to read another file
instead of the packaged one; without it, a file of the same name in
``$SHUANGDA_REFERENCE_DIR`` replaces the packaged one.

Lookups that find nothing raise :class:`UnknownCode` (a ``LookupError`` with
``field`` and ``reason``); malformed data raises :class:`ReferenceDataError`.

Quick reference::

    resolve_county("610427").name_zh                       # '彬州市'
    directory(at=date(2019, 1, 1)).resolve("quality")      # 'market_regulation'
    category("trademarks").lead                            # 'industry_commerce'
    deadline_rule("complaint_accept_decision", at=date(2025, 3, 1)).amount   # 7
    crosses_threshold("selling_infringing_copies", {"illegal_gains": 60000}, date(2025, 6, 1)).crossed
"""
from ._base import REFERENCE_DIR_ENV, ReferenceDataError, UnknownCode, clear_caches
from .bureaus import (
    BureauDirectory,
    BureauType,
    BureauTypes,
    CategoryBureaus,
    Directory,
    DirectoryVersion,
    Merge,
    bureau_type,
    directory,
    load_bureau_types,
    load_directory,
)
from .categories import Category, CategoryTable, categories, category, load_categories
from .counties import City, County, CountyTable, HistoricalCode, city, counties, load_counties, resolve_county
from .deadlines import DeadlineRule, DeadlineTable, Kind, Unit, deadline_rule, load_deadlines
from .thresholds import ThresholdFamily, ThresholdResult, ThresholdTable, crosses_threshold, load_thresholds

__all__ = [
    "REFERENCE_DIR_ENV",
    "BureauDirectory",
    "BureauType",
    "BureauTypes",
    "Category",
    "CategoryBureaus",
    "CategoryTable",
    "City",
    "County",
    "CountyTable",
    "DeadlineRule",
    "DeadlineTable",
    "Directory",
    "DirectoryVersion",
    "HistoricalCode",
    "Kind",
    "Merge",
    "ReferenceDataError",
    "ThresholdFamily",
    "ThresholdResult",
    "ThresholdTable",
    "Unit",
    "UnknownCode",
    "bureau_type",
    "categories",
    "category",
    "city",
    "clear_caches",
    "counties",
    "crosses_threshold",
    "deadline_rule",
    "directory",
    "load_bureau_types",
    "load_categories",
    "load_counties",
    "load_deadlines",
    "load_directory",
    "load_thresholds",
    "resolve_county",
]
