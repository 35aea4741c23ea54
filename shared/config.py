"""Configuration bases shared by every service.

Each service declares one settings class that inherits `ServiceSettings` and sets
its own env prefix (``SHUANGDA_INTAKE_`` …). Values are read from, in order:
explicit arguments, the service's prefix, then the project-wide ``SHUANGDA_``
prefix — so ``SHUANGDA_INTAKE_PG_DSN`` overrides ``SHUANGDA_PG_DSN`` for intake
alone. Secrets have no defaults outside dev mode (``SHUANGDA_DEV=true``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

#: The local launcher's database; only ever used in dev mode.
DEV_PG_DSN = "postgresql://shuangda:shuangda@127.0.0.1:55432/shuangda"


class StackSettings(BaseSettings):
    """Where the shared infrastructure is (``SHUANGDA_`` prefix)."""

    model_config = SettingsConfigDict(env_prefix="SHUANGDA_", extra="ignore")

    dev: bool = False
    kafka_bootstrap: str = "127.0.0.1:9092"
    pg_dsn: SecretStr | None = None
    state_dir: Path = REPO_ROOT / ".shuangda"

    @model_validator(mode="after")
    def _secrets_need_values_outside_dev(self) -> "StackSettings":
        if self.pg_dsn is None:
            if not self.dev:
                raise ValueError("pg_dsn: SHUANGDA_PG_DSN (or the service's own _PG_DSN) is required outside dev mode")
            self.pg_dsn = SecretStr(DEV_PG_DSN)
        return self

    @property
    def dsn(self) -> str:
        assert self.pg_dsn is not None
        return self.pg_dsn.get_secret_value()


class ServiceSettings(StackSettings):
    """Base for one service's settings; subclasses set ``env_prefix``."""

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_level: str = "INFO"
    consumer_batch_size: int = Field(default=500, ge=1, le=10_000)
    consumer_poll_ms: int = Field(default=200, ge=1)
    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    relay_poll_seconds: float = Field(default=1.0, gt=0)
    #: dev-only fault injection, e.g. "consumer.after_db_commit" (see shared.runtime.faults)
    crash_at: str | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        project_wide = EnvSettingsSource(settings_cls, env_prefix="SHUANGDA_")
        return init_settings, env_settings, project_wide, file_secret_settings


def require_secret(value: SecretStr | None, name: str, dev: bool, dev_default: str) -> SecretStr:
    """Return the secret, the dev default in dev mode, or fail naming the variable."""
    if value is not None:
        return value
    if dev:
        return SecretStr(dev_default)
    raise ValueError(f"{name} is required outside dev mode")


def settings_summary(settings: BaseSettings) -> dict[str, Any]:
    """Settings safe to log (secrets shown masked by pydantic)."""
    return {k: (str(v) if isinstance(v, (SecretStr, Path)) else v) for k, v in settings.model_dump().items()}
