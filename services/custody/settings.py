"""Custody's settings (env prefix ``SHUANGDA_CUSTODY_``, then ``SHUANGDA_``). What every service
has is in `shared.config.ServiceSettings`; only custody's own fields are here."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings
from shared.topics import CASE_ROUTING, CUSTODY, REFERRAL


class CustodySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHUANGDA_CUSTODY_", extra="ignore")

    http_port: int = 8006
    schema: str = "custody"
    custody_topic: str = CUSTODY.name
    #: routing's referral steps: the police opening a case starts the goods' hand-over deadline
    referral_topic: str = REFERRAL.name
    #: routing's case events (and their priority lane): which bureau each case is assigned to
    case_routing_topic: str = CASE_ROUTING.name
    consumer_group: str = "custody"
    #: custody's own periods (local policy), in the shared deadlines format; default: the packaged file
    deadline_rules_file: str | None = None
    #: the storage rates per lot and day (local policy); default: the packaged rules/storage_costs.yaml
    storage_cost_file: str | None = None
    #: how often the deadline watch looks, and how long before a deadline "approaching" is raised
    deadline_watch_seconds: float = Field(default=5.0, gt=0)
    deadline_warn_hours: float = Field(default=24, ge=0)
    #: lots' photos and documents, the destruction records' photos (shared/blobstore.py): where the
    #: local store keeps them (default: <state dir>/custody-files; SHUANGDA_BLOB_STORE=s3 for S3), the
    #: size of one file and how many one lot or plan has
    files_dir: Path | None = None
    file_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    file_max_count: int = Field(default=20, ge=1, le=200)

    def files_root(self) -> Path:
        return self.files_dir or self.state_dir / "custody-files"
