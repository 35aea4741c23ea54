"""Custody's deadlines as use cases: opened by the fact that starts them (a perishable lot
registered, the police opening the case — `referral.lifecycle`), closed by the act that meets
them (the police's receipt, the disposal). The watch that raises approaching/breached is
`shared.deadline_watch.DeadlineWatch` (wired in `wiring.build`)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from shared import deadline_watch as watch
from shared.contracts.custody import CustodyDeadlineApproaching, CustodyDeadlineBreached
from shared.contracts.referral import ReferralAccepted, ReferralHandedOver
from shared.reference.deadlines import deadline_rule, load_deadlines
from shared.runtime.uow import Message, UnitOfWork
from shared.workdays import WorkdayCalendar

from services.custody.adapters import postgres as db
from services.custody.domain import deadlines as rules
from services.custody.domain.lots import Lot
from services.custody.metrics import DEADLINES

RULES_FILE = Path(__file__).resolve().parent.parent / "rules" / "deadlines.yaml"


@dataclass(frozen=True)
class CustodyDeadlines:
    calendar: WorkdayCalendar
    rules_file: Path = RULES_FILE
    before_hours: float = 24

    def _police_rule(self, at: dt.datetime) -> Any:
        return deadline_rule("transfer_handover", rules.local_day(at))

    def _perishable_rule(self, at: dt.datetime) -> Any:
        return load_deadlines(self.rules_file).rule("custody_perishable_disposal", rules.local_day(at))

    async def registered(self, uow: UnitOfWork, lot: Lot) -> None:
        """A new lot: its perishable period, and its hand-over deadline when the police already opened the case."""
        found: list[watch.WatchedDeadline | None] = []
        if lot.hazard == "perishable":
            found.append(rules.perishable_disposal(lot, self._perishable_rule(lot.registered_at), self.calendar,
                                                   before_hours=self.before_hours))
        police = await db.police_case(uow.conn, lot.case_id)
        if police is not None:
            # the goods of a case the police opened before they were registered: the period runs from the opening
            found.append(rules.police_handover(lot, police["accepted_at"], self._police_rule(police["accepted_at"]),
                                               self.calendar, before_hours=self.before_hours))
        await watch.open_deadlines(uow.conn, [d for d in found if d is not None])

    async def received(self, uow: UnitOfWork, lot: Lot, at: dt.datetime) -> None:
        if rules.with_police(lot):
            await watch.close_deadlines(uow.conn, [lot.lot_id], [rules.POLICE_HANDOVER], at)

    async def disposed(self, uow: UnitOfWork, lots: Sequence[Lot], at: dt.datetime) -> None:
        ids = [lot.lot_id for lot in lots]
        await watch.close_deadlines(uow.conn, ids, [rules.PERISHABLE_DISPOSAL], at)
        await watch.close_deadlines(uow.conn, ids, [rules.POLICE_HANDOVER], at, state="cancelled")

    async def on_referrals(self, messages: Sequence[Message[Any]], uow: UnitOfWork) -> Mapping[int, Exception]:
        """`referral.lifecycle`: the police opened the case → every lot of it still in custody gets its
        hand-over deadline; routing recorded the hand-over → those deadlines are met."""
        accepted = [m.data for m in messages if isinstance(m.data, ReferralAccepted)]
        handed = [m.data for m in messages if isinstance(m.data, ReferralHandedOver)]
        if accepted:
            await db.record_police_cases(uow.conn, [(a.case_id, a.referral_id, a.police, a.at) for a in accepted])
            lots = await db.lots_of_cases(uow.conn, sorted({a.case_id for a in accepted}))
            opened = {a.case_id: a for a in accepted}
            found = [rules.police_handover(lot, opened[lot.case_id].at, self._police_rule(opened[lot.case_id].at),
                                           self.calendar, before_hours=self.before_hours) for lot in lots]
            await watch.open_deadlines(uow.conn, [d for d in found if d is not None])
        if handed:
            # each case's goods were handed over when its own hand-over says (the first, if the batch has two)
            when: dict[str, dt.datetime] = {}
            for h in handed:
                when[h.case_id] = min(h.at, when.get(h.case_id, h.at))
            lots = await db.lots_of_cases(uow.conn, sorted(when))
            await watch.close_each(uow.conn, {lot.lot_id: when[lot.case_id] for lot in lots}, [rules.POLICE_HANDOVER])
        return {}


#: the watch's event for one custody deadline, and its count once the watch's transaction committed
deadline_event = watch.event_factory(CustodyDeadlineApproaching, CustodyDeadlineBreached, subject_field="lot_id")
count_emitted = watch.counted(DEADLINES, "kind", "what")
