"""The recipient directory: who is told what, over which channels.

A directory document (YAML in ``services/notify/directory/``, or the
operator's file) lists recipient entries. Each entry matches bureau ids —
exactly (``office@610400``) or by a glob pattern (``market_regulation@*``) —
and gives the channels to reach them, in order of preference (the first is
used, the next ones are fallbacks after a final failure)::

    version: "2025-06-01"
    recipients:
      - match: office@610400
        name: 打击侵权假冒工作领导小组办公室
        webhook: {url: "https://office.example/hooks", secret_env: SHUANGDA_NOTIFY_SECRET_OFFICE}
        email: [duty@office.example]
        channels: [webhook, email]          # default: webhook, email, sms — those configured
        events: ["shuangda.deadline.*", "shuangda.alert.*"]   # subscriptions (globs), default every type
        watch: ["shuangda.referral.transferred.v1"]           # also told when not addressed
        digest_seconds: 0                   # > 0: non-critical notices batched per interval
    complainants:
      channel: sms
      events: [shuangda.case.opened.v1, shuangda.case.acknowledged.v1, shuangda.case.outcome-recorded.v1]

An exact match wins over patterns; among patterns the first in the file wins.
A notice addressed to a bureau goes to the entry matching it if the entry
subscribes to the event type, under the bureau's own id (so one pattern
entry serves many bureaus, one delivery each). Broadcast notices (the
serious-violation list) go to every subscribing entry under the entry's id.

Webhook secrets are never written in the file outside dev mode: ``secret_env``
names the environment variable holding ``whsec_<base64>``. In dev mode an
inline ``secret`` is accepted, and targets must be loopback addresses unless
external targets are explicitly allowed.
"""
from __future__ import annotations

import fnmatch
import functools
import hashlib
import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from shared.webhooks import parse_secret

