from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from shared.clock import AcceleratedClock, ManualClock, WallClock, clock_from_spec
from shared.config import ServiceSettings


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHUANGDA_DEMO_", extra="ignore")


def test_a_service_prefix_overrides_the_project_wide_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHUANGDA_DEV", "true")
    monkeypatch.setenv("SHUANGDA_KAFKA_BOOTSTRAP", "global:9092")
    monkeypatch.setenv("SHUANGDA_DEMO_KAFKA_BOOTSTRAP", "mine:9092")
    monkeypatch.setenv("SHUANGDA_HTTP_PORT", "9999")
    s = DemoSettings()
    assert s.kafka_bootstrap == "mine:9092"
    assert s.http_port == 9999


def test_outside_dev_mode_the_database_dsn_has_no_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHUANGDA_PG_DSN", raising=False)
    monkeypatch.setenv("SHUANGDA_DEV", "false")
    with pytest.raises(ValidationError, match="pg_dsn"):
        DemoSettings()


def test_fault_injection_and_fast_clocks_are_refused_outside_dev_mode() -> None:
    with pytest.raises(ValidationError, match="crash_at"):
        DemoSettings(dev=False, pg_dsn="postgresql://x", crash_at="consumer.after_db_commit")
    with pytest.raises(ValidationError, match="clock"):
        DemoSettings(dev=False, pg_dsn="postgresql://x", clock="accelerated:2026-01-01T00:00:00Z:60")


def test_the_dsn_secret_is_masked_when_settings_are_printed() -> None:
    s = DemoSettings(dev=False, pg_dsn="postgresql://u:secret@h/db")
    assert "secret" not in repr(s)
    assert s.dsn.endswith("@h/db")


def test_an_accelerated_clock_starts_at_its_instant_and_runs_faster() -> None:
    start = datetime(2026, 11, 11, tzinfo=timezone.utc)
    clock = clock_from_spec("accelerated:2026-11-11T00:00:00Z:3600", dev=True)
    assert isinstance(clock, AcceleratedClock)
    assert start <= clock.now() < start + timedelta(hours=1)


def test_clock_specs_are_validated() -> None:
    assert isinstance(clock_from_spec(None, dev=False), WallClock)
    with pytest.raises(ValueError, match="dev mode"):
        clock_from_spec("accelerated:2026-11-11T00:00:00Z:60", dev=False)
    with pytest.raises(ValueError, match="expected"):
        clock_from_spec("accelerated:yesterday:fast", dev=True)


def test_a_manual_clock_moves_when_told() -> None:
    clock = ManualClock(at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    clock.advance(timedelta(days=31))
    assert clock.now() == datetime(2026, 2, 1, tzinfo=timezone.utc)
