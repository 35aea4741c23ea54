"""Intake's settings (env prefix ``SHUANGDA_INTAKE_``, then ``SHUANGDA_``). What every service
has (schema, pool size, identity cache, body limit, Idempotency-Key TTL …) is in
`shared.config.ServiceSettings`; only intake's own fields are here."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings
from shared.pii import PiiError, keyring_from_config
from shared.topics import CASE_INTAKE, CASE_ROUTING

#: Every ingress topic: ``ingress.<client>``; client ids contain no dot, so ``.dlq`` twins never match.
DEFAULT_INGRESS_PATTERN = r"ingress\.[a-z0-9][a-z0-9_-]{1,62}"


class IntakeSettings(ServiceSettings):
    # hide_input_in_errors: a bad setting is reported without echoing it (keys, DSN passwords)
    model_config = SettingsConfigDict(env_prefix="SHUANGDA_INTAKE_", extra="ignore", hide_input_in_errors=True)

    http_port: int = 8001
    schema: str = "intake"
    #: AES-GCM keys for complainants' personal data: ``kid1:base64key,kid0:base64key`` (first = current);
    #: falls back to ``SHUANGDA_PII_KEYS``; a development key is used in dev mode only
    pii_keys: SecretStr | None = Field(default=None, validate_default=True)
    #: a report joins an open case about the same suspect and category opened at most this long ago
    merge_window_days: float = Field(default=30, gt=0, le=3650)
    #: most leads in one ``POST /v1/leads:batch``
    batch_max_items: int = Field(default=1000, ge=1, le=10_000)
    #: the body limit of ``POST /v1/leads:batch`` (bytes); every other route has ``max_body_bytes``
    max_batch_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    #: topics consumed for outside complaints and leads (a regex, matched in full)
    ingress_pattern: str = DEFAULT_INGRESS_PATTERN
    consumer_group: str = "intake"
    #: where case.opened / case.merged go (tests and benchmarks use their own)
    case_topic: str = CASE_INTAKE.name
    #: routing's case topic: intake keeps each case's assignee from its case.assigned, so evidence
    #: files are shown to that bureau (and the office) only
    routing_topic: str = CASE_ROUTING.name
    #: evidence files: bytes per file and files per complaint (issue 15 §4)
    attachment_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    attachment_max_count: int = Field(default=5, ge=1, le=50)
    #: where the local blob store keeps sealed files (default: <state dir>/attachments)
    attachments_dir: Path | None = None
    #: Open311's media_url: fetched into an attachment (shared/guarded_fetch.py); https only unless
    #: allow_http; allowed_hosts (comma separated): when set, only those hosts, which may then be
    #: private addresses — otherwise any host whose every address is public
    media_url_fetch: bool = True
    media_url_allowed_hosts: str = ""
    media_url_allow_http: bool = False
    media_url_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    def attachments_root(self) -> Path:
        return self.attachments_dir or self.state_dir / "attachments"

    @field_validator("pii_keys", mode="after")
    @classmethod
    def _pii_keys_usable(cls, v: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """Fail at start with a clear message (and never echo the keys) rather than at the first complaint."""
        try:
            keyring_from_config(v.get_secret_value() if v is not None else None, dev=bool(info.data.get("dev")))
        except PiiError as exc:
            raise ValueError(str(exc)) from None
        return v
