"""Consumed events → deliveries, in the consumer's unit of work, a whole batch at a time.

For each event notify tells anyone about, the use case takes its notice
(worked out at the edge by domain.notices), keeps the complainant an intake
event brings (sealed phone only), plans the deliveries against the directory in
force, renders them, and inserts one row per (event, recipient, channel) — one
multi-row ``INSERT … ON CONFLICT DO NOTHING`` for the batch — or a digest item.
The rows commit with the inbox entries, so a consumed event cannot lose its
notices and a redelivered one adds none. A batch costs the same few round trips
however many records it has. Counters move only after the commit.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

from services.notify.adapters import postgres as repo
from services.notify.domain.directory import Directory
from services.notify.domain.notices import Notice
from services.notify.domain.planning import Complainant, DigestItem, PlannedDelivery, Render, TemplateError, plan
from services.notify.domain.policy import RetryPolicy
from services.notify.metrics import NOTICES
from shared.runtime import UnitOfWork

log = logging.getLogger(__name__)


class DirectorySource(Protocol):
    @property
    def current(self) -> Directory: ...


@dataclass(frozen=True)
class Consumed:
    """One consumed event as this use case sees it: its notice (None: nobody is told of it) and the
    complainant it brings (an intake event's sealed phone), if any."""

    notice: Notice | None
    complainant: Complainant | None = None
    #: a complainant's phone corrected on their request (case id, the complainant as corrected)
    corrected: tuple[str, Complainant] | None = None


class NoticePlanner:
    def __init__(self, *, directory: DirectorySource, render: Render, policy: RetryPolicy) -> None:
        self.directory = directory
        self.render = render
        self.policy = policy

    async def record(self, events: Sequence[Consumed], uow: UnitOfWork) -> dict[int, str]:
        """Every event of a consumer batch in a constant number of round trips: one read of the complainants
        of every case concerned, then one insert each for complainants, deliveries and digest items.
        Returns the events refused (index → why): a notice whose template cannot be rendered writes nothing.

        Events are planned in order; an event's case complainants are those kept before the batch plus those
        the batch's events up to and including it bring (as if each event had committed in turn)."""
        directory = self.directory.current
        corrections = [e.corrected for e in events if e.corrected is not None]
        notices = [(i, e.notice, e.complainant) for i, e in enumerate(events) if e.notice is not None]
        if not notices:
            await repo.correct_complainants(uow.conn, corrections)
            return {}
        conn = uow.conn
        wanted = [n.case_id for _, n, _ in notices if n.case_id and n.complainants == "case"
                  and directory.complainants_subscribe(n.event_type)]
        kept = await repo.complainants_of_cases(conn, wanted)
        refused: dict[int, str] = {}
        saves: list[tuple[str, Complainant, str]] = []
        deliveries: list[PlannedDelivery] = []
        digest_items: list[DigestItem] = []
        silent: list[str] = []
        for i, notice, own in notices:
            brought: list[tuple[str, Complainant, str]] = []
            if own is not None and notice.case_id:
                brought.append((notice.case_id, own, notice.event_id))
            complainants: list[Complainant] = []
            if notice.complainants != "none" and directory.complainants_subscribe(notice.event_type):
                if notice.complainants == "event":
                    complainants = [own] if own is not None else []
                elif notice.case_id:
                    complainants = _distinct([*kept.get(notice.case_id, ()),
                                              *(c for case_id, c, _ in [*saves, *brought] if case_id == notice.case_id)])
            try:
                planned = plan(notice, directory, self.render, complainants)
            except TemplateError as exc:
                refused[i] = str(exc)
                continue
            saves += brought
            deliveries += planned.deliveries
            digest_items += planned.digest_items
            for bureau in planned.unmatched:
                log.warning("no directory entry serves %s; it is not told of %s", bureau, notice.event_type)
            if not planned.deliveries and not planned.digest_items:
                silent.append(notice.event_type)
        await repo.save_complainants(conn, saves)
        inserted = await repo.insert_deliveries(conn, deliveries, first_delay=self.policy.first_delay(),
                                                give_up_seconds=self.policy.window() + 60)
        # after this batch's complainants and texts are written, so a correction in the batch reaches them too
        await repo.correct_complainants(conn, corrections)
        queued = await repo.insert_digest_items(conn, digest_items)
        uow.after_commit(lambda: _count(inserted, queued, silent))
        return refused


def _distinct(complainants: Iterable[Complainant]) -> list[Complainant]:
    out: dict[str, Complainant] = {}
    for c in complainants:
        out.setdefault(c.recipient_id, c)
    return list(out.values())


def _count(inserted: Sequence[str], queued: Sequence[str], silent: Sequence[str]) -> None:
    """Count committed notices (after commit only: a rolled-back batch counts nothing)."""
    for outcome, types in (("delivery", inserted), ("digest", queued), ("no_recipient", silent)):
        for event_type, n in Counter(types).items():
            NOTICES.labels(event_type, outcome).inc(n)
