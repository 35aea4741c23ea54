"""A county from a point (shared/reference/geo.py): the approximate areas, at their edges."""
from __future__ import annotations

import pytest

from shared.reference import counties
from shared.reference.geo import county_at, load_county_areas


def test_every_current_county_has_an_area_and_its_own_seat_lies_in_it() -> None:
    areas = load_county_areas()
    assert {a.code for a in areas.areas} == {c.code for c in counties()}
    for area in areas.areas:
        assert county_at(*area.seat) == area.code


def test_the_areas_say_they_are_approximate_local_data() -> None:
    areas = load_county_areas()
    assert "approximate" in areas.citation.lower() and "not a legal boundary" in areas.note.lower()


def test_a_box_edge_belongs_to_the_box_and_a_hair_beyond_it_does_not() -> None:
    changwu = next(a for a in load_county_areas().areas if a.code == "610428")
    west_edge = (changwu.seat[0], changwu.west)
    assert county_at(*west_edge) == "610428"
    assert county_at(west_edge[0], changwu.west - 1e-6) is None  # west of the city: nothing derived


@pytest.mark.parametrize("point", [(39.9, 116.4), (34.26, 108.94), (0.0, 0.0), (-34.3, -108.7)])
def test_a_point_outside_every_area_derives_no_county(point: tuple[float, float]) -> None:
    assert county_at(*point) is None  # Beijing, Xi'an's centre, null island, the antipode


def test_in_overlapping_areas_the_county_of_the_nearest_seat_wins() -> None:
    areas = {a.code: a for a in load_county_areas().areas}
    qindu, weicheng = areas["610402"], areas["610404"]
    lat = 34.35
    assert qindu.contains(lat, 108.72) and weicheng.contains(lat, 108.72)
    assert county_at(lat, 108.711) == "610402"   # next to 秦都区's seat
    assert county_at(lat, 108.739) == "610404"   # next to 渭城区's seat
