"""Configuration bases shared by every service.

Each service declares one settings class that inherits `ServiceSettings` and sets
its own env prefix (``SHUANGDA_INTAKE_`` …). Values are read from, in order:
explicit arguments, the service's prefix, then the project-wide ``SHUANGDA_``
prefix — so ``SHUANGDA_INTAKE_PG_DSN`` overrides ``SHUANGDA_PG_DSN`` for intake
alone. Secrets have no defaults outside dev mode (``SHUANGDA_DEV=true``).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Sequence

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

if TYPE_CHECKING:
    from shared.kafka import KafkaConnection

REPO_ROOT = Path(__file__).resolve().parent.parent

#: The local launcher's database; only ever used in dev mode.
DEV_PG_DSN = "postgresql://shuangda:shuangda@127.0.0.1:55432/shuangda"


def _local_kafka() -> str:
    """The local launcher's broker, honouring its port override (SHUANGDA_KAFKA_PORT)."""
    return f"127.0.0.1:{os.environ.get('SHUANGDA_KAFKA_PORT') or 9092}"


def _dev_pg_dsn() -> str:
    """The local launcher's database, honouring its port override (SHUANGDA_PG_PORT)."""
    return DEV_PG_DSN.replace(":55432/", f":{os.environ.get('SHUANGDA_PG_PORT') or 55432}/")


class StackSettings(BaseSettings):
    """Where the shared infrastructure is (``SHUANGDA_`` prefix)."""

    # a bad DSN or key must not be echoed back in the validation error
    model_config = SettingsConfigDict(env_prefix="SHUANGDA_", extra="ignore", hide_input_in_errors=True)

    dev: bool = False
    kafka_bootstrap: str = Field(default_factory=_local_kafka)
    pg_dsn: SecretStr | None = None
    state_dir: Path = REPO_ROOT / ".shuangda"
    #: production listeners use SASL/SCRAM with one principal per service (docker-compose.yml)
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    #: TLS protocols: the CA file that signed the brokers' certificates (None: the system's trust store)
    kafka_ssl_cafile: str | None = None
    kafka_ssl_check_hostname: bool = True
    kafka_replication_factor: int = Field(default=1, ge=1, le=5)
    #: the schema of the one identity store (shared.identity); every service reads it, `shuangda keys` writes it
    identity_schema: str = "identity"
    #: the key store of persons' data keys (shared.vault): intake writes it, the openers of personal data read it
    vault_schema: str = "vault"
    #: which instance of its service this process is (SHUANGDA_INSTANCE; the launcher sets 0, 1 … per
    #: instance of ``up --replicas N``); leaders name themselves "<service>/<instance>/<job>" in Postgres
    instance: str = Field(default="0", pattern=r"^[A-Za-z0-9_.-]{1,20}$")

    @model_validator(mode="after")
    def _secrets_need_values_outside_dev(self) -> "StackSettings":
        if self.pg_dsn is None:
            if not self.dev:
                raise ValueError("pg_dsn: SHUANGDA_PG_DSN (or the service's own _PG_DSN) is required outside dev mode")
            self.pg_dsn = SecretStr(_dev_pg_dsn())
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError("kafka_sasl_*: a SASL protocol needs mechanism, username and password")
        return self

    @property
    def kafka(self) -> "KafkaConnection":
        """The one way to reach Kafka (shared.kafka): bootstrap, SASL and TLS settings together."""
        from shared.kafka import KafkaConnection

        return KafkaConnection.from_settings(self)

    def kafka_options(self) -> dict[str, Any]:
        """Security options for an aiokafka client (without the bootstrap); prefer `kafka`."""
        options = self.kafka.options()
        options.pop("bootstrap_servers")
        return options

    @property
    def dsn(self) -> str:
        assert self.pg_dsn is not None
        return self.pg_dsn.get_secret_value()


# Every service's settings have a field called `schema` (and each service sets its default);
# it shadows pydantic's deprecated `BaseModel.schema()` classmethod, which nothing here uses.
warnings.filterwarnings("ignore", message='Field name "schema" ', category=UserWarning)


