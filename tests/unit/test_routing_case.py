"""Bureau commands on a case: who may act, transfers and escalation, referrals proposed
by bureaus and by routing, merged figures, joint meetings, outcomes."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from shared.contracts.bureau_actions import (
    AcknowledgeCase,
    DecideCriminalCase,
    ProposeReferral,
    RecordOutcome,
    RequestTransfer,
)
from shared.contracts.cases import Suspect
from shared.contracts.referral import ReferralProposed
from shared.contracts.routing import (
    CaseAssigned,
    CaseCommandRefused,
    CaseEscalated,
    CaseFiguresUpdated,
    JointMeetingProposed,
)
from services.routing.domain.case import Case, Context, Effects, decide, merge_into, open_case, suspect_key, visible_to
from tests.support.routing import case_merged, case_opened, default_rules_and_reference

RULES, REF = default_rules_and_reference()
NOW = dt.datetime(2025, 6, 2, 2, 0, tzinfo=dt.timezone.utc)
CTX = Context(ref=REF, rules=RULES, now=NOW)
OFFICE = CTX.office


def opened(category: str = "false_advertising", **kw) -> Case:  # noqa: ANN003
    fx = open_case(case_opened("C-1", category=category, opened_at=NOW, **kw), ctx=CTX, prior_cases_of_suspect=0)
    assert fx.case is not None
    return fx.case


def types(fx: Effects) -> list[str]:
    return [type(e.payload).__name__ for e in fx.emissions]


def test_only_the_assignee_may_act_and_anyone_else_is_refused_with_a_reason_and_nothing_changes() -> None:
    case = opened()
    fx = decide(case, None, "culture@610402", RequestTransfer(case_id="C-1", to_bureau="culture@610402", reason="mine"),
                "cmd-1", ctx=CTX)
    assert fx.case is None and fx.referral is None
    refusal = fx.emissions[0].payload
    assert isinstance(refusal, CaseCommandRefused)
    assert (refusal.reason, refusal.actor, refusal.command_id) == ("not_assignee", "culture@610402", "cmd-1")
    assert fx.emissions[0].audience == ("culture@610402",)


def test_a_command_about_an_unknown_case_is_refused() -> None:
    fx = decide(None, None, "culture@610402", AcknowledgeCase(case_id="nope", decision="accept"), None, ctx=CTX)
    assert fx.refusal is not None and fx.refusal.reason == "unknown_case"


def test_refusing_a_case_needs_a_reason_and_closes_it_with_every_deadline() -> None:
    case = opened()
    no_reason = decide(case, None, case.assignee, AcknowledgeCase(case_id="C-1", decision="refuse"), None, ctx=CTX)
    assert no_reason.refusal is not None and no_reason.refusal.reason == "reason_required"
    fx = decide(case, None, case.assignee, AcknowledgeCase(case_id="C-1", decision="refuse", reason="no jurisdiction"),
                None, ctx=CTX)
    assert fx.case is not None and fx.case.state == "not_accepted"
    assert [c.state for c in fx.close_deadlines] == ["met", "cancelled"]


def test_acknowledging_records_how_long_it_took_and_whether_it_was_late() -> None:
    case = opened()
    late = Context(ref=REF, rules=RULES, now=case.ack_due_at + dt.timedelta(seconds=1))
    fx = decide(case, None, case.assignee, AcknowledgeCase(case_id="C-1", decision="accept"), None, ctx=late)
    ack = fx.emissions[0].payload
    assert ack.late and ack.seconds_to_acknowledge == (late.now - case.assigned_at).total_seconds()
    again = decide(fx.case, None, case.assignee, AcknowledgeCase(case_id="C-1", decision="accept"), None, ctx=late)
    assert again.refusal is not None and again.refusal.reason == "illegal_transition"


def test_a_transfer_moves_the_case_and_its_stream_to_the_new_bureau() -> None:
    case = opened()
    fx = decide(case, None, case.assignee, RequestTransfer(case_id="C-1", to_bureau="culture@610402", reason="piracy"),
                None, ctx=CTX)
    assert fx.case is not None and fx.case.assignee == "culture@610402" and fx.case.state == "assigned"
    assert types(fx) == ["CaseTransferred", "CaseAssigned"]
    transferred, assigned = (e for e in fx.emissions)
    assert transferred.audience == (case.assignee, "culture@610402")
    assert assigned.audience == ("culture@610402",)
    assert isinstance(assigned.payload, CaseAssigned) and assigned.payload.transferred_from == case.assignee
    assert assigned.payload.assignment_no == 2
    (ack,) = fx.open_deadlines
    assert ack.bureau == "culture@610402" and ack.deadline_id == "C-1/acknowledgement/2"


def test_a_case_bounced_more_than_the_configured_times_escalates_to_the_office() -> None:
    case = opened()
    targets = ["culture@610402", "market_regulation@610402"]
    for i in range(RULES.max_transfers):
        fx = decide(case, None, case.assignee, RequestTransfer(case_id="C-1", to_bureau=targets[i % 2], reason="not ours"),
                    None, ctx=CTX)
        assert fx.case is not None
        case = fx.case
        assert not fx.emissions[0].payload.escalated
    fx = decide(case, None, case.assignee, RequestTransfer(case_id="C-1", to_bureau=targets[RULES.max_transfers % 2],
                                                            reason="not ours"), None, ctx=CTX)
    assert fx.case is not None and fx.case.assignee == OFFICE
    assert types(fx) == ["CaseTransferred", "CaseEscalated", "CaseAssigned"]
    assert isinstance(fx.emissions[1].payload, CaseEscalated) and fx.emissions[1].audience == (OFFICE,)
    # the office directs it; its transfer does not count as a bounce
    directed = decide(fx.case, None, OFFICE, RequestTransfer(case_id="C-1", to_bureau="culture@610404", reason="yours"),
                      None, ctx=CTX)
    assert directed.case is not None and directed.case.assignee == "culture@610404" and directed.case.transfers == 0


def test_a_transfer_to_a_bureau_that_does_not_exist_or_to_itself_is_refused() -> None:
    case = opened()
    for target in ("market_regulation@610402", "no_such@610402", "culture@110101"):
        fx = decide(case, None, case.assignee, RequestTransfer(case_id="C-1", to_bureau=target, reason="x"), None, ctx=CTX)
        assert fx.refusal is not None and fx.refusal.reason == "invalid_target", target


def test_figures_crossing_the_threshold_make_routing_propose_the_referral_itself() -> None:
    fx = open_case(case_opened("C-2", category="trademarks", opened_at=NOW, figures={"illegal_turnover": 60000}),
                   ctx=CTX, prior_cases_of_suspect=0)
    assert types(fx) == ["CaseAssigned", "ReferralProposed"]
    proposed = fx.emissions[1].payload
    assert isinstance(proposed, ReferralProposed)
    assert proposed.proposed_by == "routing" and proposed.basis.kind == "threshold_crossed"
    assert proposed.basis.rule_id == "counterfeit_trademark.turnover"
    assert proposed.police == "public_security@610402"
    assert proposed.next_deadline is not None and proposed.next_deadline.kind == "referral_head_decision"


def test_a_merged_report_that_lifts_the_figures_over_the_threshold_triggers_the_referral() -> None:
    event = case_opened("C-3", category="product_quality", opened_at=NOW, figures={"sales": 30000})
    fx = open_case(event, ctx=CTX, prior_cases_of_suspect=0)
    assert types(fx) == ["CaseAssigned"]
    merged = merge_into(fx.case, None, case_merged(event, figures={"sales": 60000}), ctx=CTX)
    assert types(merged) == ["CaseFiguresUpdated", "ReferralProposed"]
    update = merged.emissions[0].payload
    assert isinstance(update, CaseFiguresUpdated) and update.threshold_crossed
    assert merged.case is not None and merged.case.figures == {"sales": Decimal(60000)}


def test_a_bureau_may_propose_an_ip_referral_at_any_amount_but_not_a_non_ip_one_below_the_threshold() -> None:
    ip_case = opened("patents")
    fx = decide(ip_case, None, ip_case.assignee, ProposeReferral(case_id="C-1", reason="reasonable suspicion"), None, ctx=CTX)
    assert fx.referral is not None and fx.referral.basis.kind == "ip_reasonable_suspicion"
    quality = opened("product_quality", figures={"sales": 1000})
    fx = decide(quality, None, quality.assignee, ProposeReferral(case_id="C-1", reason="big"), None, ctx=CTX)
    assert fx.refusal is not None and fx.refusal.reason == "below_threshold"


def test_a_case_with_the_police_cannot_be_referred_to_the_police() -> None:
    case = opened("online_fraud")
    assert case.assignee.startswith("public_security@")
    fx = decide(case, None, case.assignee, ProposeReferral(case_id="C-1", reason="x"), None, ctx=CTX)
    assert fx.refusal is not None and fx.refusal.reason == "already_with_police"


def test_only_the_referrals_police_may_decide_on_it() -> None:
    fx = open_case(case_opened("C-2", category="counterfeit_drugs", opened_at=NOW), ctx=CTX, prior_cases_of_suspect=0)
    case, referral = fx.case, fx.referral
    assert referral is not None  # selling fake drugs crosses at any amount
    decision = DecideCriminalCase(case_id="C-2", decision="open")
    for actor in (case.assignee, "public_security@610404", referral.police):
        refused = decide(case, referral, actor, decision, None, ctx=CTX)
        assert refused.refusal is not None and refused.refusal.reason == "not_police_of_referral"  # not yet transferred


def test_a_transfer_is_refused_while_a_referral_is_in_progress() -> None:
    fx = open_case(case_opened("C-2", category="counterfeit_drugs", opened_at=NOW), ctx=CTX, prior_cases_of_suspect=0)
    refused = decide(fx.case, fx.referral, fx.case.assignee,
                     RequestTransfer(case_id="C-2", to_bureau="culture@610402", reason="x"), None, ctx=CTX)
    assert refused.refusal is not None and refused.refusal.reason == "referral_in_progress"


def test_an_outcome_needs_an_accepted_case_and_a_penalty_names_its_decision() -> None:
    case = opened()
    early = decide(case, None, case.assignee, RecordOutcome(case_id="C-1", outcome="no_violation"), None, ctx=CTX)
    assert early.refusal is not None and early.refusal.reason == "illegal_transition"
    accepted = decide(case, None, case.assignee, AcknowledgeCase(case_id="C-1", decision="accept"), None, ctx=CTX).case
    unnamed = decide(accepted, None, case.assignee, RecordOutcome(case_id="C-1", outcome="penalty_decided"), None, ctx=CTX)
    assert unnamed.refusal is not None and unnamed.refusal.reason == "reason_required"
    done = decide(accepted, None, case.assignee, RecordOutcome(case_id="C-1", outcome="penalty_decided",
                                                                decision_no="咸市监罚〔2025〕7号",
                                                                penalty_amount=Decimal("5000.00")), None, ctx=CTX)
    assert done.case is not None and done.case.state == "closed" and done.case.outcome == "penalty_decided"
    closed = decide(done.case, None, case.assignee, AcknowledgeCase(case_id="C-1", decision="accept"), None, ctx=CTX)
    assert closed.refusal is not None and closed.refusal.reason == "case_closed"


def test_a_major_cross_county_case_proposes_one_joint_meeting_to_the_office_naming_the_bureaus() -> None:
    event = case_opened("C-4", category="cross_border", opened_at=NOW, counties=["610402", "610481"])
    fx = open_case(event, ctx=CTX, prior_cases_of_suspect=0)
    meeting = next(e for e in fx.emissions if isinstance(e.payload, JointMeetingProposed))
    assert meeting.audience == (OFFICE,)
    assert meeting.payload.bureaus == [fx.case.assignee, *fx.case.co_bureaus]
    assert set(meeting.payload.reasons) == {"several_bureaus", "cross_county"}
    again = merge_into(fx.case, fx.referral, case_merged(event, figures={"sales": 10}), ctx=CTX)
    assert not any(isinstance(e.payload, JointMeetingProposed) for e in again.emissions)


def test_an_ordinary_county_case_proposes_no_joint_meeting() -> None:
    fx = open_case(case_opened("C-5", category="false_advertising", opened_at=NOW), ctx=CTX, prior_cases_of_suspect=0)
    assert not any(isinstance(e.payload, JointMeetingProposed) for e in fx.emissions)


def test_a_suspect_is_recognised_by_credit_code_first_then_name_and_county() -> None:
    assert suspect_key(Suspect(credit_code="91110000600037341L", name="A"), "610402") == "uscc:91110000600037341L"
    assert suspect_key(Suspect(name="Ａ  Shop"), "610402") == suspect_key(Suspect(name="a shop"), "610402")
    assert suspect_key(Suspect(name="A Shop"), "610402") != suspect_key(Suspect(name="A Shop"), "610404")
    assert suspect_key(Suspect(platform="tb", shop_id="9"), "610402") == "shop:tb:9"
    assert suspect_key(Suspect(), "610402") is None


def test_a_case_is_visible_to_its_assignee_the_office_and_the_police_it_was_transferred_to_only() -> None:
    case = opened()
    assert visible_to(case, None, case.assignee, OFFICE)
    assert visible_to(case, None, OFFICE, OFFICE)
    assert not visible_to(case, None, "culture@610402", OFFICE)
    assert not visible_to(case, None, "public_security@610402", OFFICE)


def test_cases_of_one_batch_are_placed_as_if_each_were_placed_alone() -> None:
    # one context serves a whole batch and remembers placements by what decides them: the cases of
    # a batch that differ only in id share a placement, and a major or repeat case is not given
    # the placement of an ordinary one it was remembered for
    from services.routing.domain.placement import CaseFacts, place

    batch = Context(ref=REF, rules=RULES, now=NOW)
    facts = [
        CaseFacts("B-1", "false_advertising", "610402", ("610402",), {}),
        CaseFacts("B-2", "false_advertising", "610402", ("610402",), {}),
        CaseFacts("B-3", "false_advertising", "610402", ("610402",), {"amount_involved": Decimal("90000000")}),
        CaseFacts("B-4", "false_advertising", "610402", ("610402", "610403"), {}),
        CaseFacts("B-5", "food", "610403", ("610403",), {}),
    ]
    for prior in (0, 5, 0):
        for f in facts:
            assert batch.place(f, prior) == place(f, ref=REF, rules=RULES, now=NOW, prior_cases_of_suspect=prior)
    assert batch.place(facts[0], 0) != batch.place(facts[2], 0)
    assert batch.place(facts[0], 0) != batch.place(facts[0], 5)


def test_a_merged_report_keeps_the_appraised_figures_the_reports_do_not_know_of() -> None:
    event = case_opened("C-3m", category="trademarks", opened_at=NOW, figures={"sales": 1000})
    fx = open_case(event, ctx=CTX, prior_cases_of_suspect=0)
    appraised = [{"unsold_value": Decimal(300000)}, {"unsold_value": Decimal(300000)}]
    merged = merge_into(fx.case, None, case_merged(event, figures={"sales": 2000, "unsold_value": 100}), ctx=CTX,
                        appraised=appraised)
    assert merged.case is not None
    assert merged.case.figures == {"sales": Decimal(2000), "unsold_value": Decimal(600000)}
    update = merged.emissions[0].payload
    assert isinstance(update, CaseFiguresUpdated) and update.figures["unsold_value"] == Decimal(600000)


def test_a_merged_report_above_the_appraisals_takes_the_reports_figure() -> None:
    event = case_opened("C-3n", category="trademarks", opened_at=NOW, figures={"sales": 1000})
    fx = open_case(event, ctx=CTX, prior_cases_of_suspect=0)
    merged = merge_into(fx.case, None, case_merged(event, figures={"unsold_value": 900000}), ctx=CTX,
                        appraised=[{"unsold_value": Decimal(600000)}])
    assert merged.case is not None and merged.case.figures == {"unsold_value": Decimal(900000)}


def test_a_case_opened_from_the_priority_lane_keeps_the_lane_through_every_command() -> None:
    fx = open_case(case_opened("C-L", category="false_advertising", opened_at=NOW), ctx=CTX, prior_cases_of_suspect=0,
                   on_lane=True)
    assert fx.case is not None and fx.case.priority_lane
    after = decide(fx.case, None, fx.case.assignee, AcknowledgeCase(case_id="C-L", decision="accept"), "cmd-1", ctx=CTX)
    assert after.case is not None and after.case.priority_lane, "set at opening, never changed"
    assert not opened().priority_lane, "a case opened from the bulk topic is not on the lane"
