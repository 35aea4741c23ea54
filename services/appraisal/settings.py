"""Appraisal's settings (env prefix ``SHUANGDA_APPRAISAL_``, then ``SHUANGDA_``). What every service
has is in `shared.config.ServiceSettings`; only appraisal's own fields are here."""
from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings
from shared.topics import APPRAISAL, CASE_ROUTING, CUSTODY


class AppraisalSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHUANGDA_APPRAISAL_", extra="ignore")

    http_port: int = 8007
    schema: str = "appraisal"
    appraisal_topic: str = APPRAISAL.name
    #: custody's events: a provider's receipt of a lot handed over for appraisal is the samples' arrival
    custody_topic: str = CUSTODY.name
    #: routing's case events (and their priority lane): which bureau each case is assigned to
    case_routing_topic: str = CASE_ROUTING.name
    #: prepended to every provider's egress.<provider> topic name (tests isolate themselves with it)
    egress_prefix: str = ""
    consumer_group: str = "appraisal"
    #: appraisal's periods (local policy), in the shared deadlines format; default: the packaged file
    deadline_rules_file: str | None = None
    deadline_watch_seconds: float = Field(default=5.0, gt=0)
    deadline_warn_hours: float = Field(default=24, ge=0)
