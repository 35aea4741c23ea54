"""Routing's settings (env prefix ``SHUANGDA_ROUTING_``, then ``SHUANGDA_``).

Only what is routing's own is here; the schema, pool size, identity cache, body limit,
idempotency TTL and Kafka connection come from `shared.config.ServiceSettings`."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings
from shared.topics import ALERT, APPRAISAL, CASE_INTAKE, CASE_ROUTING, REFERRAL, TopicSpec, with_lanes

RULES_FILE = Path(__file__).resolve().parent / "rules" / "routing.yaml"


class RoutingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHUANGDA_ROUTING_", extra="ignore")

    http_port: int = 8002
    schema: str = "routing"
    consumer_group: str = "routing"
    #: the routing rules file (default: the packaged services/routing/rules/routing.yaml)
    rules_path: Path = RULES_FILE
    #: a bureau directory file replacing the packaged one (a reorganisation as configuration)
    bureau_directory_path: Path | None = None
    #: extra holiday data directories (highest precedence), besides $SHUANGDA_HOLIDAYS_DIR
    holidays_dirs: list[Path] = Field(default_factory=list)
    # -- topics (tests and benchmarks use their own) --
    intake_topic: str = CASE_INTAKE.name
    routing_topic: str = CASE_ROUTING.name
    referral_topic: str = REFERRAL.name
    alert_topic: str = ALERT.name
    #: appraisal's results, whose figures routing takes into the case (issue 15 §2)
    appraisal_topic: str = APPRAISAL.name
    #: bureau commands arrive on <prefix><bureau_type>-<jurisdiction> (e.g. ingress.market_regulation-610402)
    ingress_prefix: str = "ingress."
    #: prepended to every egress.<bureau> topic name (tests isolate themselves with it)
    egress_prefix: str = ""
    # -- deadline watch --
    watch_interval_seconds: float = Field(default=5.0, gt=0)
    watch_batch_size: int = Field(default=200, ge=1, le=10_000)
    #: how often provisional deadlines are recomputed against the holiday data (0: never, CLI only)
    recheck_interval_seconds: float = Field(default=3600.0, ge=0)
    #: how often the open-cases and calendar gauges are refreshed
    gauges_interval_seconds: float = Field(default=15.0, gt=0)
    # -- HTTP --
    list_limit_max: int = Field(default=500, ge=1, le=10_000)
    # -- early warning (faust) --
    #: run the faust early-warning worker inside this process (false: run python -m services.routing.warnings)
    #: faust app id below starts with "routing" so the production ACLs (group and topic prefixes) cover it
    warnings_embedded: bool = True
    #: faust app id: its consumer group and the prefix of its changelog/repartition topics
    warnings_app_id: str = "routing-warnings"
    #: HTTP port of the standalone worker (/metrics, /healthz, /readyz)
    warnings_http_port: int = 8012
    warnings_offset_reset: Literal["earliest", "latest"] = "earliest"
    warnings_partitions: int = Field(default=3, ge=1, le=64)

    def internal_topics(self) -> list[TopicSpec]:
        """The internal topics routing reads and writes, under their configured names; the two case
        topics with their priority lanes (issue 11 §4)."""
        pairs = ((CASE_INTAKE, self.intake_topic), (CASE_ROUTING, self.routing_topic),
                 (REFERRAL, self.referral_topic), (ALERT, self.alert_topic), (APPRAISAL, self.appraisal_topic))
        specs = [TopicSpec(name, spec.key, spec.description, partitions=spec.partitions,
                           retention_ms=spec.retention_ms) for spec, name in pairs]
        return with_lanes(specs[:2]) + specs[2:]

    @property
    def ingress_pattern(self) -> str:
        """Bureau ingress topics: <prefix><bureau_type>-<6 digits> (a regex matched in full)."""
        return re.escape(self.ingress_prefix) + r"(?P<client>[a-z][a-z0-9_]*-[0-9]{6})"


class WarningsSettings(RoutingSettings):
    """The standalone early-warning worker: routing's settings, serving on `warnings_http_port`."""

    @model_validator(mode="after")
    def _serve_on_the_warnings_port(self) -> "WarningsSettings":
        self.http_port = self.warnings_http_port
        return self
