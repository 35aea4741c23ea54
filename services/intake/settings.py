"""Intake's settings (env prefix ``SHUANGDA_INTAKE_``, then ``SHUANGDA_``)."""
from __future__ import annotations

import warnings

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings
from shared.db import check_schema
from shared.pii import PiiError, keyring_from_config
from shared.topics import CASE_INTAKE

#: Every ingress topic: ``ingress.<client>``; client ids contain no dot, so ``.dlq`` twins never match.
DEFAULT_INGRESS_PATTERN = r"ingress\.[a-z0-9][a-z0-9_-]{1,62}"

with warnings.catch_warnings():
    # the field is called `schema` like the other services' settings; it shadows
    # pydantic's deprecated `BaseModel.schema()` classmethod, which nothing here uses
    warnings.filterwarnings("ignore", message='Field name "schema"', category=UserWarning)

    class IntakeSettings(ServiceSettings):
        # hide_input_in_errors: a bad setting is reported without echoing it (keys, DSN passwords)
        model_config = SettingsConfigDict(env_prefix="SHUANGDA_INTAKE_", extra="ignore", hide_input_in_errors=True)

        http_port: int = 8001
        #: Postgres schema of this service (tests use a unique one)
        schema: str = "intake"
        #: AES-GCM keys for complainants' personal data: ``kid1:base64key,kid0:base64key`` (first = current);
        #: falls back to ``SHUANGDA_PII_KEYS``; a development key is used in dev mode only
        pii_keys: SecretStr | None = Field(default=None, validate_default=True)
        #: a report joins an open case about the same suspect and category opened at most this long ago
        merge_window_days: float = Field(default=30, gt=0, le=3650)
        #: most leads in one ``POST /v1/leads:batch``
        batch_max_items: int = Field(default=1000, ge=1, le=10_000)
        #: request body limits (bytes): single commands, and lead batches
        max_command_bytes: int = Field(default=64 * 1024, ge=1024)
        max_batch_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
        #: topics consumed for outside complaints and leads (a regex, matched in full)
        ingress_pattern: str = DEFAULT_INGRESS_PATTERN
        consumer_group: str = "intake"
        #: where case.opened / case.merged go (tests and benchmarks use their own)
        case_topic: str = CASE_INTAKE.name
        #: how long an Idempotency-Key is remembered
        idempotency_ttl_hours: float = Field(default=24, gt=0)
        #: how long an API key lookup is cached (revocation takes effect within this)
        client_cache_seconds: float = Field(default=5.0, ge=0)
        pool_max_size: int = Field(default=10, ge=2, le=100)
        #: apply migrations and create the case topic at start (idempotent)
        migrate_on_start: bool = True

        @field_validator("schema")
        @classmethod
        def _schema_name(cls, v: str) -> str:
            return check_schema(v)

        @field_validator("pii_keys", mode="after")
        @classmethod
        def _pii_keys_usable(cls, v: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
            """Fail at start with a clear message (and never echo the keys) rather than at the first complaint."""
            try:
                keyring_from_config(v.get_secret_value() if v is not None else None, dev=bool(info.data.get("dev")))
            except PiiError as exc:
                raise ValueError(str(exc)) from None
            return v
