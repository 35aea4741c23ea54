"""The demo's live view: a rich dashboard on a terminal, plain periodic lines
otherwise (CI logs, a pipe, ``--plain``)."""
from __future__ import annotations

import sys
import time
from typing import IO

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from shared.workdays import SHANGHAI
from sim.world import Progress

STATES = ("assigned", "accepted", "not_accepted", "closed")


def plain_line(p: Progress) -> str:
    s = p.snapshot
    local = p.sim_now.astimezone(SHANGHAI)
    states = " ".join(f"{k}={s.cases_by_state.get(k, 0)}" for k in STATES)
    refs = sum(s.referrals_by_state.values())
    return (f"[{local:%Y-%m-%d %H:%M} {p.fraction:4.0%} {p.phase}] events/s {p.events_per_second:5.0f} | "
            f"reports {s.reports} cases {s.cases} ({states}) | breaches {s.breaches} | referrals {refs} | "
            f"penalties {s.penalties} | blacklisted {s.blacklisted} | webhooks {p.receiver.webhooks} | "
            f"dlq {s.dead_letters} | wall {p.wall_elapsed:4.0f}s")


def _table(title: str, rows: list[tuple[str, str]]) -> Table:
    t = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 1), expand=True)
    t.add_column(style="dim")
    t.add_column(justify="right", style="bold")
    for k, v in rows:
        t.add_row(k, v)
    return t


def dashboard(p: Progress, title: str) -> Panel:
    s = p.snapshot
    local = p.sim_now.astimezone(SHANGHAI)
    bar = ProgressBar(total=100.0, completed=p.fraction * 100, width=None)
    head = Text.assemble((f"{local:%Y-%m-%d %H:%M} ", "bold cyan"), (f"{p.phase}", "yellow"),
                         f"   {p.fraction:4.0%} of the simulated period   wall {p.wall_elapsed:4.0f} s")
    pipeline = _table("Pipeline", [
        ("events/s (emitted)", f"{p.events_per_second:,.0f}"),
        ("reports registered", f"{s.reports:,}"),
        ("cases", f"{s.cases:,}"),
        *[(f"  {state}", f"{s.cases_by_state.get(state, 0):,}") for state in STATES],
        ("notices delivered", f"{s.deliveries_by_state.get('delivered', 0):,}"),
        ("notices waiting", f"{s.deliveries_by_state.get('pending', 0) + s.deliveries_by_state.get('in_flight', 0):,}"),
        ("dead letters", f"{s.dead_letters:,}"),
    ])
    referrals = sum(s.referrals_by_state.values())
    enforcement = _table("Enforcement", [
        ("deadline breaches", f"{s.breaches:,}"),
        ("criminal referrals", f"{referrals:,}"),
        *[(f"  {state}", f"{n:,}") for state, n in sorted(s.referrals_by_state.items())],
        ("penalties recorded", f"{s.penalties:,}"),
        ("blacklisted entities", f"{s.blacklisted:,}"),
    ])
    st = p.stats
    outside = _table("Simulated world", [
        ("submissions sent", f"{st.submissions:,}"),
        ("  opened / merged", f"{st.outcomes.get('opened', 0):,} / {st.outcomes.get('merged', 0):,}"),
        ("  duplicates", f"{st.outcomes.get('duplicate', 0):,}"),
        ("  rejected (422)", f"{st.outcomes.get('rejected', 0):,}"),
        ("  published on Kafka", f"{st.kafka_published:,}"),
        ("webhooks received", f"{p.receiver.webhooks:,}"),
        ("SMS to complainants", f"{p.receiver.sms:,}"),
        ("bureau commands", f"{sum(st.commands.values()):,}"),
        ("actions scheduled", f"{p.pending_actions:,}"),
    ])
    grid = Table.grid(expand=True, padding=(0, 2))
    grid.add_column(ratio=1)
    grid.add_column(ratio=1)
    grid.add_column(ratio=1)
    grid.add_row(pipeline, enforcement, outside)
    return Panel(Group(head, bar, Text(""), grid), title=title, border_style="blue")


class LiveView:
    """``with LiveView(title) as view: … view.update(progress)``."""

    def __init__(self, title: str, *, plain: bool | None = None, every: float = 10.0, stream: IO[str] | None = None) -> None:
        self.title = title
        self.stream = stream or sys.stdout
        self.console = Console(file=self.stream)
        self.plain = (not self.console.is_terminal) if plain is None else plain
        self.every = every
        self._last_plain: float | None = None  # monotonic time of the last plain line; None: print the first at once
        self._live: Live | None = None
        self._latest: Progress | None = None

    def __enter__(self) -> "LiveView":
        if not self.plain:
            self._live = Live(Text("starting…"), console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def update(self, p: Progress) -> None:
        self._latest = p
        if self._live is not None:
            self._live.update(dashboard(p, self.title))
            return
        now = time.monotonic()
        if self._last_plain is None or now - self._last_plain >= self.every:
            self._last_plain = now
            print(plain_line(p), file=self.stream, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
        elif self._latest is not None:
            print(plain_line(self._latest), file=self.stream, flush=True)
