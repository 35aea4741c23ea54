"""The ``case_bureaus`` table custody and appraisal each keep (shared/case_bureaus.py) is created by
each service's own migration with the one DDL, so the shared statements fit both schemas."""
from __future__ import annotations

from pathlib import Path

import pytest

from shared import case_bureaus

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("service", ["custody", "appraisal"])
def test_each_services_migration_creates_the_shared_case_bureaus_table(service: str) -> None:
    assert (ROOT / "services" / service / "migrations" / "0004_case_bureaus.sql").read_text(encoding="utf-8") \
        == case_bureaus.DDL


def test_the_routes_read_routings_case_topic_and_its_priority_lane() -> None:
    routes = case_bureaus.routes("case.routing")
    assert [r.topic for r in routes] == ["case.routing", "case.routing.priority"]
    assert all(set(r.bindings) == {"shuangda.case.assigned.v1"} for r in routes)
