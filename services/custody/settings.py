"""Custody's settings (env prefix ``SHUANGDA_CUSTODY_``, then ``SHUANGDA_``). What every service
has is in `shared.config.ServiceSettings`; only custody's own fields are here."""
from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings
from shared.topics import CUSTODY


class CustodySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHUANGDA_CUSTODY_", extra="ignore")

    http_port: int = 8006
    schema: str = "custody"
    custody_topic: str = CUSTODY.name
