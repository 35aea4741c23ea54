"""The hash-chained audit log's pure parts (the database behaviour is tested in
tests/integration/test_credit_pipeline.py)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from shared import audit

AT = dt.datetime(2024, 5, 1, 8, 30, 0, 123456, tzinfo=dt.timezone.utc)


def test_the_canonical_form_sorts_keys_and_keeps_decimals_and_dates_exact() -> None:
    text = audit.canonical_json({"b": Decimal("50000.10"), "a": dt.date(2024, 5, 1), "c": ["甲", 1]})
    assert text == '{"a":"2024-05-01","b":"50000.10","c":["甲",1]}'


def test_a_row_hash_depends_on_every_field_and_on_the_row_before() -> None:
    base = audit.row_hash(audit.GENESIS, 1, AT, "credit.blacklisted", "91110000600037341L", "bureau", "{}")
    assert base == audit.row_hash(audit.GENESIS, 1, AT, "credit.blacklisted", "91110000600037341L", "bureau", "{}")
    variants = [
        audit.row_hash("1" * 64, 1, AT, "credit.blacklisted", "91110000600037341L", "bureau", "{}"),
        audit.row_hash(audit.GENESIS, 2, AT, "credit.blacklisted", "91110000600037341L", "bureau", "{}"),
        audit.row_hash(audit.GENESIS, 1, AT + dt.timedelta(microseconds=1), "credit.blacklisted", "91110000600037341L", "bureau", "{}"),
        audit.row_hash(audit.GENESIS, 1, AT, "credit.delisted", "91110000600037341L", "bureau", "{}"),
        audit.row_hash(audit.GENESIS, 1, AT, "credit.blacklisted", "91350100M000100Y43", "bureau", "{}"),
        audit.row_hash(audit.GENESIS, 1, AT, "credit.blacklisted", "91110000600037341L", "office", "{}"),
        audit.row_hash(audit.GENESIS, 1, AT, "credit.blacklisted", "91110000600037341L", "bureau", '{"a":1}'),
    ]
    assert base not in variants and len(set(variants)) == len(variants)


def test_the_same_instant_in_another_zone_hashes_the_same() -> None:
    shanghai = AT.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert audit.row_hash(audit.GENESIS, 1, AT, "k", "s", "", "{}") == audit.row_hash(audit.GENESIS, 1, shanghai, "k", "s", "", "{}")


@pytest.mark.parametrize("service", ["credit", "custody"])
def test_each_services_audit_migration_is_the_generated_audit_table(service: str) -> None:
    migration = Path(__file__).resolve().parents[2] / "services" / service / "migrations" / "0002_audit.sql"
    assert migration.read_text(encoding="utf-8") == audit.migration_sql()


def test_the_audit_table_refuses_updates_deletes_and_truncation() -> None:
    sql = audit.migration_sql("decisions_audit")
    assert "BEFORE UPDATE OR DELETE ON decisions_audit" in sql
    assert "BEFORE TRUNCATE ON decisions_audit" in sql
