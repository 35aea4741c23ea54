"""The deadline a service other than routing watches (custody, appraisal, inspection), as carried
by their ``*.deadline-approaching`` and ``*.deadline-breached`` events (`shared.deadline_watch`).

`local_policy` is true when no legal text gives the period: the figure is the city's own, to be
confirmed by the office, and says so wherever it is shown."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from shared.watched_deadline import WatchedDeadline


class ServiceDeadline(BaseModel):
    model_config = ConfigDict(frozen=True)
    deadline_id: str
    kind: str = Field(description="what must happen by then, e.g. police_handover, appraisal_result")
    party: str = Field(description="who must act by then")
    starts_at: datetime
    due_at: datetime = Field(description="last instant of the period, UTC")
    due_date_local: date = Field(description="the due day in Asia/Shanghai")
    provisional: bool = False
    rule_id: str
    rule_version: str
    citation: str = Field(description="the legal source, or 'local policy: …' when no legal text gives the period")
    local_policy: bool

    @classmethod
    def of(cls, d: "WatchedDeadline") -> "ServiceDeadline":
        from shared.workdays import SHANGHAI

        return cls(deadline_id=d.deadline_id, kind=d.kind, party=d.party, starts_at=d.starts_at, due_at=d.due_at,
                   due_date_local=d.due_at.astimezone(SHANGHAI).date(), provisional=d.provisional, rule_id=d.rule_id,
                   rule_version=d.rule_version, citation=d.citation, local_policy=d.local_policy)
