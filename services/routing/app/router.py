"""The routing application: runs the pure domain inside a unit of work.

`Router` loads the aggregate (locking the case row, which serialises every
writer of one case, so its events leave in order), asks the domain for the
`Effects`, saves them and emits every event on its internal topic (a case's on
the priority lane when its case.opened came on intake's) plus a copy on the
egress topic of each bureau in its audience. Used by the Kafka handlers,
the HTTP API and the deadline watch alike.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any, Awaitable, Callable, Collection, Sequence, TypeVar

from shared.clock import Clock
from shared.contracts.bureau_actions import BureauCommand
from shared.contracts.cases import CaseMerged, CaseOpened
from shared.envelope import deterministic_event_id
from shared.runtime import Message, NonRetryableError, UnitOfWork
from shared.topics import is_priority_lane, lane
from shared.workdays import WorkdayCalendar
from services.routing.adapters import postgres as repo
from shared.egress import EgressNotReady, EgressTopics
from services.routing.domain import case as domain
from services.routing.domain.case import Case, Context, DeadlineClose, Effects, Emission, Referral
from services.routing.domain.reference import Reference
from services.routing.domain.rules import RoutingRules
from services.routing.metrics import record

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Topics:
    routing: str
    referral: str


class Router:
    def __init__(self, *, ref: Reference, rules: RoutingRules, clock: Clock, egress: EgressTopics, topics: Topics,
                 source: str = "/shuangda/routing") -> None:
        self.ref = ref
        self.rules = rules
        self.clock = clock
        self.egress = egress
        self.topics = topics
        self.source = source

    def context(self) -> Context:
        return Context(ref=self.ref, rules=self.rules, now=self.clock.now())

    @property
    def office(self) -> str:
        return self.context().office

    def use_calendar(self, calendar: WorkdayCalendar) -> None:
        """Count new deadlines with `calendar` from now on (after holiday data was added)."""
        self.ref = replace(self.ref, calendar=calendar)

    # -- inbound events ---------------------------------------------------------------------

    async def intake_batch(self, uow: UnitOfWork, messages: Sequence[Message[CaseOpened | CaseMerged]]) -> dict[int, Exception]:
        """Apply a batch of intake's ``case.opened`` / ``case.merged`` (in partition-then-offset order,
        so a case's events are in order) in a constant number of round trips: lock the cases involved,
        read their latest referrals, count new cases against their suspects, decide everything in the
        pure domain (a ``case.merged`` sees the case an earlier ``case.opened`` of the batch created),
        then write cases, referrals and deadlines in one statement. Returns the records refused
        (a ``case.merged`` of a case never opened), for which nothing was written."""
        conn = uow.conn
        ctx = self.context()
        case_ids = [m.data.case_id for m in messages]
        cases: dict[str, Case] = await repo.lock_cases(conn, case_ids)
        merged_known = [m.data.case_id for m in messages if isinstance(m.data, CaseMerged) and m.data.case_id in cases]
        referrals: dict[str, Referral | None] = dict(await repo.latest_referrals(conn, merged_known))
        appraised = await repo.appraisal_figures(conn, merged_known)

        # which case.opened records open a case (the first of each case id routing does not know yet)
        claims: dict[int, tuple[str, str | None]] = {}
        counties: dict[int, str | None] = {}
        claimed: set[str] = set(cases)
        for i, m in enumerate(messages):
            event = m.data
            if isinstance(event, CaseOpened) and event.case_id not in claimed:
                claimed.add(event.case_id)
                county = self.ref.current_county(event.county)[0]
                counties[i] = county
                claims[i] = (event.case_id, domain.suspect_key(event.suspect, county or event.county))
        priors = dict(zip(claims, await repo.count_suspects(conn, list(claims.values()), ctx.now)))

        refused: dict[int, Exception] = {}
        done: list[tuple[Message[Any], Effects]] = []
        new: dict[str, str] = {}  # case id → county label, for the cases this batch opens
        changed: dict[str, None] = {}
        for i, m in enumerate(messages):
            event = m.data
            if isinstance(event, CaseOpened):
                if i not in claims:
                    log.info("case %s is already assigned; case.opened ignored", event.case_id)
                    continue
                fx = domain.open_case(event, ctx=ctx, prior_cases_of_suspect=priors[i],
                                      on_lane=is_priority_lane(m.topic))
                new[event.case_id] = counties[i] or "unknown"
            else:
                case = cases.get(event.case_id)
                if case is None:
                    refused[i] = NonRetryableError(
                        "unknown_case", f"case_id: case {event.case_id!r} was merged into before it was opened",
                        field="case_id")
                    continue
                fx = domain.merge_into(case, referrals.get(event.case_id), event, ctx=ctx,
                                       appraised=appraised.get(event.case_id, ()))
                if event.case_id not in new:
                    changed[event.case_id] = None
            # neither opening nor merging closes a deadline; only bureau commands do
            assert not fx.close_deadlines, "intake events never close deadlines"
            assert fx.case is not None
            cases[event.case_id] = fx.case
            if fx.referral is not None:
                referrals[event.case_id] = fx.referral
            done.append((m, fx))

        self.egress.ready(b for _, fx in done for e in fx.emissions for b in e.audience)
        inserted = await repo.save_cases(
            conn, new=[(cases[c], label) for c, label in new.items()], changed=[cases[c] for c in changed],
            referrals=[fx.referral for _, fx in done if fx.referral is not None],
            deadlines=[d for _, fx in done for d in fx.open_deadlines],
        )
        if inserted != len(new):  # another writer opened one of them meanwhile: decide again, record by record
            raise RuntimeError(f"{len(new) - inserted} of {len(new)} new cases were inserted concurrently")
        for m, fx in done:
            assert fx.case is not None
            self.publish(uow, fx.emissions, cause=m, on_lane=fx.case.priority_lane)
        notes = [n for _, fx in done for n in fx.notes]
        uow.after_commit(lambda: record(notes))
        return refused

    # -- bureau commands ----------------------------------------------------------------------

    async def execute(self, uow: UnitOfWork, actor: str, command: BureauCommand, command_id: str | None) -> Effects:
        case = await repo.load_case(uow.conn, command.case_id, lock=True)
        referral = await repo.load_referral(uow.conn, command.case_id) if case is not None else None
        fx = domain.decide(case, referral, actor, command, command_id, ctx=self.context())
        await self._save(uow, fx, on_lane=case is not None and case.priority_lane)
        return fx

    async def execute_batch(self, uow: UnitOfWork, received: Sequence[tuple[str, BureauCommand, Message[Any] | Any]]) -> None:
        """Apply bureau commands ``(actor, command, envelope)`` one after the other, as `execute` would
        (each sees the case as the ones before it left it: a transfer, then the new assignee's
        acknowledgement), in a constant number of round trips: lock every case named, in case id
        order (so two instances never deadlock), read their latest referrals, decide each command in
        the pure domain against the state in memory, then write cases, referrals, closed and new
        deadlines in one statement. Each record is the cause of its events, its bureau their actor."""
        conn = uow.conn
        ctx = self.context()
        cases: dict[str, Case] = await repo.lock_cases(conn, [command.case_id for _, command, _ in received])
        referrals: dict[str, Referral | None] = dict(await repo.latest_referrals(conn, list(cases)))
        changed: dict[str, Case] = {}
        saved: list[Referral] = []
        closes: list[DeadlineClose] = []
        opened: list[list[Any]] = []  # [spec, state at the end of the batch (None: open)]
        notes: list[Any] = []
        try:
            for actor, command, envelope in received:
                case_id = command.case_id
                fx = domain.decide(cases.get(case_id), referrals.get(case_id), actor, command, envelope.id, ctx=ctx)
                self.egress.ready(b for e in fx.emissions for b in e.audience)
                if fx.case is not None:
                    cases[case_id] = changed[case_id] = fx.case
                if fx.referral is not None:
                    referrals[case_id] = fx.referral
                    saved.append(fx.referral)
                for close in fx.close_deadlines:  # before this command's new deadlines, as `_save` does
                    for entry in opened:
                        spec = entry[0]
                        if entry[1] is None and spec.case_id == close.case_id \
                                and (close.kinds is None or spec.kind in close.kinds):
                            entry[1] = close.state
                    closes.append(close)
                opened.extend([spec, None] for spec in fx.open_deadlines)
                uow.cause, uow.actor = envelope, actor
                known = cases.get(case_id)
                self.publish(uow, fx.emissions, on_lane=known is not None and known.priority_lane)
                notes.extend(fx.notes)
        finally:
            uow.cause, uow.actor = None, None
        if changed or saved or closes or opened:
            await repo.save_commands(conn, changed=list(changed.values()), referrals=saved, closes=closes,
                                     deadlines=[(spec, state) for spec, state in opened], now=self.clock.now())
        uow.after_commit(lambda: record(notes))

    async def decide_joint_meeting(self, uow: UnitOfWork, *, actor: str, principal: str, case_id: str,
                                   decision: str, reason: str | None) -> Effects | domain.Refusal:
        """The office convenes or dismisses a proposed joint meeting (issue 16 §2): the case row locked, the
        decision recorded once (table joint_meetings) and announced to the bureaus concerned."""
        case = await repo.load_case(uow.conn, case_id, lock=True)
        decided = await repo.joint_meeting_decision(uow.conn, case_id) if case is not None else None
        result = domain.decide_joint_meeting(case, decided, actor=actor, principal=principal, decision=decision,
                                             reason=reason, ctx=self.context())
        if isinstance(result, tuple):
            return result
        event = result.emissions[0].payload
        await repo.record_joint_meeting(uow.conn, event)
        await self._save(uow, result, on_lane=case is not None and case.priority_lane)
        return result

    async def joint_meetings(self, conn: Any, limit: int) -> list[dict[str, Any]]:
        """Open cases with a joint meeting proposed, undecided first, with the decision if taken."""
        return await repo.joint_meetings(conn, list(domain.OPEN_STATES), limit)

    # -- reads ----------------------------------------------------------------------------------

    async def visible_case(self, conn: object, bureau: str, case_id: str) -> tuple[Case, Referral | None] | None:
        case = await repo.load_case(conn, case_id)  # type: ignore[arg-type]
        if case is None:
            return None
        referral = await repo.load_referral(conn, case_id)  # type: ignore[arg-type]
        if not domain.visible_to(case, referral, bureau, self.office):
            return None
        return case, referral

    # -- effects ----------------------------------------------------------------------------------

    async def _save(self, uow: UnitOfWork, fx: Effects, *, on_lane: bool) -> None:
        self.egress.ready(b for e in fx.emissions for b in e.audience)
        conn = uow.conn
        now = self.clock.now()
        if fx.case is not None:
            await repo.update_case(conn, fx.case)
        if fx.referral is not None:
            await repo.save_referral(conn, fx.referral)
        if fx.close_deadlines:
            await repo.close_deadlines(conn, fx.close_deadlines, now)
        if fx.open_deadlines:
            await repo.insert_deadlines(conn, fx.open_deadlines)
        self.publish(uow, fx.emissions, on_lane=on_lane)
        notes = fx.notes
        uow.after_commit(lambda: record(notes))

    def publish(self, uow: UnitOfWork, emissions: list[Emission], *, event_ids: list[str | None] | None = None,
                cause: Message[Any] | None = None, on_lane: bool | Collection[str] = False) -> None:
        """Emit each event on its internal topic and a copy on each audience bureau's egress topic.

        `on_lane`: whether the events' case is on the priority lane (`Case.priority_lane`), or — for
        emissions about many cases — the ids of the cases that are; a lane case's events go on the
        routing topic's priority lane (``case.routing.priority``), every one of them, so they stay in
        order on one topic. (Referral steps stay on the referral topic.)

        Raises `EgressNotReady` (before emitting anything) when an audience bureau's topic is not
        known to exist: the caller's transaction must roll back and be run again once it does."""
        self.egress.ready(b for e in emissions for b in e.audience)
        for i, e in enumerate(emissions):
            case_id = getattr(e.payload, "case_id")
            if e.stream == "case":
                topic = lane(self.topics.routing,
                             priority=on_lane if isinstance(on_lane, bool) else case_id in on_lane)
            else:
                topic = self.topics.referral
            event_id = event_ids[i] if event_ids is not None else None
            envelope = uow.emit(topic, e.payload, key=case_id, correlationid=case_id, event_id=event_id, cause=cause)
            if not e.audience:
                continue
            # the copies are the same record (payload bytes, headers) under their own derived id and topic:
            # serialised once, not once per bureau
            original = uow.pending[-1]
            at = original.header_keys.index("ce_id")
            for bureau in e.audience:
                copy_id = deterministic_event_id("egress", bureau, envelope.id)
                values = list(original.header_values)
                values[at] = copy_id.encode()
                uow.emit_raw(replace(original, event_id=copy_id, topic=self.egress.name(bureau), header_values=values))

    async def outside_transaction(self, attempt: Callable[[], Awaitable[T]], *, tries: int = 5) -> T:
        """Run `attempt` (which opens and commits its own transaction); when it rolled back because an
        egress topic was missing, create the topics (no transaction open) and run it again."""
        for _ in range(tries - 1):
            try:
                return await attempt()
            except EgressNotReady as exc:
                await self.egress.prepare(exc.bureaus)
        return await attempt()
