"""The local Postgres' settings file: the buffer cache is sized for the name search, and an operator can
change it without editing code."""
from __future__ import annotations

import pytest

from deploy.launcher.errors import LauncherError
from deploy.launcher.postgres import Postgres


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHUANGDA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("SHUANGDA_PG_SHARED_BUFFERS", raising=False)


def _setting(conf: str, name: str) -> str:
    return next(line.split("=", 1)[1].strip() for line in conf.splitlines() if line.startswith(f"{name} ="))


def test_the_local_cluster_keeps_256mb_of_buffers_by_default() -> None:
    assert _setting(Postgres().render_conf(), "shared_buffers") == "256MB"


def test_an_operator_sizes_the_buffers_with_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHUANGDA_PG_SHARED_BUFFERS", "1GB")
    assert _setting(Postgres().render_conf(), "shared_buffers") == "1GB"


@pytest.mark.parametrize("value", ["256", "lots", "0MB", "256MB; fsync = off"])
def test_a_size_postgres_would_not_read_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SHUANGDA_PG_SHARED_BUFFERS", value)
    with pytest.raises(LauncherError, match="SHUANGDA_PG_SHARED_BUFFERS"):
        Postgres().render_conf()
