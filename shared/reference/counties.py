"""Counties of the city (GB/T 2260), with historical code mapping.

Data file ``counties.yaml``::

    version, effective_from, citation, note      # the rule-set header
    city: {code, name_zh, name_en, city_level_codes: [..]}
    counties: [{code, name_zh, name_en, kind: district|county|city, population_weight}]
    historical_codes: [{code, name_zh, name_en, successor, changed_in: <year>}]

``population_weight`` is a relative, approximate share for simulations only.
"""
from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from shared.identifiers import normalise_text

from ._base import Frozen, PathLike, RuleSetFile, UnknownCode, cached_loader, parse_model, read_yaml, resolve_source

_FILE = "counties.yaml"
_CODE = re.compile(r"^[0-9]{6}$")


class City(Frozen):
    """The prefecture-level city the deployment serves."""

    code: str = Field(pattern=r"^[0-9]{6}$")
    name_zh: str
    name_en: str
    #: Codes that denote the city itself rather than one county (e.g. 610401 市辖区).
    city_level_codes: tuple[str, ...] = ()


class County(Frozen):
    """A county-level division: district (区), county (县) or county-level city (市)."""

    code: str = Field(pattern=r"^[0-9]{6}$")
    name_zh: str
    name_en: str
    kind: Literal["district", "county", "city"]
    population_weight: Decimal = Field(gt=0)
    #: Historical codes that now mean this county (e.g. 610427 for 610482 彬州市).
    former_codes: tuple[str, ...] = ()


class HistoricalCode(Frozen):
    """A code withdrawn from GB/T 2260 and the county that replaced it."""

    code: str = Field(pattern=r"^[0-9]{6}$")
    name_zh: str
    name_en: str
    successor: str
    changed_in: int = Field(ge=1980, le=2100)


class CountyTable(RuleSetFile):
    """The whole counties file, validated."""

    city: City
    counties: tuple[County, ...] = Field(min_length=1)
    historical_codes: tuple[HistoricalCode, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _attach_former_codes(cls, data: object) -> object:
        if isinstance(data, dict):
            history = data.get("historical_codes") or []
            former: dict[str, list[str]] = {}
            for h in history:
                if isinstance(h, dict) and "successor" in h and "code" in h:
                    former.setdefault(str(h["successor"]), []).append(str(h["code"]))
            counties = []
            for c in data.get("counties") or []:
                if isinstance(c, dict) and "former_codes" not in c:
                    c = {**c, "former_codes": former.get(str(c.get("code")), [])}
                counties.append(c)
            data = {**data, "counties": counties}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "CountyTable":
        prefix = self.city.code[:4]
        codes = [c.code for c in self.counties]
        if len(set(codes)) != len(codes):
            raise ValueError("duplicate county codes")
        for code in codes + [h.code for h in self.historical_codes]:
            if not code.startswith(prefix):
                raise ValueError(f"county code {code} is not in city {self.city.code}")
        for h in self.historical_codes:
            if h.code in codes:
                raise ValueError(f"historical code {h.code} is also a current county code")
            if h.successor not in codes:
                raise ValueError(f"historical code {h.code}: successor {h.successor} is not a current county")
        return self

    def resolve(self, code: str) -> County:
        """See :func:`resolve_county`."""
        if not isinstance(code, str):
            raise UnknownCode("county_code", "malformed_code", f"county code must be text, got {type(code).__name__}")
        norm = normalise_text(code)
        if not _CODE.match(norm):
            raise UnknownCode("county_code", "malformed_code", f"county code {norm!r} is not 6 digits")
        for county in self.counties:
            if county.code == norm or norm in county.former_codes:
                return county
        if norm in self.city.city_level_codes or norm == self.city.code:
            raise UnknownCode(
                "county_code", "city_level_code", f"{norm} denotes the city {self.city.name_zh} itself, not a county"
            )
        if not norm.startswith(self.city.code[:4]):
            raise UnknownCode("county_code", "outside_city", f"{norm} is outside {self.city.name_zh} ({self.city.code})")
        raise UnknownCode("county_code", "unknown_county", f"{norm} is not a county of {self.city.name_zh}")

    def by_code(self, code: str) -> County | None:
        """The county with this current code, or ``None`` (no historical mapping)."""
        return next((c for c in self.counties if c.code == code), None)


@cached_loader
def _load(source: Path | None) -> CountyTable:
    return parse_model(CountyTable, read_yaml(_FILE, source), _FILE, source)


def load_counties(path: PathLike | None = None) -> CountyTable:
    """Load (cached) the counties table; *path* replaces the packaged file."""
    return _load(resolve_source(_FILE, path))


def counties(path: PathLike | None = None) -> tuple[County, ...]:
    """The city's current counties, in GB/T 2260 order."""
    return load_counties(path).counties


def city(path: PathLike | None = None) -> City:
    """The city (code 610400 咸阳市 in the packaged data)."""
    return load_counties(path).city


def resolve_county(code: str, *, path: PathLike | None = None) -> County:
    """Return the current county for a GB/T 2260 code, mapping historical codes.

    ``resolve_county("610427")`` returns 彬州市 (610482). Full-width digits are
    accepted. Raises :class:`UnknownCode` with ``field="county_code"`` and the
    reason ``malformed_code`` (not 6 digits), ``outside_city`` (another
    city's code), ``city_level_code`` (the city itself, e.g. 610400) or
    ``unknown_county`` (in the city's range but not a county).
    """
    return load_counties(path).resolve(code)
