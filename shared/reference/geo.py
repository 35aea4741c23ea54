"""A county from a point (Open311's ``lat``/``long``), from approximate areas. Pure.

Data file ``county_areas.yaml``::

    version, effective_from, citation, note      # the rule-set header
    areas: [{code, seat: [lat, long], south, west, north, east}]   # WGS 84 degrees

The packaged areas are **approximate local data** (bounding boxes around each county and its
seat, no surveyed boundary): a point inside one box is that county; inside several, the county
whose seat is nearest (equirectangular distance; the first in file order on a tie); inside none,
no county — never an error. Edges belong to the box.
"""
from __future__ import annotations

import math
from pathlib import Path

from pydantic import Field, model_validator

from ._base import Frozen, PathLike, ReferenceDataError, RuleSetFile, cached_loader, parse_model, read_yaml, resolve_source
from .counties import load_counties

_FILE = "county_areas.yaml"


class CountyArea(Frozen):
    code: str = Field(pattern=r"^[0-9]{6}$")
    seat: tuple[float, float]
    south: float = Field(ge=-90, le=90)
    west: float = Field(ge=-180, le=180)
    north: float = Field(ge=-90, le=90)
    east: float = Field(ge=-180, le=180)

    @model_validator(mode="after")
    def _ordered(self) -> "CountyArea":
        if not (self.south < self.north and self.west < self.east):
            raise ValueError(f"{self.code}: south < north and west < east")
        if not self.contains(*self.seat):
            raise ValueError(f"{self.code}: the seat lies outside the area")
        return self

    def contains(self, lat: float, long: float) -> bool:
        return self.south <= lat <= self.north and self.west <= long <= self.east

    def seat_distance(self, lat: float, long: float) -> float:
        """Distance to the seat in degrees of latitude (longitude scaled by the latitude's cosine)."""
        dlat = lat - self.seat[0]
        dlong = (long - self.seat[1]) * math.cos(math.radians((lat + self.seat[0]) / 2))
        return math.hypot(dlat, dlong)


class CountyAreas(RuleSetFile):
    areas: tuple[CountyArea, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "CountyAreas":
        codes = [a.code for a in self.areas]
        if len(set(codes)) != len(codes):
            raise ValueError("duplicate county codes")
        return self

    def county_at(self, lat: float, long: float) -> str | None:
        """The county code the point lies in (see the module), or ``None``."""
        inside = [a for a in self.areas if a.contains(lat, long)]
        if not inside:
            return None
        return min(inside, key=lambda a: a.seat_distance(lat, long)).code


@cached_loader
def _load(source: Path | None) -> CountyAreas:
    table = parse_model(CountyAreas, read_yaml(_FILE, source), _FILE, source)
    known = {c.code for c in load_counties().counties}
    unknown = [a.code for a in table.areas if a.code not in known]
    if unknown:
        raise ReferenceDataError(f"{_FILE}: not current counties: {unknown}")
    return table


def load_county_areas(path: PathLike | None = None) -> CountyAreas:
    """Load (cached) the county areas; *path* replaces the packaged file."""
    return _load(resolve_source(_FILE, path))


def county_at(lat: float, long: float, *, path: PathLike | None = None) -> str | None:
    """The county code of the point from the (approximate) areas, or ``None`` outside them all."""
    return load_county_areas(path).county_at(lat, long)