Channel = Literal["webhook", "email", "sms"]
CHANNEL_ORDER: tuple[Channel, ...] = ("webhook", "email", "sms")

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_PHONE = re.compile(r"^\+?[0-9]{5,20}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class DirectoryError(ValueError):
    """The directory document is invalid; the message names the entry and field."""


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str
    #: the environment variable holding the secret (whsec_<base64>)
    secret_env: str | None = None
    #: inline secret: dev mode only
    secret: SecretStr | None = None
    timeout_seconds: float | None = Field(default=None, gt=0, le=120)
    max_concurrency: int | None = Field(default=None, ge=1, le=100)

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("an http(s) URL with a host")
        if not v.isascii() or any(c.isspace() or not c.isprintable() for c in v):
            # what a request line can carry (adapters.http1 refuses the rest at send time too)
            raise ValueError("an ASCII URL without spaces or control characters (percent-encode the path, "
                             "write the host in punycode)")
        return v

    @field_validator("secret_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not _ENV_NAME.match(v):
            raise ValueError("an environment variable name (A-Z, 0-9, _)")
        return v


class EntryDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str | None = None
    match: str = Field(min_length=1, max_length=200)
    name: str | None = None
    webhook: WebhookConfig | None = None
    email: list[str] = Field(default_factory=list)
    sms: list[str] = Field(default_factory=list)
    channels: list[Channel] | None = None
    events: list[str] = Field(default_factory=lambda: ["*"])
    watch: list[str] = Field(default_factory=list)
    digest_seconds: float = Field(default=0, ge=0, le=7 * 86400)

    @field_validator("email")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        for address in v:
            if not _EMAIL.match(address):
                raise ValueError(f"{address!r} is not an email address")
        return v

    @field_validator("sms")
    @classmethod
    def _phones(cls, v: list[str]) -> list[str]:
        for phone in v:
            if not _PHONE.match(phone):
                raise ValueError("phone numbers are digits with an optional leading +")
        return v

    @model_validator(mode="after")
    def _channels_configured(self) -> "EntryDoc":
        configured = {"webhook": self.webhook is not None, "email": bool(self.email), "sms": bool(self.sms)}
        for ch in self.channels or ():
            if not configured[ch]:
                raise ValueError(f"channels: {ch} is listed but not configured")
        if self.channels is not None and len(set(self.channels)) != len(self.channels):
            raise ValueError("channels: listed twice")
        if not any(configured.values()):
            raise ValueError("no channel configured (webhook, email or sms)")
        return self


class ComplainantsDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    channel: Literal["sms"] = "sms"
    events: list[str] = Field(default_factory=list)


class DirectoryDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str = Field(min_length=1)
    note: str = ""
    recipients: list[EntryDoc] = Field(default_factory=list)
    complainants: ComplainantsDoc | None = None


# -- the validated, resolved directory ---------------------------------------------------------

@dataclass(frozen=True)
class WebhookTarget:
    url: str
    secret: SecretStr
    timeout_seconds: float | None
    max_concurrency: int | None

    @property
    def endpoint(self) -> str:
        return endpoint_key("webhook", self.url)


def endpoint_id(key: str) -> str:
    """An endpoint's id for URLs (``ep_`` + 24 hex of the key's SHA-256): a webhook URL cannot be a path part."""
    return "ep_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def endpoint_key(channel: str, address: str = "") -> str:
    """The unit of isolation (own concurrency limit and circuit breaker): a webhook URL,
    the SMTP relay, the SMS gateway."""
    if channel == "webhook":
        return "webhook " + address
    return "smtp" if channel == "email" else "sms-gateway"


@dataclass(frozen=True)
class Entry:
    id: str
    match: str
    name: str | None
    webhook: WebhookTarget | None
    email: tuple[str, ...]
    sms: tuple[str, ...]
    channels: tuple[Channel, ...]
    events: tuple[str, ...]
    watch: tuple[str, ...]
    digest_seconds: float

    @functools.cached_property
    def is_pattern(self) -> bool:
        return any(c in self.match for c in "*?[")

    def matches(self, bureau: str) -> bool:
        return fnmatch.fnmatchcase(bureau, self.match) if self.is_pattern else bureau == self.match

    def subscribes(self, event_type: str) -> bool:
        return any(fnmatch.fnmatchcase(event_type, p) for p in self.events)

    def watches(self, event_type: str) -> bool:
        return any(fnmatch.fnmatchcase(event_type, p) for p in self.watch)


@dataclass(frozen=True)
class Directory:
    version: str
    entries: tuple[Entry, ...]
    complainant_channel: Literal["sms"] | None
    complainant_events: tuple[str, ...]

    def entry_for(self, bureau: str) -> Entry | None:
        """The entry serving `bureau`: an exact match first, else the first matching pattern."""
        exact = self._exact.get(bureau)
        if exact is not None:
            return exact
        for entry in self._patterns:
            if entry.matches(bureau):
                return entry
        return None

    @functools.cached_property
    def _exact(self) -> dict[str, Entry]:
        """Exact entries by bureau (the first wins, as in a scan): one lookup per delivery, not a scan of
        every entry, at 双11 rates."""
        out: dict[str, Entry] = {}
        for entry in self.entries:
            if not entry.is_pattern:
                out.setdefault(entry.match, entry)
        return out

    @functools.cached_property
    def _patterns(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.is_pattern)

    @functools.cached_property
    def _by_id(self) -> dict[str, Entry]:
        out: dict[str, Entry] = {}
        for entry in self.entries:
            out.setdefault(entry.id, entry)
        return out

    @functools.cached_property
    def watchers(self) -> tuple[Entry, ...]:
        """Entries told of some types even when not addressed."""
        return tuple(e for e in self.entries if e.watch)

    def entry_by_id(self, entry_id: str) -> Entry | None:
        return self._by_id.get(entry_id)

    def recipient_entry(self, recipient: str) -> Entry | None:
        """The entry a recipient id belongs to now: a bureau id, or an entry id (broadcasts, watchers)."""
        return self.entry_by_id(recipient) or self.entry_for(recipient)

    def complainants_subscribe(self, event_type: str) -> bool:
        return self.complainant_channel is not None and any(
            fnmatch.fnmatchcase(event_type, p) for p in self.complainant_events
        )

    def webhook_targets(self) -> dict[str, WebhookTarget]:
        """Every webhook endpoint in the directory, by endpoint key."""
        return self._webhook_targets

    @functools.cached_property
    def _webhook_targets(self) -> dict[str, WebhookTarget]:
        return {e.webhook.endpoint: e.webhook for e in self.entries if e.webhook is not None}

    @functools.cached_property
    def concurrency_caps(self) -> dict[str, int]:
        """Endpoints with their own concurrency limit."""
        return {k: t.max_concurrency for k, t in self._webhook_targets.items() if t.max_concurrency}


def build_directory(
    document: Any,
    *,
    env: Mapping[str, str],
    dev: bool,
    allow_external_targets: bool = False,
) -> Directory:
    """Validate a parsed directory document and resolve its secrets from `env`.

    Raises `DirectoryError` naming the entry and the problem.
    """
    try:
        doc = DirectoryDoc.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise DirectoryError(f"{where or 'directory'}: {first.get('msg')}") from None
    entries: list[Entry] = []
    seen_ids: set[str] = set()
    seen_exact: set[str] = set()
    for index, e in enumerate(doc.recipients):
        entry_id = e.id or e.match
        where = f"recipients[{index}] ({entry_id})"
        if entry_id in seen_ids:
            raise DirectoryError(f"{where}: id {entry_id!r} appears twice")
        seen_ids.add(entry_id)
        entry_is_pattern = any(c in e.match for c in "*?[")
        if not entry_is_pattern:
            if e.match in seen_exact:
                raise DirectoryError(f"{where}: {e.match!r} is matched exactly by two entries")
            seen_exact.add(e.match)
        webhook = None
        if e.webhook is not None:
            webhook = WebhookTarget(
                url=e.webhook.url,
                secret=_resolve_secret(e.webhook, env=env, dev=dev, where=where),
                timeout_seconds=e.webhook.timeout_seconds,
                max_concurrency=e.webhook.max_concurrency,
            )
            if dev and not allow_external_targets and not is_loopback_url(webhook.url):
                raise DirectoryError(
                    f"{where}: webhook.url must be a loopback address in dev mode "
                    "(set SHUANGDA_NOTIFY_ALLOW_EXTERNAL_TARGETS=true to allow others)"
                )
        configured = {"webhook": webhook is not None, "email": bool(e.email), "sms": bool(e.sms)}
        channels = tuple(e.channels) if e.channels is not None else tuple(c for c in CHANNEL_ORDER if configured[c])
        entries.append(Entry(
            id=entry_id, match=e.match, name=e.name, webhook=webhook, email=tuple(e.email), sms=tuple(e.sms),
            channels=channels, events=tuple(e.events), watch=tuple(e.watch), digest_seconds=e.digest_seconds,
        ))
    complainants = doc.complainants
    return Directory(
        version=doc.version,
        entries=tuple(entries),
        complainant_channel=complainants.channel if complainants and complainants.events else None,
        complainant_events=tuple(complainants.events) if complainants else (),
    )


def _resolve_secret(cfg: WebhookConfig, *, env: Mapping[str, str], dev: bool, where: str) -> SecretStr:
    if cfg.secret_env:
        value = env.get(cfg.secret_env)
        if not value:
            if cfg.secret is not None and dev:
                value = cfg.secret.get_secret_value()
            else:
                raise DirectoryError(f"{where}: webhook.secret_env: environment variable {cfg.secret_env} is not set")
    elif cfg.secret is not None:
        if not dev:
            raise DirectoryError(f"{where}: webhook.secret: inline secrets are allowed in dev mode only; use secret_env")
        value = cfg.secret.get_secret_value()
    else:
        raise DirectoryError(f"{where}: webhook: a secret is required (secret_env)")
    try:
        parse_secret(value)
    except ValueError as exc:
        raise DirectoryError(f"{where}: {exc}") from None
    return SecretStr(value)


def routable_event_types(directory: Directory, known_types: Iterable[str]) -> set[str]:
    """The event types (of `known_types`) some entry or the complainants could be told of."""
    out: set[str] = set()
    for etype in known_types:
        if directory.complainants_subscribe(etype) or any(e.subscribes(etype) or e.watches(etype) for e in directory.entries):
            out.add(etype)
    return out
