"""Notify's settings (env prefix ``SHUANGDA_NOTIFY_``, then ``SHUANGDA_``).

List values are JSON in the environment, e.g.
``SHUANGDA_NOTIFY_RETRY_SCHEDULE='[0, 0.5, 1, 2]'``.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings
from shared.topics import ALERT, CASE_INTAKE, CASE_ROUTING, CREDIT, NOTIFICATION, REFERRAL

PACKAGED_DIRECTORY = Path(__file__).resolve().parent / "directory" / "directory.yaml"
#: dev mode only: where `shuangda notify sink` listens for SMS when no gateway is configured
DEV_SMS_GATEWAY_URL = "http://127.0.0.1:8090/sms"

#: delay before attempt 1, 2, … (seconds): immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
DEFAULT_RETRY_SCHEDULE = [0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0]


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHUANGDA_NOTIFY_", extra="ignore")

    http_port: int = 8003
    schema: str = "notify"
    consumer_group: str = "notify"
    # -- topics consumed and produced (tests and benchmarks use their own) --
    intake_topic: str = CASE_INTAKE.name
    routing_topic: str = CASE_ROUTING.name
    referral_topic: str = REFERRAL.name
    alert_topic: str = ALERT.name
    credit_topic: str = CREDIT.name
    notification_topic: str = NOTIFICATION.name
    # -- the recipient directory --
    #: an operator's directory file replacing the packaged services/notify/directory/directory.yaml
    directory_path: Path | None = None
    #: how often the directory file's mtime is checked (it is also re-read on SIGHUP)
    directory_check_seconds: float = Field(default=5.0, gt=0)
    #: dev mode only accepts loopback targets unless this is set (keeps a dev stack from mailing the world)
    allow_external_targets: bool = False
    # -- delivery --
    #: delay before each attempt (the first is normally 0); after the last failed attempt the delivery fails
    retry_schedule: list[float] = Field(default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE), min_length=1)
    #: each delay is multiplied by a random factor in [1 - jitter, 1 + jitter]
    retry_jitter: float = Field(default=0.2, ge=0, lt=1)
    #: longest Retry-After honoured (a longer one is clamped to this)
    max_retry_after_seconds: float = Field(default=6 * 3600, gt=0)
    webhook_timeout_seconds: float = Field(default=15.0, gt=0)
    #: concurrent requests per endpoint unless the directory says otherwise
    endpoint_concurrency: int = Field(default=4, ge=1, le=100)
    #: concurrent sends across every endpoint
    max_in_flight: int = Field(default=400, ge=1, le=10_000)
    #: of those, sends bulk (leads, broadcasts, digests) never takes: kept for complaints' and critical notices
    priority_reserve: int = Field(default=40, ge=0, le=10_000)
    #: outcomes sent but not yet recorded (batched); past this the dispatcher stops claiming
    max_unrecorded: int = Field(default=2000, ge=1, le=100_000)
    claim_batch_size: int = Field(default=200, ge=1, le=5_000)
    #: safety-net poll of the dispatcher (it is woken by NOTIFY on new deliveries)
    dispatch_poll_seconds: float = Field(default=0.5, gt=0)
    #: a claimed delivery not finished within this is taken back by the sweep (must exceed the timeouts)
    lease_seconds: float = Field(default=60.0, gt=0)
    sweep_interval_seconds: float = Field(default=5.0, gt=0)
    #: consecutive failures that open an endpoint's circuit, and how long it stays open (doubling to the max)
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_open_seconds: float = Field(default=30.0, gt=0)
    breaker_max_open_seconds: float = Field(default=300.0, gt=0)
    #: how often due digests are assembled
    digest_check_seconds: float = Field(default=5.0, gt=0)
    #: delivered and failed rows older than this are pruned (0: keep)
    keep_finished_days: float = Field(default=30.0, ge=0)
    # -- email (SMTP) --
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_timeout_seconds: float = Field(default=15.0, gt=0)
    smtp_from: str = "双打办通知 <notify@shuangda.invalid>"
    # -- SMS gateway (generic HTTP adapter) --
    sms_gateway_url: str | None = None
    sms_api_key: SecretStr | None = None
    sms_timeout_seconds: float = Field(default=15.0, gt=0)
    #: the console's address as the public reaches it (``https://shuangda.example.gov.cn``): complainants' SMS
    #: carry its status-lookup link and the closing SMS its survey link (the tracking number only, never the
    #: phone digits); unset, the texts name the website without a link (the launcher sets the local console)
    console_public_url: str | None = None
    #: AES-GCM keys to open complainants' phone numbers (same spec as intake's; falls back to SHUANGDA_PII_KEYS)
    pii_keys: SecretStr | None = None

    @field_validator("retry_schedule")
    @classmethod
    def _non_negative(cls, v: list[float]) -> list[float]:
        if any(d < 0 for d in v):
            raise ValueError("retry_schedule: delays are seconds >= 0")
        return v

    @field_validator("console_public_url")
    @classmethod
    def _public_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        parts = urlsplit(v.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("console_public_url: an http(s) address with a host")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("console_public_url: no query, fragment or credentials (it is printed in SMS texts)")
        return v.strip().rstrip("/")

    @model_validator(mode="after")
    def _lease_outlives_a_send(self) -> "NotifySettings":
        longest = max(self.webhook_timeout_seconds, self.smtp_timeout_seconds, self.sms_timeout_seconds)
        if self.lease_seconds <= longest:
            raise ValueError(f"lease_seconds: must exceed the longest send timeout ({longest:g} s)")
        if self.priority_reserve >= self.max_in_flight:
            raise ValueError(f"priority_reserve: must be below max_in_flight ({self.max_in_flight}), or bulk never goes")
        if not self.dev and (self.sms_gateway_url is None) != (self.sms_api_key is None):
            raise ValueError("sms_gateway_url and sms_api_key: set both or neither")
        if self.dev and self.sms_gateway_url is None:
            self.sms_gateway_url = DEV_SMS_GATEWAY_URL
        return self

    @property
    def directory_file(self) -> Path:
        return self.directory_path or PACKAGED_DIRECTORY
