"""Appraisal's use cases, each in the caller's unit of work: change the request, append the audit
chain, open or close its deadlines, emit the events. No SQL and no status codes here."""
from __future__ import annotations

import datetime as dt
import functools
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Awaitable, Callable, Literal, Mapping, Sequence

import yaml

from shared import audit, case_bureaus
from shared import deadline_watch as watch
from shared.clock import Clock
from shared.contracts.appraisal import (AppraisalDeadlineApproaching, AppraisalDeadlineBreached, AppraisalRefused,
                                        AppraisalReported, AppraisalRequested, AppraisalStepped, WeightRuleRef)
from shared.contracts.custody import CustodyChanged
from shared.contracts.referral import DocumentRef
from shared.egress import EgressTopics
from shared.envelope import deterministic_event_id
from shared.identity.model import Principal
from shared.reference.deadlines import load_deadlines
from shared.refusals import NotFound, Refused
from shared.runtime.uow import Message, UnitOfWork
from shared.workdays import SHANGHAI, WorkdayCalendar

from services.appraisal.adapters import postgres as db
from services.appraisal.domain import appraisals as rules
from services.appraisal.domain import deadlines as periods
from services.appraisal.domain import weights
from services.appraisal.domain.appraisals import Appraisal, Report
from services.appraisal.metrics import COMMANDS, DEADLINES

RULES_FILE = Path(__file__).resolve().parent.parent / "rules" / "deadlines.yaml"
WEIGHT_FILE = Path(__file__).resolve().parent.parent / "rules" / "evidential_weight.yaml"


@functools.lru_cache(maxsize=8)
def load_weights(path: Path) -> weights.WeightRules:
    """The evidential-weight rule file (versioned data), parsed once per path."""
    return weights.parse(yaml.safe_load(path.read_text(encoding="utf-8")))
PrincipalLookup = Callable[[str], Awaitable[Principal | None]]


@dataclass(frozen=True)
class Actor:
    party: str          # a bureau (type@division), or the provider's principal id
    person: str
    is_office: bool = False


