"""The simulated bureau back ends, the leading-group office and the police.

They learn of their work only through the real channels — notify's signed
webhooks (`sim.receiver`) — and act only through the real APIs: routing's
bureau API (acknowledge, transfer, refer, decide, hand over, record the
outcome) and credit's penalty API, each with the bureau's own API key. What
they decide comes from `sim.behaviour`; when, from office hours and the
simulated clock.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

import httpx

from shared.workdays import SHANGHAI
from sim import behaviour as bh
from sim.api import Answer, call
from sim.clock import SimClock
from sim.goods import SeizedGoods
from sim.population import Business, Population
from sim.registration import Keys
from sim.scenario import stable_random
from sim.schedule import Scheduler
from sim.stats import SimStats
from sim.worktime import after_work_hours

log = logging.getLogger(__name__)


def _time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))


@dataclass
class CaseView:
    """What a back end knows of one of its cases."""

    facts: bh.CaseFacts
    plan: bh.AckPlan | None = None
    acted: bool = False            # acknowledged (or passed on) for the current assignment
    accepted: bool = False
    waiting: bool = False          # the clerk let it slide until reminded
    referral: str | None = None    # last referral state seen
    referral_rounds: int = 0
    concluded: bool = False
    closed: bool = False
    #: times the complainant's survey sent the case back (case.reopened)
    reopenings: int = 0

    def step(self, name: str) -> str:
        """The idempotency step of a command: a reopened case's second answer is a new command."""
        suffix = f"/reopened-{self.reopenings}" if self.reopenings else ""
        return f"{name}/{self.facts.assignment_no}{suffix}"


