"""The assessment's sections for custody, appraisal turnaround, inspections and satisfaction
(sim/sections.py): the figures from the services' rows, and a service that did not run said so."""
from __future__ import annotations

import datetime as dt
import re

from sim import report, sections
from sim.sections import appraisal_section, custody_section, inspection_section, satisfaction_section

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 11, 1, tzinfo=UTC)
AS_OF = T0 + dt.timedelta(days=10)


def test_custody_counts_lots_kept_and_disposed_by_the_end_of_the_period_and_the_destruction_cost() -> None:
    lots = [{"state": "in_custody", "declared_value": "100.50", "disposed_outcome": None, "disposed_at": None},
            {"state": "disposed", "declared_value": "200", "disposed_outcome": "destroyed", "disposed_at": T0},
            {"state": "disposed", "declared_value": "0", "disposed_outcome": "returned",
             "disposed_at": AS_OF + dt.timedelta(hours=1)}]            # after the period: still kept at as_of
    plans = [{"state": "done", "environmental_cost": "1800.00"}, {"state": "approved", "environmental_cost": None}]
    assert custody_section(lots, plans, AS_OF) == {
        "ran": True, "lots": 3, "declared_value": "300.50", "in_custody": 2, "disposed": {"destroyed": 1},
        "destruction_plans_done": 1, "destruction_cost": "1800.00"}


def test_appraisal_turnaround_is_per_provider_kind_from_request_to_result() -> None:
    rows = [{"provider_kind": "appraisal_centre", "state": "reported", "requested_at": T0, "closed_at": T0 + dt.timedelta(hours=10)},
            {"provider_kind": "appraisal_centre", "state": "reported", "requested_at": T0, "closed_at": T0 + dt.timedelta(hours=30)},
            {"provider_kind": "appraisal_centre", "state": "accepted", "requested_at": T0, "closed_at": None},
            {"provider_kind": "rights_holder", "state": "refused", "requested_at": T0, "closed_at": T0}]
    assert appraisal_section(rows)["by_provider_kind"] == {
        "appraisal_centre": {"requested": 3, "reported": 2, "refused_or_withdrawn": 0, "open": 1,
                             "median_hours": 20.0, "longest_hours": 30.0},
        "rights_holder": {"requested": 1, "reported": 0, "refused_or_withdrawn": 1, "open": 0,
                          "median_hours": None, "longest_hours": None}}


def test_inspections_count_targets_results_publication_and_violations_that_became_cases() -> None:
    tasks = [{"plan_id": "p1", "state": "published", "result": "no_problem"},
             {"plan_id": "p1", "state": "recorded", "result": "referred_to_case"},
             {"plan_id": "p2", "state": "assigned", "result": None}]
    assert inspection_section(tasks) == {"ran": True, "plans": 2, "targets": 3, "inspected": 2,
                                         "results": {"no_problem": 1, "referred_to_case": 1}, "published": 1,
                                         "became_cases": 1}


def test_satisfaction_gives_the_mean_score_the_share_resolved_and_the_reopenings_per_county_and_bureau() -> None:
    got = satisfaction_section(
        [{"score": 1, "resolved": False, "reopened": True, "county_label": "610402", "assignee": "market_regulation@610402"},
         {"score": 4, "resolved": True, "reopened": False, "county_label": "610402", "assignee": "culture@610400"},
         {"score": 5, "resolved": True, "reopened": False, "county_label": "610404", "assignee": "culture@610400"}],
        [{"report_id": "r1", "content_type": "image/jpeg"}, {"report_id": "r1", "content_type": "image/png"},
         {"report_id": "r2", "content_type": "image/jpeg"}])
    assert {k: got[k] for k in ("answers", "mean_score", "reopened")} == {"answers": 3, "mean_score": 3.33, "reopened": 1}
    assert got["by_county"] == {
        "610402": {"answers": 2, "mean_score": 2.5, "resolved_share": 0.5, "reopened": 1},
        "610404": {"answers": 1, "mean_score": 5, "resolved_share": 1.0, "reopened": 0}}
    assert got["by_bureau"]["culture@610400"] == {"answers": 2, "mean_score": 4.5, "resolved_share": 1.0, "reopened": 0}
    assert (got["attachments"], got["reports_with_attachments"]) == (3, 2)
    empty = satisfaction_section([])
    assert empty["mean_score"] is None and empty["by_county"] == {} and empty["attachments"] == 0


def test_the_report_shows_the_four_sections_and_says_which_did_not_run() -> None:
    f = report.Figures(run_id="r1", day="2026-11-11", generated_at=T0.isoformat(), as_of=AS_OF.isoformat())
    f.sections = {"custody": custody_section([], [{"state": "done", "environmental_cost": "5"}], AS_OF),
                  "appraisal": sections.NOT_RUN,
                  "inspections": inspection_section([{"plan_id": "p1", "state": "recorded", "result": "referred_to_case"}]),
                  "satisfaction": satisfaction_section([{"score": 2, "resolved": False, "reopened": True,
                                                         "county_label": "610402", "assignee": "market_regulation@610402"}])}
    page = report.render(f)
    for title in ("公物仓", "快速鉴定", "双随机、一公开", "回访满意度"):
        assert title in page
    assert "appraisal did not run in this simulation" in page
    assert re.search(r"violations that became a case</td><td>1<", page)
    assert re.search(r"mean score \(1–5\)</td><td>2<", page)
    assert "秦都区市场监督管理局" in page and "秦都区 <span class=note>610402" in page, "per county and bureau, by name"
    assert f.to_json()["sections"]["custody"]["destruction_cost"] == "5"
