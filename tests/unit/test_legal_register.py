"""`shuangda rules`: the legal register lists each figure of the version in force on the date asked,
with its citation, article, effective dates and verification — at the boundaries of a version change."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from deploy.cli import main
from deploy.commands.rules import figures, render
from shared.reference.thresholds import load_thresholds

D = dt.date


def by_id(at: dt.date, area: str) -> dict[str, object]:
    return {f.id: f for f in figures(at, areas=[area])}


def test_the_day_before_the_2025_interpretation_lists_the_2010_trademark_figures_ending_that_day() -> None:
    row = by_id(D(2025, 4, 25), "thresholds")["counterfeit_trademark.turnover"]
    assert row.version == "2010" and row.effective_from == D(2010, 5, 7)
    assert row.effective_until == D(2025, 4, 25)
    assert row.verified and "第六十九条" in row.citation and row.article == "第六十九条第(一)项"


def test_on_its_effective_day_the_2025_version_is_listed_as_the_latest() -> None:
    row = by_id(D(2025, 4, 26), "thresholds")["counterfeit_trademark.turnover"]
    assert row.version == "2025" and row.effective_from == D(2025, 4, 26) and row.effective_until is None


def test_every_condition_of_every_family_in_force_is_listed() -> None:
    at = D(2026, 12, 7)
    table = load_thresholds()
    expected = {f"{fam.id}.{c.id}" for fam in table.families for v in fam.versions
                if v.effective_from <= at and v is max((x for x in fam.versions if x.effective_from <= at),
                                                       key=lambda x: x.effective_from)
                for c in v.conditions}
    assert set(by_id(at, "thresholds")) == expected and expected


def test_before_the_first_version_a_rule_is_not_listed() -> None:
    assert "complaint_accept_decision" not in by_id(D(2014, 3, 14), "deadlines")
    assert by_id(D(2014, 3, 15), "deadlines")["complaint_accept_decision"].version == "2014"


def test_a_deadline_names_its_period_and_article() -> None:
    row = by_id(D(2026, 12, 7), "deadlines")["complaint_accept_decision"]
    assert row.value.startswith("7个工作日") and row.article == "第十四条" and row.verified


def test_the_2025_holiday_rule_gives_the_spring_festival_four_days() -> None:
    rows = by_id(D(2025, 1, 1), "holidays")
    assert rows["statutory.春节"].value.startswith("4 天") and rows["statutory.春节"].version == "2025"
    assert by_id(D(2024, 12, 31), "holidays")["statutory.春节"].value.startswith("3 天")


def test_credit_rules_are_in_the_register_and_unverified_ones_say_so() -> None:
    rows = figures(D(2026, 12, 7), areas=["credit"])
    assert {r.area for r in rows} == {"credit.publicity", "credit.heavy_penalty", "credit.blacklist", "credit.party_names"}
    assert all(r.verified_note for r in rows if not r.verified)


def test_unverified_lists_only_what_remains_to_check() -> None:
    every = figures(D(2026, 12, 7))
    left = figures(D(2026, 12, 7), unverified=True)
    assert left and not any(r.verified for r in left)
    assert len(left) == sum(1 for r in every if not r.verified) < len(every)


def test_csv_output_has_one_row_per_figure_and_no_cell_a_spreadsheet_would_run() -> None:
    at = D(2026, 12, 7)
    rows = figures(at)
    parsed = list(csv.DictReader(io.StringIO(render(rows, "csv", at))))
    assert len(parsed) == len(rows)
    assert not any(v[:1] in "=+-@" for r in parsed for v in r.values() if v)


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_the_command_prints_the_register_for_a_date(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--at", "2025-04-26", "--format", fmt, "--area", "thresholds"]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        doc = json.loads(out)
        assert doc["at"] == "2025-04-26" and {f["version"] for f in doc["figures"]} >= {"2025"}
    else:
        # every threshold in force that day was read in 法释〔2025〕5号 or the 2008 standards (docs/legal.md)
        assert out.startswith("legal figures in force on 2025-04-26: ") and "(0 not verified" in out
        assert "· verified" in out and "NOT VERIFIED" not in out


def test_the_table_marks_a_figure_not_read_in_its_text_as_not_verified(capsys: pytest.CaptureFixture[str]) -> None:
    # NDRC 令第36号's periods article was not reached (deadlines.yaml penalty_publicity_min 2026)
    assert main(["rules", "--at", "2026-12-07", "--format", "table", "--area", "deadlines"]) == 0
    out = capsys.readouterr().out
    assert "penalty_publicity_min" in out and "NOT VERIFIED" in out
    assert "police_reconsideration_decision" in out and "第九条第二款" in out
