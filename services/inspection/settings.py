"""Inspection's settings (env prefix ``SHUANGDA_INSPECTION_``, then ``SHUANGDA_``). What every
service has is in `shared.config.ServiceSettings`; only inspection's own fields are here."""
from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings
from shared.topics import CREDIT, INSPECTION


class InspectionSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHUANGDA_INSPECTION_", extra="ignore")

    http_port: int = 8008
    schema: str = "inspection"
    inspection_topic: str = INSPECTION.name
    consumer_group: str = "inspection"
    #: credit's topic: the registry's `entity-registered` events, inspection's copy of the registry
    credit_topic: str = CREDIT.name
    #: a violation found becomes a lead on inspection's own ingress topic, which intake consumes
    #: (the identity store needs the principal ``inspection`` with ``leads:write``, e.g. kind platform)
    lead_topic: str = "ingress.inspection"
    #: the largest pool upload (an enterprise pool of 20,000 entries is about 6 MiB)
    pool_max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024)
    deadline_rules_file: str | None = None
    deadline_watch_seconds: float = Field(default=5.0, gt=0)
    deadline_warn_hours: float = Field(default=24, ge=0)
