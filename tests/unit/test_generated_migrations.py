"""The generated migrations are what the shared modules generate: every service's hash-chained
audit table (shared.audit) and the watched deadlines table of custody, appraisal and inspection
(shared.deadline_watch) — a copy edited by hand would drift from the code that uses it."""
from __future__ import annotations

from pathlib import Path

import pytest

from shared import audit, deadline_watch

SERVICES = Path(__file__).resolve().parents[2] / "services"


AUDIT_MIGRATIONS = ["appraisal/migrations/0002_audit.sql", "console/migrations/0002_audit.sql",
                    "credit/migrations/0002_audit.sql", "custody/migrations/0002_audit.sql",
                    "inspection/migrations/0002_audit.sql", "intake/migrations/0004_audit.sql"]


@pytest.mark.parametrize("path", AUDIT_MIGRATIONS)
def test_the_audit_migration_is_the_generated_audit_table(path: str) -> None:
    assert (SERVICES / path).read_text(encoding="utf-8") == audit.migration_sql()


def test_every_audit_migration_of_the_services_is_checked() -> None:
    found = sorted(str(p.relative_to(SERVICES)) for p in SERVICES.glob("*/migrations/*_audit.sql"))
    assert found == AUDIT_MIGRATIONS


@pytest.mark.parametrize("service", ["custody", "appraisal", "inspection"])
def test_the_deadlines_migration_is_the_watched_deadlines_table(service: str) -> None:
    text = (SERVICES / service / "migrations" / "0003_deadlines.sql").read_text(encoding="utf-8")
    assert text.startswith(deadline_watch.MIGRATION_SQL)
