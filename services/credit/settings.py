"""Credit's settings (env prefix ``SHUANGDA_CREDIT_``, then ``SHUANGDA_``). What every service
has (schema, pool size, identity cache, body limit, Idempotency-Key TTL …) is in
`shared.config.ServiceSettings`; only credit's own fields are here."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings, require_secret
from shared.topics import CREDIT, INSPECTION, PENALTY, REFERRAL

#: Bureau back ends' ingress topics: ``ingress.<bureau type>-<division code>`` names the bureau
#: (``ingress.market_regulation-610402`` is ``market_regulation@610402``), as routing reads them.
DEFAULT_INGRESS_PATTERN = r"ingress\.[a-z][a-z0-9_]*-[0-9]{6}"
_DEV_HASH_KEY = "dev-only credit person-lookup key"


class CreditSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHUANGDA_CREDIT_", extra="ignore")

    http_port: int = 8004
    schema: str = "credit"
    consumer_group: str = "credit"
    #: bureau ingress topics (a regex matched in full); other event types on them are routing's and ignored here
    ingress_pattern: str = DEFAULT_INGRESS_PATTERN
    referral_topic: str = REFERRAL.name
    penalty_topic: str = PENALTY.name
    #: inspection's published results (双随机、一公开) go into the disclosure feed (kind=inspection)
    inspection_topic: str = INSPECTION.name
    credit_topic: str = CREDIT.name
    #: publish records in the disclosure feed as soon as they are recorded; when false the
    #: deciding bureau publishes each one (POST /v1/records/{id}:disclose)
    auto_disclose: bool = True
    scheduler_interval_seconds: float = Field(default=2.0, gt=0)
    scheduler_batch: int = Field(default=500, ge=1, le=10_000)
    #: how long a 以罚代刑 alert waits before it is sent, so that a referral step of the same case still on its
    #: way (another topic) withdraws it; local policy, not a legal figure (issue 14 §7)
    substitution_grace_seconds: float = Field(default=300.0, ge=0)
    gauges_interval_seconds: float = Field(default=15.0, gt=0)
    index_refresh_seconds: float = Field(default=5.0, gt=0)
    check_max_codes: int = Field(default=1000, ge=1, le=10_000)
    #: the largest registry upload (PUT /v1/registry/entities: 5,000 registrations are about 1.2 MiB)
    registry_max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024)
    #: a copy of services/credit/rules/ (same file names) to use instead of the packaged rules
    rules_dir: Path | None = None
    #: AES-GCM keys for persons' identity data, ``kid:base64key,…`` (first = current); falls back to
    #: ``SHUANGDA_PII_KEYS``; a development key in dev mode only
    pii_keys: SecretStr | None = None
    #: HMAC key to find a person again by resident ID without keeping the number in clear
    person_hash_key: SecretStr | None = None

    @model_validator(mode="after")
    def _hash_key(self) -> "CreditSettings":
        self.person_hash_key = require_secret(self.person_hash_key, "SHUANGDA_CREDIT_PERSON_HASH_KEY", self.dev, _DEV_HASH_KEY)
        return self
