"""The generated migrations of custody, appraisal and inspection are what the shared modules
generate: the hash-chained audit table (shared.audit) and the watched deadlines table
(shared.deadline_watch) — a copy edited by hand would drift from the code that uses it."""
from __future__ import annotations

from pathlib import Path

import pytest

from shared import audit, deadline_watch

SERVICES = Path(__file__).resolve().parents[2] / "services"


@pytest.mark.parametrize("service", ["appraisal", "inspection"])
def test_the_audit_migration_is_the_generated_audit_table(service: str) -> None:
    assert (SERVICES / service / "migrations" / "0002_audit.sql").read_text(encoding="utf-8") == audit.migration_sql()


@pytest.mark.parametrize("service", ["custody", "appraisal", "inspection"])
def test_the_deadlines_migration_is_the_watched_deadlines_table(service: str) -> None:
    text = (SERVICES / service / "migrations" / "0003_deadlines.sql").read_text(encoding="utf-8")
    assert text.startswith(deadline_watch.MIGRATION_SQL)
