"""The referral (两法衔接) and case state machines under any sequence of commands from
anyone: no sequence reaches an illegal state (hypothesis stateful testing)."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from shared.contracts.bureau_actions import (
    AcknowledgeCase,
    BureauCommand,
    DecideCriminalCase,
    DecideReferral,
    HandOver,
    ProposeReferral,
    RecordOutcome,
    RequestReconsideration,
    RequestSupervision,
    RequestTransfer,
    TransferToPolice,
)
from shared.contracts.referral import DocumentRef, TransferPackage
from shared.contracts.routing import CaseCommandRefused
from services.routing.domain import referral as machine
from services.routing.domain.case import Context, Effects, decide, open_case
from tests.support.routing import case_opened, default_rules_and_reference

RULES, REF = default_rules_and_reference()
START = dt.datetime(2025, 3, 3, 1, 0, tzinfo=dt.timezone.utc)
CASE = "C-H"
DOC = DocumentRef(doc_no="X-1")
FULL = TransferPackage(transfer_letter=DOC, investigation_report=DOC, seized_goods_list=DOC, test_reports=[DOC])
PARTIAL = TransferPackage(transfer_letter=DOC, test_reports=[])
reasons = st.sampled_from([None, "because", "because", "because"])
#: anyone may send anything; the right actor is drawn more often so deep states are reached
actors = st.sampled_from(["assignee"] * 6 + ["police", "stranger", "office", "procuratorate"])
police_actors = st.sampled_from(["police"] * 6 + ["assignee", "stranger", "office", "procuratorate"])


class CaseMachine(RuleBasedStateMachine):
    @initialize(category=st.sampled_from(["trademarks", "product_quality", "counterfeit_drugs", "pyramid_selling"]),
                crossing=st.booleans())
    def open(self, category: str, crossing: bool) -> None:
        self.now = START
        figures = {"illegal_turnover": 60000, "sales": 60000} if crossing else {}
        fx = open_case(case_opened(CASE, category=category, figures=figures, opened_at=START), ctx=self.ctx(),
                       prior_cases_of_suspect=0)
        self.case, self.referral = fx.case, None
        self.deadlines: dict[str, dict[str, Any]] = {}
        self.transitions: list[tuple[str | None, str]] = []
        self.accepted = self.refused = 0
        self.absorb(fx, actor="routing")

    def ctx(self) -> Context:
        return Context(ref=REF, rules=RULES, now=self.now)

    def who(self, actor: str) -> str:
        jurisdiction = self.case.assignee.split("@")[1]
        return {
            "assignee": self.case.assignee,
            "police": self.referral.police if self.referral else f"public_security@{jurisdiction}",
            "stranger": "culture@610404",
            "office": self.ctx().office,
            "procuratorate": f"procuratorate@{jurisdiction}",
        }[actor]

    # -- applying effects ------------------------------------------------------------------

    def absorb(self, fx: Effects, actor: str) -> None:
        if fx.case is not None:
            self.case = fx.case
        if fx.referral is not None:
            before = self.referral.state if self.referral and self.referral.referral_id == fx.referral.referral_id else (
                self.referral.state if self.referral and self.referral.state in machine.CLOSED else None)
            if before != fx.referral.state:
                self.transitions.append((before, fx.referral.state))
            self.referral = fx.referral
        for c in fx.close_deadlines:
            for d in self.deadlines.values():
                if d["state"] == "open" and (c.kinds is None or d["kind"] in c.kinds):
                    d["state"] = c.state
        for spec in fx.open_deadlines:
            assert spec.deadline_id not in self.deadlines, f"deadline {spec.deadline_id} opened twice"
            assert spec.due_at >= spec.starts_at and spec.warn_at <= spec.due_at
            self.deadlines[spec.deadline_id] = {"kind": spec.kind, "state": "open", "bureau": spec.bureau}

    def send(self, actor: str, command: BureauCommand) -> None:
        name = self.who(actor)
        case_before, referral_before = replace(self.case), (replace(self.referral) if self.referral else None)
        fx = decide(self.case, self.referral, name, command, "cmd", ctx=self.ctx())
        if fx.refusal is not None:
            self.refused += 1
            assert [type(e.payload) for e in fx.emissions] == [CaseCommandRefused]
            assert fx.emissions[0].audience == (name,)
            assert fx.case is None and fx.referral is None and not fx.open_deadlines and not fx.close_deadlines
            assert self.case == case_before and self.referral == referral_before
            return
        self.accepted += 1
        assert fx.emissions, "an honoured command announces what happened"
        police_command = isinstance(command, DecideCriminalCase)
        assert name == (referral_before.police if police_command and referral_before else case_before.assignee), (
            f"{name} acted on a case assigned to {case_before.assignee}")
        assert case_before.is_open
        self.absorb(fx, actor=name)

    # -- commands ----------------------------------------------------------------------------

    @rule(actor=actors, decision=st.sampled_from(["accept", "refuse"]), reason=reasons)
    def acknowledge(self, actor: str, decision: str, reason: str | None) -> None:
        self.send(actor, AcknowledgeCase(case_id=CASE, decision=decision, reason=reason))

    @rule(actor=actors, to=st.sampled_from(["culture@610402", "market_regulation@610404", "quality@610481",
                                             "public_security@610402", "office@610400", "postal@610422"]))
    def transfer(self, actor: str, to: str) -> None:
        self.send(actor, RequestTransfer(case_id=CASE, to_bureau=to, reason="not ours"))

    @rule(actor=actors)
    def propose(self, actor: str) -> None:
        self.send(actor, ProposeReferral(case_id=CASE, reason="suspected crime"))

    @rule(actor=actors, approve=st.booleans(), reason=reasons)
    def head_decides(self, actor: str, approve: bool, reason: str | None) -> None:
        self.send(actor, DecideReferral(case_id=CASE, approve=approve, reason=reason))

    @rule(actor=actors, complete=st.sampled_from([True, True, True, False]))
    def transfer_to_police(self, actor: str, complete: bool) -> None:
        self.send(actor, TransferToPolice(case_id=CASE, package=FULL if complete else PARTIAL))

    @rule(actor=police_actors, decision=st.sampled_from(["open", "refuse"]), reason=reasons)
    def police_decide(self, actor: str, decision: str, reason: str | None) -> None:
        self.send(actor, DecideCriminalCase(case_id=CASE, decision=decision, reason=reason, police_case_no="P-1"))

    @rule(actor=actors)
    def reconsider(self, actor: str) -> None:
        self.send(actor, RequestReconsideration(case_id=CASE, reason="the figures cross the threshold"))

    @rule(actor=actors)
    def supervise(self, actor: str) -> None:
        self.send(actor, RequestSupervision(case_id=CASE, reason="refused without grounds"))

    @rule(actor=actors)
    def hand_over(self, actor: str) -> None:
        self.send(actor, HandOver(case_id=CASE, files=[DOC], goods_list=DOC))

    @rule(actor=actors, outcome=st.sampled_from(["penalty_decided", "no_violation", "mediated"]),
          decision_no=st.sampled_from([None, "咸市监罚〔2025〕1号"]))
    def record_outcome(self, actor: str, outcome: str, decision_no: str | None) -> None:
        self.send(actor, RecordOutcome(case_id=CASE, outcome=outcome, decision_no=decision_no))

    @rule(pick=st.integers(min_value=0, max_value=7))
    def a_legal_next_step(self, pick: int) -> None:
        """Drive the referral along one of its legal transitions (the right actor, complete documents),
        so that the random commands around it meet every state."""
        state = self.referral.state if self.referral is not None else None
        actions = sorted(a for (s, a) in machine.TRANSITIONS if s == state)
        if not actions:
            return
        action = actions[pick % len(actions)]
        command: BureauCommand = {
            "propose": ProposeReferral(case_id=CASE, reason="suspected crime"),
            "approve": DecideReferral(case_id=CASE, approve=True),
            "reject": DecideReferral(case_id=CASE, approve=False, reason="not a crime"),
            "transfer": TransferToPolice(case_id=CASE, package=FULL),
            "open": DecideCriminalCase(case_id=CASE, decision="open", police_case_no="P-1"),
            "refuse": DecideCriminalCase(case_id=CASE, decision="refuse", reason="no crime"),
            "reconsider": RequestReconsideration(case_id=CASE, reason="please reconsider"),
            "supervise": RequestSupervision(case_id=CASE, reason="please supervise"),
            "hand_over": HandOver(case_id=CASE, files=[DOC], goods_list=DOC),
        }[action]
        self.send("police" if machine.ROLE[action] == "police" else "assignee", command)

    @rule(hours=st.integers(min_value=1, max_value=24 * 10))
    def time_passes(self, hours: int) -> None:
        self.now += dt.timedelta(hours=hours)

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def states_are_known(self) -> None:
        assert self.case.state in {"assigned", "accepted", "closed", "not_accepted"}
        assert self.referral is None or self.referral.state in machine.STATES

    @invariant()
    def every_referral_step_is_a_legal_transition(self) -> None:
        legal = {(s, n) for (s, _), n in machine.TRANSITIONS.items()}
        for step in self.transitions:
            assert step in legal, f"illegal referral step {step}"

    @invariant()
    def exactly_the_current_steps_deadlines_are_open(self) -> None:
        open_kinds = sorted(d["kind"] for d in self.deadlines.values() if d["state"] == "open")
        if not self.case.is_open:
            assert open_kinds == [], f"a {self.case.state} case has open deadlines {open_kinds}"
            return
        expected = ["acknowledgement"] if self.case.state == "assigned" else []
        if self.referral is not None and self.referral.state in machine.STEP_DEADLINE:
            expected.append(machine.STEP_DEADLINE[self.referral.state][0])
        assert open_kinds == sorted(expected)

    @invariant()
    def a_closed_case_leaves_no_referral_waiting_on_anyone(self) -> None:
        if not self.case.is_open and self.referral is not None:
            assert self.referral.state in machine.CLOSED | machine.SETTLED, self.referral.state

    @invariant()
    def the_police_only_see_a_referral_with_the_complete_package(self) -> None:
        if self.referral is not None and self.referral.state in machine.POLICE_INVOLVED:
            assert self.referral.package is not None and not machine.missing_documents(self.referral.package)

    @invariant()
    def a_handed_over_referral_closes_the_case_as_referred_to_the_police(self) -> None:
        if self.referral is not None and self.referral.state == "handed_over":
            assert self.case.state == "closed" and self.case.outcome == "referred_to_police"

    @invariant()
    def an_active_referral_belongs_to_the_current_assignee(self) -> None:
        if self.referral is not None and machine.is_active(self.referral.state):
            assert self.referral.agency == self.case.assignee
            assert self.referral.police == f"public_security@{self.case.assignee.split('@')[1]}"

    @invariant()
    def a_case_bounced_too_often_is_with_the_office(self) -> None:
        assert self.case.transfers <= RULES.max_transfers + 1
        if self.case.transfers > RULES.max_transfers:
            assert self.case.assignee == self.ctx().office

    @invariant()
    def the_police_never_lead_a_referral_of_their_own_case(self) -> None:
        if self.referral is not None and machine.is_active(self.referral.state):
            assert not self.case.assignee.startswith("public_security@")


CaseMachine.TestCase.settings = settings(
    max_examples=400, stateful_step_count=60, deadline=None, suppress_health_check=[HealthCheck.too_slow],
)
TestNoSequenceOfCommandsReachesAnIllegalState = CaseMachine.TestCase


def test_the_transition_table_only_names_known_states_and_actions() -> None:
    for (state, action), new in machine.TRANSITIONS.items():
        assert state is None or state in machine.STATES
        assert action in machine.ACTIONS and new in machine.STATES
    for state in machine.STEP_DEADLINE:
        assert state in machine.STATES
    assert set(RULES.referral_rules) == {kind for kind, _ in machine.STEP_DEADLINE.values()}