class ServiceSettings(StackSettings):
    """Base for one service's settings; subclasses set ``env_prefix``, `http_port` and `schema`.

    What every service has lives here once: HTTP address, pool size, batch sizes, the
    identity cache (the bound on how long a revoked key still works), the body limit,
    how long an Idempotency-Key is remembered, fault injection and the clock."""

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    #: which part of the service this process runs (``SHUANGDA_<SERVICE>_ROLE``, shared.runtime.service):
    #: ``all`` (HTTP and every loop); ``api`` (HTTP, so a request never waits behind a consumer batch's
    #: CPU) or ``worker`` (consumers and jobs behind ops routes). ``api``/``worker`` need a service whose
    #: wiring declares the split (``Parts.worker_readiness``); intake does, the others run as ``all``
    role: Literal["all", "api", "worker"] = "all"
    #: serve HTTPS with this PEM certificate chain and key (both or neither; plain HTTP without)
    http_tls_certfile: str | None = None
    http_tls_keyfile: str | None = None
    log_level: str = "INFO"
    #: Postgres schema of this service (each service sets its own default; tests use a unique one)
    schema: str = "public"
    pool_max_size: int = Field(default=10, ge=2, le=100)
    #: how long an API key lookup is cached: a revoked or rotated key stops working within this
    identity_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    #: the largest request body any route takes unless it declares its own limit (413 above it)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=64 * 1024 * 1024)
    #: how long an Idempotency-Key and its first response are remembered
    idempotency_ttl_hours: float = Field(default=24, gt=0, le=24 * 30)
    #: public and sign-in endpoints: requests per second per client address and per credential,
    #: refilled continuously up to the burst (429 with Retry-After beyond; per instance)
    public_rate_per_second: float = Field(default=10.0, gt=0, le=100_000)
    public_rate_burst: int = Field(default=40, ge=1, le=1_000_000)
    #: second-factor checks (tracking number + last 4 phone digits, shared.second_factor): failed checks
    #: allowed per tracking number and per caller address in the sliding window, across every instance
    second_factor_max_failures: int = Field(default=5, ge=1, le=10_000)
    second_factor_address_max_failures: int = Field(default=20, ge=1, le=100_000)
    second_factor_window_seconds: float = Field(default=3600.0, gt=0, le=7 * 24 * 3600)
    #: where files are kept (shared/blobstore.py): ``local`` (a directory under the state dir) or
    #: ``s3`` (any S3-compatible store: endpoint, bucket, region, credentials below)
    blob_store: Literal["local", "s3"] = "local"
    blob_s3_endpoint: str | None = None
    blob_s3_bucket: str | None = None
    blob_s3_region: str = "us-east-1"
    blob_s3_access_key_id: str | None = None
    blob_s3_secret_access_key: SecretStr | None = Field(default=None, repr=False)
    consumer_batch_size: int = Field(default=500, ge=1, le=10_000)
    consumer_poll_ms: int = Field(default=200, ge=1)
    #: how often a consumer refreshes topic metadata, and so how soon a pattern subscription sees
    #: a new topic (a new bureau's ingress topic); each refresh decodes every topic's metadata
    consumer_metadata_max_age_ms: int = Field(default=5_000, ge=500, le=3_600_000)
    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    relay_poll_seconds: float = Field(default=1.0, gt=0)
    #: dev-only fault injection, e.g. "consumer.after_db_commit" (see shared.runtime.faults)
    crash_at: str | None = None
    #: "wall" or (dev only) "accelerated:<ISO start>:<factor>" (see shared.clock)
    clock: str = "wall"

    def public_rate_limits(self, paths: Sequence[str], *, relay: Any = None) -> Any:
        """The :class:`shared.ratelimit.RateLimits` for a service's public `paths` (``create_app(rate_limits=…)``);
        `relay` says which credentials are trusted relays (``shared.identity.http.holds_scope``)."""
        from shared.ratelimit import Rate, RateLimits

        rate = Rate(self.public_rate_per_second, self.public_rate_burst)
        return RateLimits(paths=tuple(paths), per_address=rate, per_key=rate, relay=relay)

    def second_factor_limits(self) -> Any:
        """The :class:`shared.second_factor.Limits` of this service's second-factor checks."""
        from shared.second_factor import Limits

        return Limits(per_tracking_no=self.second_factor_max_failures,
                      per_address=self.second_factor_address_max_failures,
                      window_seconds=self.second_factor_window_seconds)

    @field_validator("schema")
    @classmethod
    def _schema_name(cls, v: str) -> str:
        from shared.db import check_schema

        return check_schema(v)

    @model_validator(mode="after")
    def _dev_only_knobs(self) -> "ServiceSettings":
        if (self.http_tls_certfile is None) != (self.http_tls_keyfile is None):
            raise ValueError("http_tls_certfile, http_tls_keyfile: give both or neither")
        if not self.dev and self.crash_at:
            raise ValueError("crash_at: fault injection is allowed in dev mode only")
        if not self.dev and self.clock != "wall":
            raise ValueError("clock: only the wall clock is allowed outside dev mode")
        return self

    def make_clock(self):  # noqa: ANN201 - returns shared.clock.Clock
        from shared.clock import clock_from_spec

        return clock_from_spec(self.clock, dev=self.dev)

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