@dataclass(frozen=True)
class Appraisals:
    clock: Clock
    topic: str
    calendar: WorkdayCalendar
    principal: PrincipalLookup
    rules_file: Path = RULES_FILE
    before_hours: float = 24
    #: what each evidential weight does to the case's figures (services/appraisal/rules/evidential_weight.yaml)
    weight_file: Path = WEIGHT_FILE
    #: each provider's own ``egress.appraisal.<provider>`` topic (shared/egress.py); None: no copies
    egress: EgressTopics | None = None

    async def _one(self, uow: UnitOfWork, appraisal_id: str) -> Appraisal:
        found = await db.lock(uow.conn, appraisal_id)
        if found is None:
            raise NotFound("appraisal", appraisal_id)
        return found

    async def _record(self, uow: UnitOfWork, kind: str, a: Appraisal, actor: str, body: dict[str, Any]) -> None:
        await audit.append(uow.conn, f"appraisal.{kind}", a.appraisal_id, body, actor=actor, at=self.clock.now())
        uow.after_commit(COMMANDS.labels(kind, a.provider_kind).inc)

    def _common(self, a: Appraisal) -> dict[str, Any]:
        return {"appraisal_id": a.appraisal_id, "case_id": a.case_id, "bureau": a.bureau, "provider": a.provider,
                "provider_kind": a.provider_kind, "kind": a.kind}

    def _emit(self, uow: UnitOfWork, a: Appraisal, event: Any) -> None:
        """On ``appraisal.lifecycle``, and a copy (its own derived id) on the provider's own
        ``egress.appraisal.<provider>`` topic, which only the provider may read: the requests reach it there."""
        envelope = uow.emit(self.topic, event, key=a.appraisal_id, correlationid=a.case_id)
        if self.egress is not None:
            self.egress.ready([a.provider])  # known to exist, else roll back: created, then retried
            uow.emit(self.egress.name(a.provider), event, key=a.appraisal_id, correlationid=a.case_id,
                     event_id=deterministic_event_id("egress", a.provider, envelope.id))

    async def provider_topic(self, provider: str) -> None:
        """Before a request's transaction: the provider's egress topic exists (created on first use),
        when `provider` is an appraiser (nothing is created for a name that is not one)."""
        if self.egress is None:
            return
        found = await self.principal(provider)
        if found is not None and found.kind == "appraisal" and found.can("appraisals:report"):
            await self.egress.prepare([provider])

    async def request(self, uow: UnitOfWork, actor: Actor, *, case_id: str, kind: str, provider: str, subject: str,
                      lot_id: str | None, wanted_by: dt.date | None) -> Appraisal:
        now = self.clock.now()
        await case_bureaus.check(uow.conn, case_id, actor.party, is_office=actor.is_office)
        found = await self.principal(provider)
        is_appraiser = found is not None and found.kind == "appraisal" and found.can("appraisals:report")
        a = rules.request(f"apr_{uuid.uuid4().hex[:20]}", case_id=case_id, bureau=actor.party, by_person=actor.person,
                          kind=kind, provider=provider, provider_is_appraiser=is_appraiser,
                          provider_kind=rules.provider_kind_of(found.roles if found else frozenset()), subject=subject,
                          lot_id=lot_id, wanted_by=wanted_by, at=now, today=now.astimezone(SHANGHAI).date())
        await db.insert(uow.conn, a)
        day = periods.local_day(now)
        table = load_deadlines(self.rules_file)
        due = periods.on_request(a, table.rule("appraisal_answer", day), table.rule("appraisal_result", day),
                                 self.calendar, before_hours=self.before_hours)
        await watch.open_deadlines(uow.conn, due)
        await self._record(uow, "requested", a, actor.person,
                           {"case_id": case_id, "kind": kind, "provider": provider, "provider_kind": a.provider_kind,
                            "subject": subject, "lot_id": lot_id, "wanted_by": wanted_by})
        self._emit(uow, a, AppraisalRequested(**self._common(a), lot_id=lot_id, wanted_by=wanted_by, requested_at=now,
                                              result_due_at=due[-1].due_at))
        return a

    async def accept(self, uow: UnitOfWork, actor: Actor, appraisal_id: str) -> Appraisal:
        now = self.clock.now()
        a = rules.accept(await self._one(uow, appraisal_id), by_party=actor.party, at=now)
        return await self._stepped(uow, actor, a, "accepted", now, close=[periods.ANSWER])

    async def samples_received(self, uow: UnitOfWork, actor: Actor, appraisal_id: str, *, lot_id: str | None) -> Appraisal:
        now = self.clock.now()
        a = rules.samples_received(await self._one(uow, appraisal_id), by_party=actor.party, at=now, lot_id=lot_id)
        return await self._stepped(uow, actor, a, "samples_received", now)

    async def withdraw(self, uow: UnitOfWork, actor: Actor, appraisal_id: str, *, reason: str) -> Appraisal:
        now = self.clock.now()
        a = rules.withdraw(await self._one(uow, appraisal_id), by_party=actor.party, reason=reason, at=now)
        await watch.close_deadlines(uow.conn, [a.appraisal_id], [periods.ANSWER, periods.RESULT], now, state="cancelled")
        return await self._stepped(uow, actor, a, "withdrawn", now, reason=reason)

    async def _stepped(self, uow: UnitOfWork, actor: Actor, a: Appraisal, step: Literal["accepted", "samples_received", "withdrawn"],
                       now: dt.datetime, *, close: Sequence[str] = (), reason: str | None = None) -> Appraisal:
        await db.save(uow.conn, a)
        if close:
            await watch.close_deadlines(uow.conn, [a.appraisal_id], list(close), now)
        await self._record(uow, step, a, actor.person, {"lot_id": a.lot_id, "reason": reason})
        self._emit(uow, a, AppraisalStepped(**self._common(a), step=step, lot_id=a.lot_id, reason=reason, at=now))
        return a

    async def report(self, uow: UnitOfWork, actor: Actor, appraisal_id: str, *, verdict: str | None,
                     valuation: Decimal | None, report_doc: Report, summary: str) -> Appraisal:
        now = self.clock.now()
        a = rules.report(await self._one(uow, appraisal_id), by_party=actor.party, by_person=actor.person,
                         verdict=verdict, valuation=valuation, report_doc=report_doc, summary=summary, at=now)
        await db.save(uow.conn, a)
        await watch.close_deadlines(uow.conn, [a.appraisal_id], [periods.ANSWER, periods.RESULT], now)
        r = a.result
        assert r is not None
        rule = load_weights(self.weight_file).in_force(periods.local_day(now))
        found = rules.figures(a)
        counted, withheld = (found, {}) if rule.counts(r.evidential_weight) else ({}, found)
        await self._record(uow, "reported", a, actor.person,
                           {"verdict": verdict, "valuation": valuation, "report": report_doc.__dict__,
                            "evidential_weight": r.evidential_weight, "summary": summary,
                            "figures": counted, "withheld_figures": withheld,
                            "weight_rule": rule.ref(r.evidential_weight)})
        self._emit(uow, a, AppraisalReported(
            **self._common(a), verdict=r.verdict, valuation=r.valuation, evidential_weight=r.evidential_weight,  # type: ignore[arg-type]
            report=DocumentRef(doc_no=report_doc.doc_no, title=report_doc.title, uri=report_doc.uri,
                               sha256=report_doc.sha256),
            figures=counted, withheld_figures=withheld, weight_rule=WeightRuleRef(**rule.ref(r.evidential_weight)),
            lot_id=a.lot_id, reported_at=now))
        return a

    async def refuse(self, uow: UnitOfWork, actor: Actor, appraisal_id: str, *, reason: str) -> Appraisal:
        now = self.clock.now()
        a = rules.refuse(await self._one(uow, appraisal_id), by_party=actor.party, reason=reason, at=now)
        await db.save(uow.conn, a)
        await watch.close_deadlines(uow.conn, [a.appraisal_id], [periods.ANSWER, periods.RESULT], now)
        await self._record(uow, "refused", a, actor.person, {"reason": reason})
        self._emit(uow, a, AppraisalRefused(**self._common(a), reason=reason, at=now))
        return a

    async def on_custody(self, messages: Sequence[Message[Any]], uow: UnitOfWork) -> Mapping[int, Exception]:
        """`custody.lifecycle`: a provider's receipt of a lot handed over for appraisal is the
        samples' arrival for that provider's accepted appraisal of the case (and of that lot)."""
        receipts = [(i, m) for i, m in enumerate(messages) if isinstance(m.data, CustodyChanged)
                    and m.data.step == "received" and m.data.purpose == "appraisal"]
        if not receipts:
            return {}
        keys = [(m.data.case_id, m.data.to_party, m.data.lot_id) for _, m in receipts]
        done_ids: set[str] = set()
        for n, a in await db.lock_awaiting_samples(uow.conn, keys):
            msg = receipts[n][1]
            if a.appraisal_id in done_ids:
                continue  # two receipts of the batch matched the same appraisal: the first counts
            done_ids.add(a.appraisal_id)
            try:
                done = rules.samples_received(a, by_party=msg.data.to_party, at=msg.data.at, lot_id=msg.data.lot_id)
            except Refused:
                continue  # nothing to record: the appraisal is of another lot, or no longer awaits samples
            await db.save(uow.conn, done)
            await self._record(uow, "samples_received", done, "custody", {"lot_id": done.lot_id, "via": "custody"})
            uow.emit(self.topic, AppraisalStepped(**self._common(done), step="samples_received", lot_id=done.lot_id,
                                                  at=msg.data.at),
                     key=done.appraisal_id, correlationid=done.case_id, cause=msg)
        return {}


#: the watch's event for one appraisal deadline, and its count once the watch's transaction committed
deadline_event = watch.event_factory(AppraisalDeadlineApproaching, AppraisalDeadlineBreached, subject_field="appraisal_id")
count_emitted = watch.counted(DEADLINES, "kind", "what")
