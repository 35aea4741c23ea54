"""The office overview's figures rolled up from routing's case counts per (state, county, bureau,
category) cell (adapters/http_overview.rollup): the same figures GROUPING SETS gave, from one grouping."""
from __future__ import annotations

from services.routing.adapters.http_overview import rollup


def cell(state: str, county: str, bureau: str, category: str, total: int, recent: int = 0, meetings: int = 0) -> dict:
    return {"state": state, "county_label": county, "assignee": bureau, "category": category, "total": total,
            "recent": recent, "joint_meetings": meetings}


CELLS = [
    cell("assigned", "610402", "market_regulation@610402", "food_safety", 5, recent=2, meetings=1),
    cell("accepted", "610402", "market_regulation@610402", "trademarks", 3, recent=1),
    cell("closed", "610402", "market_regulation@610402", "food_safety", 7, recent=4, meetings=2),
    cell("accepted", "610403", "market_regulation@610403", "food_safety", 3, recent=2, meetings=1),
]


def test_each_dimension_counts_all_and_open_cases_largest_first_ties_by_key() -> None:
    dims, _hot, _meetings = rollup(CELLS)
    assert [(c.key, c.total, c.open) for c in dims["state"]] == [("closed", 7, 0), ("accepted", 6, 6), ("assigned", 5, 5)]
    assert [(c.key, c.total, c.open) for c in dims["county_label"]] == [("610402", 15, 8), ("610403", 3, 3)]
    assert [(c.key, c.total, c.open) for c in dims["category"]] == [("food_safety", 15, 8), ("trademarks", 3, 3)]
    assert [c.key for c in dims["assignee"]] == ["market_regulation@610402", "market_regulation@610403"]


def test_hotspots_add_the_recent_cases_of_a_county_and_category_over_every_state() -> None:
    _dims, hot, _meetings = rollup(CELLS)
    assert hot == [("610402", "food_safety", 6), ("610403", "food_safety", 2), ("610402", "trademarks", 1)]


def test_only_open_cases_count_for_the_joint_meetings_proposed() -> None:
    assert rollup(CELLS)[2] == 2  # the closed cell's 2 do not count


def test_no_cases_give_empty_figures() -> None:
    dims, hot, meetings = rollup([])
    assert all(v == [] for v in dims.values()) and hot == [] and meetings == 0
