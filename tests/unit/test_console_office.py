"""The office's pure figures (the county map, the assessment's score and CSV) and the unmasking rules."""
from __future__ import annotations

from services.console.domain import office

NAMES = {"610402": "秦都区", "610404": "渭城区"}


def test_the_map_has_a_tile_for_each_of_the_citys_fourteen_counties_without_overlap() -> None:
    tiles = office.county_map({}, NAMES)
    assert len(tiles) == 14 and len({(t.x, t.y) for t in tiles}) == 14
    width, height = office.map_size()
    assert all(0 < t.x < width and 0 < t.y < height for t in tiles)
    assert all(t.fill == office.PALETTE[0] for t in tiles)


def test_the_largest_figure_is_shaded_darkest_and_none_or_zero_lightest() -> None:
    tiles = {t.code: t for t in office.county_map({"610402": 10.0, "610404": 1.0, "610403": 0.0}, NAMES)}
    assert tiles["610402"].fill == office.PALETTE[-1] and tiles["610402"].dark
    assert tiles["610404"].fill == office.PALETTE[1]
    assert tiles["610403"].fill == tiles["610422"].fill == office.PALETTE[0]
    assert tiles["610402"].name == "秦都区" and tiles["610422"].name == "610422"


def test_the_county_figures_come_from_the_overview() -> None:
    ov = {"cases_by_county": [{"key": "610402", "total": 5, "open": 3}],
          "deadlines_by_county": [{"county": "610402", "breached": 2, "approaching": 1}]}
    assert office.county_figures(ov, "open") == {"610402": 3.0}
    assert office.county_figures(ov, "breached") == {"610402": 2.0}
    assert office.county_figures(ov, "score", {"610402": 80.0}) == {"610402": 80.0}
    assert office.pick_figure("nonsense") == "open"


def test_the_score_weighs_answers_in_time_cases_without_a_breach_and_closures() -> None:
    perfect = {"opened": 4, "answered_in_time": 4, "cases_breached": 0, "closed": 4}
    assert office.score(perfect) == 100.0
    assert office.score({"opened": 4, "answered_in_time": 2, "cases_breached": 2, "closed": 0}) == 40.0
    assert office.score({"opened": 0, "answered_in_time": 0, "cases_breached": 0, "closed": 0}) is None


def test_assessed_rows_are_ranked_best_first_and_named() -> None:
    rows = [{"key": "610404", "opened": 2, "answered_in_time": 0, "cases_breached": 2, "closed": 0},
            {"key": "610402", "opened": 2, "answered_in_time": 2, "cases_breached": 0, "closed": 2},
            {"key": "610403", "opened": 0, "answered_in_time": 0, "cases_breached": 0, "closed": 0}]
    ranked = office.assessed(rows, NAMES)
    assert [r["key"] for r in ranked] == ["610402", "610404", "610403"]
    assert ranked[0]["name"] == "秦都区" and ranked[0]["in_time_rate"] == 1.0 and ranked[2]["score"] is None


def test_the_csv_has_a_bom_a_header_counties_then_bureaus_and_no_formula_cells() -> None:
    county = office.assessed([{"key": "610402", "opened": 3, "answered": 3, "answered_in_time": 2, "refused": 0,
                               "closed": 1, "deadlines_breached": 1, "cases_breached": 1, "mean_answer_hours": 2.5}], NAMES)
    bureau = office.assessed([{"key": "=cmd|' /C calc'!A0", "opened": 1, "answered": 0, "answered_in_time": 0,
                               "refused": 0, "closed": 0, "deadlines_breached": 0, "cases_breached": 0,
                               "mean_answer_hours": None}], {})
    text = office.assessment_csv(county, bureau)
    assert text.startswith("\ufeffscope,key,name,opened")
    lines = text.lstrip("\ufeff").split("\r\n")
    assert lines[1].startswith("county,610402,秦都区,3,3,2,0,1,1,1,2.5,")
    assert lines[2].startswith("bureau,'=cmd")


def test_an_unmasking_needs_a_reason_of_at_least_four_characters() -> None:
    from services.console.domain.cases import unmask_reason

    assert unmask_reason("  核实  身份 ") == "核实 身份"
    assert unmask_reason("   ") is None and unmask_reason(None) is None and unmask_reason("abc") is None
    assert unmask_reason("x" * 501) is None


def test_the_consoles_audit_migration_is_the_generated_audit_table() -> None:
    from pathlib import Path

    from shared import audit

    migration = Path(__file__).resolve().parents[2] / "services" / "console" / "migrations" / "0002_audit.sql"
    assert migration.read_text(encoding="utf-8") == audit.migration_sql()
