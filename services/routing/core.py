"""The routing application: runs the pure domain inside a unit of work.

`Router` loads the aggregate (locking the case row, which serialises every
writer of one case, so its events leave in order), asks the domain for the
`Effects`, saves them and emits every event on its internal topic plus a copy
on the egress topic of each bureau in its audience. Used by the Kafka handlers,
the HTTP API and the deadline watch alike.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from shared.clock import Clock
from shared.contracts.bureau_actions import BureauCommand
from shared.contracts.cases import CaseMerged, CaseOpened
from shared.envelope import deterministic_event_id
from shared.runtime import NonRetryableError, UnitOfWork
from shared.workdays import WorkdayCalendar
from services.routing.adapters import postgres as repo
from services.routing.adapters.egress import EgressTopics
from services.routing.domain import case as domain
from services.routing.domain.case import Case, Context, Effects, Emission, Referral
from services.routing.domain.reference import Reference
from services.routing.domain.rules import RoutingRules
from services.routing.metrics import record

log = logging.getLogger(__name__)


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

    async def case_opened(self, uow: UnitOfWork, event: CaseOpened) -> Effects | None:
        conn = uow.conn
        ctx = self.context()
        county = self.ref.current_county(event.county)[0]
        key = domain.suspect_key(event.suspect, county or event.county)
        known, prior = await repo.claim_case(conn, event.case_id, key, ctx.now)
        if known:
            log.info("case %s is already assigned; case.opened ignored", event.case_id)
            return None
        fx = domain.open_case(event, ctx=ctx, prior_cases_of_suspect=prior)
        assert fx.case is not None
        if not await repo.insert_case(conn, fx.case, county or "unknown", fx.open_deadlines):
            return None
        await self._save(uow, replace(fx, open_deadlines=[]), new_case=True)
        return fx

    async def case_merged(self, uow: UnitOfWork, event: CaseMerged) -> Effects:
        case = await repo.load_case(uow.conn, event.case_id, lock=True)
        if case is None:
            raise NonRetryableError("unknown_case", f"case_id: case {event.case_id!r} was merged into before it was opened",
                                    field="case_id")
        referral = await repo.load_referral(uow.conn, case.case_id)
        fx = domain.merge_into(case, referral, event, ctx=self.context())
        await self._save(uow, fx)
        return fx

    # -- bureau commands ----------------------------------------------------------------------

    async def execute(self, uow: UnitOfWork, actor: str, command: BureauCommand, command_id: str | None) -> Effects:
        case = await repo.load_case(uow.conn, command.case_id, lock=True)
        referral = await repo.load_referral(uow.conn, command.case_id) if case is not None else None
        fx = domain.decide(case, referral, actor, command, command_id, ctx=self.context())
        await self._save(uow, fx)
        return fx

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

    async def _save(self, uow: UnitOfWork, fx: Effects, *, new_case: bool = False) -> None:
        conn = uow.conn
        now = self.clock.now()
        if fx.case is not None and not new_case:
            await repo.update_case(conn, fx.case)
        if fx.referral is not None:
            await repo.save_referral(conn, fx.referral)
        if fx.close_deadlines:
            await repo.close_deadlines(conn, fx.close_deadlines, now)
        if fx.open_deadlines:
            await repo.insert_deadlines(conn, fx.open_deadlines)
        await self.publish(uow, fx.emissions)
        record(fx.notes)

    async def publish(self, uow: UnitOfWork, emissions: list[Emission], *, event_ids: list[str | None] | None = None) -> None:
        """Emit each event on its internal topic and a copy on each audience bureau's egress topic."""
        for i, e in enumerate(emissions):
            topic = self.topics.routing if e.stream == "case" else self.topics.referral
            case_id = getattr(e.payload, "case_id")
            event_id = event_ids[i] if event_ids is not None else None
            envelope = uow.emit(topic, e.payload, key=case_id, correlationid=case_id, event_id=event_id)
            for bureau in e.audience:
                name = await self.egress.ensure(bureau)
                uow.emit(name, e.payload, key=case_id, correlationid=case_id,
                         event_id=deterministic_event_id("egress", bureau, envelope.id))
