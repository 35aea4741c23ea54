"""The evidential-weight rule (services/appraisal/domain/weights.py, rules/evidential_weight.yaml):
versioned, unverified data; the centre's opinion counts toward the thresholds, a rights holder's
identification alone does not; a file that leaves a weight out is refused at load."""
from __future__ import annotations

import datetime as dt

import pytest

from services.appraisal.app.appraisals import WEIGHT_FILE, load_weights
from services.appraisal.domain import weights


def test_the_packaged_rule_counts_the_centres_opinion_and_not_a_rights_holders_identification_alone() -> None:
    rule = load_weights(WEIGHT_FILE).in_force(dt.date(2026, 12, 8))
    assert rule.counts("appraisal_opinion") and not rule.counts("rights_holder_identification")
    ref = rule.ref("rights_holder_identification")
    assert ref["verified"] is False and ref["version"] == "local-2026" and ref["citation"]
    assert ref["counts_toward_thresholds"] is False


def test_the_version_in_force_on_the_day_applies_and_none_before_the_first() -> None:
    doc = {"versions": [
        {"version": "a", "effective_from": dt.date(2026, 1, 1), "citation": "x", "verified": False,
         "weights": {"appraisal_opinion": {"counts_toward_thresholds": True},
                     "rights_holder_identification": {"counts_toward_thresholds": False}}},
        {"version": "b", "effective_from": "2027-01-01", "citation": "y", "verified": False,
         "weights": {"appraisal_opinion": {"counts_toward_thresholds": True},
                     "rights_holder_identification": {"counts_toward_thresholds": True}}}]}
    table = weights.parse(doc)
    assert table.in_force(dt.date(2026, 6, 1)).version == "a"
    assert table.in_force(dt.date(2027, 1, 1)).counts("rights_holder_identification")
    with pytest.raises(LookupError):
        table.in_force(dt.date(2025, 12, 31))


def test_a_rule_file_that_leaves_a_weight_out_is_refused() -> None:
    with pytest.raises(ValueError, match="exactly"):
        weights.parse({"versions": [{"version": "a", "effective_from": "2026-01-01", "citation": "x", "verified": False,
                                     "weights": {"appraisal_opinion": {"counts_toward_thresholds": True}}}]})
