"""Plumbing shared by the reference loaders: errors, base models, file reading, caching."""
from __future__ import annotations

import datetime as dt
import functools
import importlib.resources
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: Directory whose files (same names as the packaged ones) replace the packaged data.
REFERENCE_DIR_ENV = "SHUANGDA_REFERENCE_DIR"

PathLike = str | os.PathLike[str]


class UnknownCode(LookupError):
    """A code, id or date has no entry in the reference data.

    Attributes:
        field: what was looked up — ``"county_code"``, ``"bureau_type"``,
            ``"category"``, ``"deadline_rule"``, ``"threshold_family"``, …
        reason: a short, stable machine code, e.g. ``"outside_city"``,
            ``"unknown_county"``, ``"no_version_in_force"``.
        message: the human explanation (also ``str(error)``).
    """

    def __init__(self, field: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason
        self.message = message

    def __str__(self) -> str:  # LookupError subclasses like KeyError would repr() the message
        return self.message

    def __repr__(self) -> str:
        return f"UnknownCode(field={self.field!r}, reason={self.reason!r}, message={self.message!r})"


class ReferenceDataError(Exception):
    """A reference data file is missing, unreadable or inconsistent (raised at load time)."""


class Frozen(BaseModel):
    """Base of every reference model: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class RuleVersion(Frozen):
    """The header of one version of a versioned rule, in force from `effective_from`: its label, the
    citation, and whether the figures were read in the regulation's own text (`verified`;
    `verified_note` names the text, or says what was looked for and not found)."""

    version: str = Field(min_length=1)
    effective_from: dt.date
    citation: str = Field(min_length=1)
    verified: bool = False
    verified_note: str = ""


class RuleSetFile(Frozen):
    """The header every reference data file carries."""

    version: str = Field(min_length=1)
    effective_from: dt.date
    citation: str = Field(min_length=1)
    #: Provenance: where the values came from and what must be verified.
    note: str = Field(min_length=1)


class Versioned(Protocol):
    @property
    def effective_from(self) -> dt.date: ...

    @property
    def version(self) -> str: ...


V = TypeVar("V", bound=Versioned)
M = TypeVar("M", bound=BaseModel)


def check_versions(versions: Sequence[Versioned], what: str) -> None:
    """Versions must be non-empty, in increasing effective_from order, labels unique."""
    if not versions:
        raise ValueError(f"{what}: at least one version is required")
    labels = [v.version for v in versions]
    if len(set(labels)) != len(labels):
        raise ValueError(f"{what}: duplicate version labels {labels}")
    dates = [v.effective_from for v in versions]
    if any(a >= b for a, b in zip(dates, dates[1:])):
        raise ValueError(f"{what}: versions must be listed in strictly increasing effective_from order")


def pick_version(versions: Sequence[V], at: dt.date, field: str, ident: str) -> V:
    """Return the version in force at *at* (latest effective_from ≤ at)."""
    if not isinstance(at, dt.date) or isinstance(at, dt.datetime):
        raise TypeError(f"at must be a datetime.date, not {type(at).__name__}")
    chosen: V | None = None
    for v in versions:
        if v.effective_from <= at:
            chosen = v
    if chosen is None:
        raise UnknownCode(
            field,
            "no_version_in_force",
            f"{field} {ident!r}: no version in force on {at.isoformat()} "
            f"(earliest is effective from {versions[0].effective_from.isoformat()})",
        )
    return chosen


def resolve_source(name: str, path: PathLike | None) -> Path | None:
    """Which file to read: *path* if given, else ``$SHUANGDA_REFERENCE_DIR/<name>`` if it
    exists, else ``None`` meaning the packaged file."""
    if path is not None:
        return Path(path).expanduser().resolve()
    override_dir = os.environ.get(REFERENCE_DIR_ENV)
    if override_dir:
        candidate = Path(override_dir).expanduser() / name
        if candidate.is_file():
            return candidate.resolve()
    return None


def read_yaml(name: str, source: Path | None) -> Any:
    """Parse a YAML data file (packaged when *source* is None)."""
    where = str(source) if source is not None else f"packaged data/{name}"
    try:
        if source is None:
            text = importlib.resources.files("shared.reference.data").joinpath(name).read_text(encoding="utf-8")
        else:
            text = source.read_text(encoding="utf-8")
        return yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise ReferenceDataError(f"{where}: cannot read reference data: {exc}") from exc


def parse_model(
    model: type[M], data: Any, name: str, source: Path | None, context: dict[str, Any] | None = None
) -> M:
    """Validate parsed YAML into *model*, naming the file in any error."""
    where = str(source) if source is not None else f"packaged data/{name}"
    try:
        return model.model_validate(data, context=context)
    except (ValidationError, ValueError) as exc:
        raise ReferenceDataError(f"{where}: invalid reference data: {exc}") from exc


_CACHES: list[Callable[[], None]] = []


def cached_loader(fn: Callable[[Path | None], M]) -> Callable[[Path | None], M]:
    """Memoise a loader on its resolved source path; :func:`clear_caches` empties it."""
    wrapped = functools.lru_cache(maxsize=32)(fn)
    _CACHES.append(wrapped.cache_clear)
    return wrapped


def clear_caches() -> None:
    """Forget every loaded file, so the next call re-reads it (after an operator edit)."""
    for clear in _CACHES:
        clear()