@dataclass
class Backends:
    seed: int
    run_id: str
    clock: SimClock
    scheduler: Scheduler
    routing: httpx.AsyncClient
    credit: httpx.AsyncClient
    keys: Keys
    population: Population
    city: str
    office: str
    lead_of: Callable[[str], str]             # category → lead bureau type (directory in force)
    stats: SimStats = field(default_factory=SimStats)
    #: seized goods and their appraisal (custody and appraisal running), else None
    goods: SeizedGoods | None = None
    cases: dict[str, CaseView] = field(default_factory=dict)
    _decisions: int = 0
    _by_code: dict[str, Business] = field(default_factory=dict)
    _by_name: dict[str, Business] = field(default_factory=dict)
    _by_shop: dict[tuple[str, str], Business] = field(default_factory=dict)
    #: notices about a case that arrived before its assignment (deliveries race): replayed after it
    _early: dict[str, list[tuple[str, str, dict[str, Any]]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for b in self.population.businesses:
            if b.credit_code:
                self._by_code[b.credit_code] = b
            self._by_name[b.name] = b
            if b.shop:
                self._by_shop[b.shop] = b
        self._handlers: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "shuangda.case.assigned.v1": self._assigned,
            "shuangda.case.figures-updated.v1": self._figures,
            "shuangda.deadline.approaching.v1": self._reminded,
            "shuangda.deadline.breached.v1": self._breached,
            "shuangda.referral.proposed.v1": self._referral_proposed,
            "shuangda.referral.approved.v1": self._referral_approved,
            "shuangda.referral.rejected.v1": self._referral_rejected,
            "shuangda.referral.transferred.v1": self._referral_transferred,
            "shuangda.referral.refused.v1": self._referral_refused,
            "shuangda.referral.reconsideration-requested.v1": self._reconsideration_requested,
            "shuangda.referral.reconsideration-refused.v1": self._reconsideration_refused,
            "shuangda.referral.supervision-requested.v1": self._supervision_requested,
            "shuangda.referral.accepted.v1": self._referral_accepted,
            "shuangda.referral.handed-over.v1": self._handed_over,
            "shuangda.case.outcome-recorded.v1": self._closed,
            "shuangda.case.reopened.v1": self._reopened,
        }

    # -- the gateway hands every verified notice here --------------------------------------------

    def on_webhook(self, endpoint: str, payload: dict[str, Any]) -> None:
        data = payload.get("data") or {}
        event = data.get("event")
        handler = self._handlers.get(str(payload.get("type")))
        if handler is None or not isinstance(event, dict):
            return
        recipient = str(data.get("recipient") or "")
        case_id = event.get("case_id")
        if (payload.get("type") != "shuangda.case.assigned.v1" and isinstance(case_id, str)
                and case_id not in self.cases and payload.get("type", "").startswith(("shuangda.referral.", "shuangda.deadline."))):
            self._early.setdefault(case_id, []).append((str(payload.get("type")), recipient, event))
            return
        handler(recipient, event)

    # -- helpers ----------------------------------------------------------------------------------

    def business(self, facts: bh.CaseFacts) -> Business | None:
        s = facts.suspect
        if s.get("credit_code") and s["credit_code"] in self._by_code:
            return self._by_code[s["credit_code"]]
        if s.get("name") and s["name"] in self._by_name:
            return self._by_name[s["name"]]
        if s.get("platform") and s.get("shop_id"):
            return self._by_shop.get((s["platform"], s["shop_id"]))
        return None

    async def command(self, bureau: str, case_id: str, path: str, body: dict[str, Any], step: str) -> Answer:
        token = self.keys.routing.get(bureau)
        name = path.rsplit("/", 1)[-1] if path else "acknowledge"
        if token is None:
            self.stats.errors["no_key"] += 1
            return Answer(0, {"error": f"no key for {bureau}"})
        answer = await call(self.routing, "POST", f"/v1/cases/{case_id}/{path}", token=token, json=body,
                            idempotency_key=f"{self.run_id}/{case_id}/{step}")
        self.stats.commands[f"{name}:{answer.status}"] += 1
        if not answer.ok:
            self.stats.refusals[answer.reason] += 1
            log.debug("%s %s by %s: %s %s", name, case_id, bureau, answer.status, answer.body)
        return answer

    def _office_hours_later(self, hours: float, start: dt.datetime | None = None) -> dt.datetime:
        return after_work_hours(start or self.clock.now(), hours)

    def _hours_later(self, hours: float, start: dt.datetime | None = None) -> dt.datetime:
        return (start or self.clock.now()) + dt.timedelta(hours=hours)

    def _view(self, case_id: str) -> CaseView | None:
        return self.cases.get(case_id)

    # -- assignment and acknowledgement -----------------------------------------------------------

    def _assigned(self, recipient: str, e: dict[str, Any]) -> None:
        if e.get("bureau") != recipient:
            return  # a co-operating bureau is only informed
        assigned_at = _time(e.get("assigned_at"))
        facts = bh.CaseFacts.from_event(e)
        if self.business(facts) is None and facts.case_id not in self.cases:
            # a case this run's outside world did not report (an earlier run's, an operator's test):
            # the simulated clerks leave it alone
            self.stats.decisions["not_ours"] += 1
            return
        known = self.cases.get(facts.case_id)
        if known is not None and known.facts.assignment_no >= facts.assignment_no:
            return  # a re-delivery of an assignment we know
        view = CaseView(facts)
        if known is not None:  # a transfer: the referral history stays with the case
            view.referral, view.referral_rounds = known.referral, known.referral_rounds
        self.cases[facts.case_id] = view
        profile = bh.bureau_profile(self.seed, facts.bureau)
        view.plan = bh.plan_acknowledgement(self.seed, facts, profile, self.city)
        self.stats.decisions[f"pace:{profile.pace}"] += 1
        if view.plan.waits_for_reminder:
            view.waiting = True
            self.stats.decisions["left_waiting"] += 1
            self._replay_early(facts.case_id)
            return
        when = self._office_hours_later(view.plan.office_hours, assigned_at)
        self.scheduler.at(when, lambda: self._acknowledge(facts.case_id, facts.assignment_no), "acknowledge")
        self._replay_early(facts.case_id)

    def _replay_early(self, case_id: str) -> None:
        for etype, who, event in self._early.pop(case_id, []):
            self._handlers[etype](who, event)

    def _figures(self, recipient: str, e: dict[str, Any]) -> None:
        view = self._view(str(e.get("case_id")))
        if view is None:
            return
        figures = {k: Decimal(str(v)) for k, v in (e.get("figures") or {}).items()}
        view.facts = bh.CaseFacts(**{**view.facts.__dict__, "figures": figures})

    def _reminded(self, recipient: str, e: dict[str, Any]) -> None:
        self._nudge(recipient, e, "reminded", share=0.6, hours=(1.0, 6.0))

    def _breached(self, recipient: str, e: dict[str, Any]) -> None:
        self._nudge(recipient, e, "breach_notice", share=0.9, hours=(2.0, 14.0))

    def _nudge(self, recipient: str, e: dict[str, Any], why: str, *, share: float, hours: tuple[float, float]) -> None:
        deadline = e.get("deadline") or {}
        view = self._view(str(e.get("case_id")))
        if view is None or deadline.get("kind") != "acknowledgement" or recipient != view.facts.bureau:
            return
        if not view.waiting or view.acted:
            return
        rng = stable_random("nudge", self.seed, view.facts.case_id, view.facts.assignment_no, why)
        if rng.random() >= share:
            return
        view.waiting = False
        self.stats.decisions[f"acted_after_{why}"] += 1
        n = view.facts.assignment_no
        self.scheduler.at(self._office_hours_later(rng.uniform(*hours)), lambda: self._acknowledge(view.facts.case_id, n),
                          "acknowledge")

    async def _acknowledge(self, case_id: str, assignment_no: int) -> None:
        view = self._view(case_id)
        if view is None or view.facts.assignment_no != assignment_no or view.acted or view.plan is None:
            return
        facts, plan = view.facts, view.plan
        if plan.action == "transfer":
            target = plan.to_bureau or f"{self.lead_of(facts.category)}@{self.city}"
            answer = await self.command(facts.bureau, case_id, "transfer", {"to_bureau": target, "reason": plan.reason or "移交"},
                                        view.step("transfer"))
            if answer.ok:
                view.acted = True
                self.stats.decisions["transfer"] += 1
                return
            if facts.bureau == self.office:
                return
            plan = bh.AckPlan("accept", 0)  # the transfer was refused (e.g. invalid target): handle it ourselves
        body: dict[str, Any] = {"decision": plan.action if plan.action != "transfer" else "accept"}
        if body["decision"] == "refuse":
            body["reason"] = plan.reason
        answer = await self.command(facts.bureau, case_id, "acknowledge", body, view.step("ack"))
        if not answer.ok:
            return
        view.acted = True
        self.stats.decisions[body["decision"]] += 1
        if body["decision"] == "accept":
            view.accepted = True
            if self.goods is not None:
                self.goods.on_accepted(facts)
            inv = bh.plan_investigation(self.seed, facts, self.business(facts))
            self.scheduler.at(self._office_hours_later(inv.office_hours), lambda: self._conclude(case_id, assignment_no),
                              "conclude")
        else:
            view.closed = True

    # -- investigation and outcome ----------------------------------------------------------------

    def _referral_active(self, view: CaseView) -> bool:
        return view.referral not in (None, "rejected", "handed_over")

    async def _conclude(self, case_id: str, assignment_no: int) -> None:
        view = self._view(case_id)
        if view is None or view.closed or view.concluded or view.facts.assignment_no != assignment_no:
            return
        if self._referral_active(view):
            return  # the referral decides how the case ends
        inv = bh.plan_investigation(self.seed, view.facts, self.business(view.facts))
        if inv.outcome == "refer" and view.referral is None:
            answer = await self.command(view.facts.bureau, case_id, "referral", {"reason": inv.detail}, "propose")
            if answer.ok:
                view.referral = "proposed"
                self.stats.decisions["refer"] += 1
                return
            if self._referral_active(view):
                return  # routing had proposed it already
            inv = bh.InvestigationPlan(inv.office_hours, "penalty",
                                       penalty=bh.plan_penalty(bh.case_random(self.seed, view.facts, "fallback"),
                                                               view.facts, self.business(view.facts)))
        if inv.outcome in ("penalty", "refer"):
            penalty = inv.penalty or bh.plan_penalty(bh.case_random(self.seed, view.facts, "fallback"), view.facts,
                                                     self.business(view.facts))
            await self._penalise(view, penalty)
        else:
            await self._record(view, inv.outcome, detail=inv.detail)

    async def _ensure_accepted(self, view: CaseView) -> bool:
        if view.accepted:
            return True
        answer = await self.command(view.facts.bureau, view.facts.case_id, "acknowledge", {"decision": "accept"},
                                    view.step("ack"))
        if answer.ok:
            view.accepted = view.acted = True
            view.waiting = False
        return view.accepted

    async def _record(self, view: CaseView, outcome: str, *, detail: str = "", decision_no: str | None = None,
                      amount: Decimal | None = None) -> None:
        if not await self._ensure_accepted(view):
            return
        body: dict[str, Any] = {"outcome": outcome, "detail": detail}
        if decision_no:
            body["decision_no"] = decision_no
        if amount is not None:
            body["penalty_amount"] = str(amount)
        answer = await self.command(view.facts.bureau, view.facts.case_id, "outcome", body, view.step("outcome"))
        if answer.ok:
            view.concluded = view.closed = True
            self.stats.decisions[f"outcome:{outcome}"] += 1

    def _party(self, facts: bh.CaseFacts) -> dict[str, Any]:
        b = self.business(facts)
        code = (b.credit_code if b else None) or facts.suspect.get("credit_code")
        name = (b.name if b else None) or facts.suspect.get("name") or f"{facts.suspect.get('platform', '网店')}店铺{facts.suspect.get('shop_id', '')}经营者"
        organisation = bool(code) and not str(code).startswith("92") and not name.endswith(("商行", "经营部", "店"))
        party: dict[str, Any] = {"kind": "organisation" if organisation else "individual_trader", "name": name}
        if code:
            party["credit_code"] = code
        return party

    def _decision_no(self, bureau: str) -> str:
        self._decisions += 1
        btype, _, place = bureau.partition("@")
        year = self.clock.now().astimezone(SHANGHAI).year
        return f"咸{place[-2:]}{btype[:4].upper()}罚〔{year}〕{self.run_id}-{self._decisions:05d}号"

    async def _penalise(self, view: CaseView, p: bh.PenaltyPlan) -> None:
        if not await self._ensure_accepted(view):
            return
        bureau = view.facts.bureau
        token = self.keys.credit.get(bureau)
        decision_no = self._decision_no(bureau)
        decided_on = self.clock.now().astimezone(SHANGHAI).date()
        body: dict[str, Any] = {
            "decision_no": decision_no, "party": self._party(view.facts), "category": view.facts.category,
            "violation": p.violation, "legal_basis": p.legal_basis, "penalty_types": p.penalty_types,
            "content": p.content, "decided_on": decided_on.isoformat(), "aggravated": p.aggravated,
            "intentional": p.intentional, "case_id": view.facts.case_id,
        }
        if p.fine is not None:
            body["fine_amount"] = str(p.fine)
        if p.confiscated is not None:
            body["confiscated_amount"] = str(p.confiscated)
        if token is None:
            self.stats.errors["no_credit_key"] += 1
            return
        answer = await call(self.credit, "POST", "/v1/penalties", token=token, json=body)  # the decision number dedupes
        outcome = {201: "recorded", 200: "duplicate"}.get(answer.status, "refused")
        self.stats.penalties[outcome] += 1
        if outcome == "refused":
            self.stats.refusals[f"penalty:{answer.reason}"] += 1
            log.info("penalty %s refused: %s %s", decision_no, answer.status, answer.body)
        await self._record(view, "penalty_decided", detail=p.content, decision_no=decision_no, amount=p.fine)
        if self.goods is not None and view.closed:
            self.goods.on_concluded(view.facts.case_id)

    # -- criminal referral (两法衔接) ----------------------------------------------------------------

    def _at(self, e: dict[str, Any]) -> dt.datetime:
        return _time(e.get("at")) or self.clock.now()

    def _agency_view(self, recipient: str, e: dict[str, Any], state: str) -> CaseView | None:
        if recipient != e.get("agency"):
            return None
        view = self._view(str(e.get("case_id")))
        if view is not None:
            view.referral = state
        return view

    def _referral_proposed(self, recipient: str, e: dict[str, Any]) -> None:
        view = self._agency_view(recipient, e, "proposed")
        if view is None:
            return
        plan = bh.plan_head_decision(self.seed, view.facts)
        body = {"approve": plan.decision == "approve", **({"reason": plan.reason} if plan.reason else {})}
        self.scheduler.at(self._hours_later(plan.hours, self._at(e)),
                          lambda: self._referral_step(view, "referral/decision", body, f"head/{view.referral_rounds}"),
                          "head decision")

    async def _referral_step(self, view: CaseView, path: str, body: dict[str, Any], step: str, *,
                             bureau: str | None = None) -> None:
        answer = await self.command(bureau or view.facts.bureau, view.facts.case_id, path, body, step)
        if answer.ok:
            self.stats.decisions[step.split("/")[0]] += 1

    def _referral_approved(self, recipient: str, e: dict[str, Any]) -> None:
        view = self._agency_view(recipient, e, "approved")
        if view is None:
            return
        plan = bh.plan_transfer_to_police(self.seed, view.facts)
        case_id = view.facts.case_id
        package = {
            "transfer_letter": {"doc_no": f"移送函-{case_id[:8]}", "title": "涉嫌犯罪案件移送书"},
            "investigation_report": {"doc_no": f"调查报告-{case_id[:8]}", "title": "涉嫌犯罪案件情况的调查报告"},
            "seized_goods_list": {"doc_no": f"清单-{case_id[:8]}", "title": "涉案物品清单"},
            "test_reports": [{"doc_no": f"鉴定-{case_id[:8]}", "title": "检验鉴定报告"}],
        }
        self.scheduler.at(self._hours_later(plan.hours, self._at(e)),
                          lambda: self._referral_step(view, "referral/transfer", {"package": package}, "transfer_to_police"),
                          "transfer to police")

    def _referral_rejected(self, recipient: str, e: dict[str, Any]) -> None:
        view = self._agency_view(recipient, e, "rejected")
        if view is None:
            return
        self._settle_later(view, self._at(e), hours=6.0)

    def _settle_later(self, view: CaseView, start: dt.datetime, *, hours: float) -> None:
        """Close the case administratively (a penalty) after `hours` of office time."""
        async def settle() -> None:
            if view.closed or view.referral in ("accepted", "handed_over"):
                return
            penalty = bh.plan_penalty(bh.case_random(self.seed, view.facts, "settle"), view.facts, self.business(view.facts))
            await self._penalise(view, penalty)

        self.scheduler.at(self._office_hours_later(hours, start), settle, "settle")

    def _police_decides(self, recipient: str, e: dict[str, Any], after: str) -> None:
        if recipient != e.get("police"):
            return
        view = self._view(str(e.get("case_id")))
        if view is None:
            # the police learn of the case only from the referral: build what they need from the event
            return
        plan = bh.plan_police_decision(self.seed, view.facts, after)
        police = str(e["police"])
        if plan.decision == "open":
            body: dict[str, Any] = {"decision": "open",
                                    "police_case_no": f"咸公立字〔{self._at(e).astimezone(SHANGHAI).year}〕{self.run_id}-{len(self.cases)}"}
        elif after == "supervision":
            return  # after supervision only opening the case moves it; otherwise the agency settles
        else:
            body = {"decision": "refuse", "reason": plan.reason}
        self.scheduler.at(self._hours_later(plan.hours, self._at(e)),
                          lambda: self._referral_step(view, "referral/police-decision", body, f"police/{after}", bureau=police),
                          "police decision")

    def _referral_transferred(self, recipient: str, e: dict[str, Any]) -> None:
        view = self._view(str(e.get("case_id")))
        if view is not None:
            view.referral = "transferred"
        self._police_decides(recipient, e, "transfer")

    def _reconsideration_requested(self, recipient: str, e: dict[str, Any]) -> None:
        self._police_decides(recipient, e, "reconsideration")

    def _supervision_requested(self, recipient: str, e: dict[str, Any]) -> None:
        self._police_decides(recipient, e, "supervision")

    def _referral_refused(self, recipient: str, e: dict[str, Any]) -> None:
        self._after_refusal(recipient, e, "refused", "first")

    def _reconsideration_refused(self, recipient: str, e: dict[str, Any]) -> None:
        self._after_refusal(recipient, e, "reconsideration_refused", "second")

    def _after_refusal(self, recipient: str, e: dict[str, Any], state: str, round_: str) -> None:
        view = self._agency_view(recipient, e, state)
        if view is None:
            return
        plan = bh.plan_after_refusal(self.seed, view.facts, round_)
        at = self._at(e)
        if plan.decision == "reconsider" and state == "refused":
            self.scheduler.at(self._hours_later(plan.hours, at),
                              lambda: self._referral_step(view, "referral/reconsideration", {"reason": plan.reason}, "reconsider"),
                              "reconsideration")
        elif plan.decision in ("supervise", "reconsider"):
            self.scheduler.at(self._hours_later(plan.hours, at),
                              lambda: self._referral_step(view, "referral/supervision", {"reason": plan.reason}, "supervise"),
                              "supervision")
            self._settle_later(view, at, hours=40.0)  # if the police still do not open a case
        else:
            self._settle_later(view, at, hours=plan.hours / 3)

    def _referral_accepted(self, recipient: str, e: dict[str, Any]) -> None:
        view = self._agency_view(recipient, e, "accepted")
        if view is None:
            return
        if self.goods is not None:
            self.goods.on_police_accepted(view.facts.case_id, e.get("police"))
        plan = bh.plan_handover(self.seed, view.facts)
        body = {"goods_list": {"doc_no": f"移交清单-{view.facts.case_id[:8]}", "title": "涉案物品移交清单"},
                "files": [{"doc_no": f"卷宗-{view.facts.case_id[:8]}", "title": "案件卷宗"}], "note": "涉案物品及材料已移交"}
        self.scheduler.at(self._hours_later(plan.hours, self._at(e)),
                          lambda: self._referral_step(view, "referral/handover", body, "handover"), "handover")

    def _handed_over(self, recipient: str, e: dict[str, Any]) -> None:
        view = self._view(str(e.get("case_id")))
        if view is not None:
            view.referral = "handed_over"
            view.closed = True

    def _closed(self, recipient: str, e: dict[str, Any]) -> None:
        view = self._view(str(e.get("case_id")))
        if view is not None:
            view.closed = True

    # -- the complainant's survey sent the case back (issue 15 §4) ---------------------------------

    def _reopened(self, recipient: str, e: dict[str, Any]) -> None:
        """Handle the case again: a refused one is acknowledged anew (accepted this time), an accepted
        one investigated again, each after office hours counted from the reopening."""
        view = self._view(str(e.get("case_id")))
        if view is None or recipient != e.get("bureau") or recipient != view.facts.bureau:
            return
        view.reopenings += 1
        view.closed = view.concluded = False
        self.stats.decisions["reopened"] += 1
        rng = bh.case_random(self.seed, view.facts, f"reopened:{view.reopenings}")
        at = _time(e.get("reopened_at"))
        n = view.facts.assignment_no
        if e.get("state") == "assigned":
            view.acted = view.accepted = view.waiting = False
            view.plan = bh.AckPlan("accept", 0)
            self.scheduler.at(self._office_hours_later(rng.uniform(2.0, 16.0), at),
                              lambda: self._acknowledge(view.facts.case_id, n), "acknowledge again")
        else:
            rounds = view.reopenings
            self.scheduler.at(self._office_hours_later(max(2.0, bh.lognormal(rng, 16.0, 0.6)), at),
                              lambda: self._handle_again(view, rounds), "handle again")

    async def _handle_again(self, view: CaseView, rounds: int) -> None:
        if view.closed or view.reopenings != rounds or self._referral_active(view):
            return
        rng = bh.case_random(self.seed, view.facts, f"again:{rounds}")
        if rng.random() < 0.35:
            await self._penalise(view, bh.plan_penalty(rng, view.facts, self.business(view.facts)))
        else:
            outcome = rng.choice(("mediated", "no_violation"))
            await self._record(view, outcome, detail="重新办理：" + ("经再次调解双方达成一致" if outcome == "mediated"
                                                                else "经重新调查仍未发现违法行为"))
