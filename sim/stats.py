"""Counters of what the simulated outside world did (in memory, for the live view)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class SimStats:
    #: submissions sent, by client
    sent: Counter = field(default_factory=Counter)
    #: intake's answers: opened, merged, duplicate, replayed, rejected, dead-lettered (Kafka: unknown until read back)
    outcomes: Counter = field(default_factory=Counter)
    #: why intake refused a submission (first error's reason)
    rejected: Counter = field(default_factory=Counter)
    resubmitted: int = 0
    kafka_published: int = 0
    #: bureau commands sent, by command and answer ("acknowledge:200", "transfer:409" …)
    commands: Counter = field(default_factory=Counter)
    #: refusal reasons routing or credit answered with
    refusals: Counter = field(default_factory=Counter)
    #: penalties sent to credit: recorded, duplicate, refused
    penalties: Counter = field(default_factory=Counter)
    #: decisions of the simulated bureaus (accept, refuse, transfer, penalty, refer, …)
    decisions: Counter = field(default_factory=Counter)
    #: what the complainants did after filing (sim.reporters): "photo:201", "survey:201", "reopen" …
    reporters: Counter = field(default_factory=Counter)
    #: transport errors after retries
    errors: Counter = field(default_factory=Counter)

    @property
    def submissions(self) -> int:
        return sum(self.sent.values())
