"""The console's settings (env prefix ``SHUANGDA_CONSOLE_``, then ``SHUANGDA_``).

Only what is the console's own is here; schema, pool, identity, body limit and Kafka come from
`shared.config.ServiceSettings`."""
from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings, require_secret
from shared.topics import CREDIT

DEV_SECRET = "dev-only-console-secret-change-me"


class ConsoleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHUANGDA_CONSOLE_", extra="ignore")

    http_port: int = 8005
    schema: str = "console"
    #: the services the console calls for people (their HTTP APIs; never their schemas)
    routing_url: str = "http://127.0.0.1:8002"
    intake_url: str = "http://127.0.0.1:8001"
    #: credit's public disclosure feed (the office's blacklistings); empty: not shown
    credit_url: str = "http://127.0.0.1:8004"
    #: credit's topic, followed for the 以罚代刑 alerts on the office's overview; empty: not shown
    credit_topic: str = CREDIT.name
    #: notify's operators' API (the ops page's webhook message log); empty: not shown
    notify_url: str = "http://127.0.0.1:8003"
    #: custody's and appraisal's APIs (a case's seized goods and appraisal requests on its page); empty: not shown
    custody_url: str = "http://127.0.0.1:8006"
    appraisal_url: str = "http://127.0.0.1:8007"
    #: inspection's public part (the published random-inspection results and quality commitments); empty: not shown
    inspection_url: str = "http://127.0.0.1:8008"
    #: the PII keys that open a complainant's sealed data for an audited unmasking ("kid:base64key,…",
    #: as intake's; the development key in dev mode; none outside dev mode: unmasking is unavailable)
    pii_keys: SecretStr | None = None
    #: the browser that prints the assessment as PDF (default: chromium on PATH; none found: no PDF)
    chromium_path: str | None = None
    prometheus_url: str = "http://127.0.0.1:9090"
    http_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    #: encrypts the API keys of the accounts' principals at rest in the console's schema
    #: (required outside dev mode; changing it makes the stored keys unreadable: re-create the accounts)
    secret_key: SecretStr | None = None
    #: the session cookie's Secure flag; false only for plain-http local use
    cookie_secure: bool = True
    session_hours: float = Field(default=8.0, gt=0, le=24 * 7)
    # -- sign-in protection --
    #: failed sign-ins in a row before an account is locked
    lockout_failures: int = Field(default=5, ge=1, le=100)
    lockout_minutes: float = Field(default=15.0, gt=0, le=24 * 60)
    #: sign-in attempts per client address: per second, burst
    login_rate_per_second: float = Field(default=0.2, gt=0)
    login_rate_burst: int = Field(default=10, ge=1)
    # -- OpenID Connect (issue 16 §1; none: local accounts only) --
    #: the city's identity provider (its discovery document is <issuer>/.well-known/openid-configuration)
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    #: the client's secret at the provider (client_secret_post); none: a public client (PKCE only)
    oidc_client_secret: SecretStr | None = None
    #: where the provider sends the person back: this console's /login/oidc/callback as the browser sees it
    oidc_redirect_url: str | None = None
    #: the ID token's claim naming the person: matched to an account's --oidc-subject, never provisioned
    oidc_subject_claim: str = Field(default="sub", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    oidc_scopes: str = "openid"
    #: how long a person may take at the provider before the sign-in is started anew
    oidc_flow_minutes: float = Field(default=10.0, gt=0, le=60)
    #: clock skew allowed on the ID token's exp / iat
    oidc_leeway_seconds: int = Field(default=60, ge=0, le=600)
    # -- public status lookup --
    lookup_rate_per_second: float = Field(default=0.1, gt=0)
    lookup_rate_burst: int = Field(default=10, ge=1)
    #: cases per page of a worklist (/cases; routing's GET /v1/worklist pages by keyset)
    worklist_page_size: int = Field(default=100, ge=1, le=500)
    # -- the office --
    #: the overview and an assessment are reused this long (0: every page asks routing; see docs/console.md)
    overview_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    # -- ops --
    #: only dead-letter topics with this prefix are shown (tests isolate themselves with it)
    dlq_topic_prefix: str = ""
    #: the office's bureau id (its accounts' principals act for it)
    office_bureau: str = "office@610400"
    #: the division of the city-level police and procuratorate (role ``police`` / ``procuratorate`` without one)
    city_division: str = "610400"

    @model_validator(mode="after")
    def _secret_outside_dev(self) -> "ConsoleSettings":
        self.secret_key = require_secret(self.secret_key, "SHUANGDA_CONSOLE_SECRET_KEY", self.dev, DEV_SECRET)
        return self

    @model_validator(mode="after")
    def _oidc_complete(self) -> "ConsoleSettings":
        if self.oidc_issuer:
            missing = [name for name in ("oidc_client_id", "oidc_redirect_url") if not getattr(self, name)]
            if missing:
                raise ValueError(f"SHUANGDA_CONSOLE_OIDC_ISSUER needs {', '.join('SHUANGDA_CONSOLE_' + m.upper() for m in missing)}")
            for name in ("oidc_issuer", "oidc_redirect_url"):
                url = getattr(self, name)
                if not url.startswith("https://") and not (self.dev and url.startswith("http://")):
                    raise ValueError(f"SHUANGDA_CONSOLE_{name.upper()} must be https:// (http:// only in dev mode)")
        return self

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    @property
    def secret(self) -> bytes:
        assert self.secret_key is not None
        return self.secret_key.get_secret_value().encode("utf-8")
