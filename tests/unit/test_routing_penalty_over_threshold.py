"""Routing's side of 以罚代刑 (issue 14 §7): a case closed with a penalty while its figures cross a criminal
threshold and no referral was made is reported to the procuratorate and the office; the conduct figure
holds a trademarks case to its own article's amounts (issue 14 §1)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from shared.contracts.bureau_actions import AcknowledgeCase, DecideReferral, RecordOutcome
from shared.contracts.routing import CasePenaltyOverThreshold
from services.routing.domain.case import Case, Context, decide, open_case
from tests.support.routing import case_opened, default_rules_and_reference

RULES, REF = default_rules_and_reference()
NOW = dt.datetime(2025, 6, 2, 2, 0, tzinfo=dt.timezone.utc)
CTX = Context(ref=REF, rules=RULES, now=NOW)
PENALTY = RecordOutcome(case_id="P-1", outcome="penalty_decided", decision_no="咸市监罚〔2025〕9号",
                        penalty_amount=Decimal("8000.00"))


def opened(figures: dict):  # noqa: ANN201
    fx = open_case(case_opened("P-1", category="trademarks", opened_at=NOW, figures=figures), ctx=CTX,
                   prior_cases_of_suspect=0)
    assert fx.case is not None
    return fx


def accepted(case: Case, referral=None) -> Case:  # noqa: ANN001
    fx = decide(case, referral, case.assignee, AcknowledgeCase(case_id="P-1", decision="accept"), None, ctx=CTX)
    assert fx.case is not None, fx.refusal
    return fx.case


def alerts(fx) -> list[CasePenaltyOverThreshold]:  # noqa: ANN001
    return [e.payload for e in fx.emissions if isinstance(e.payload, CasePenaltyOverThreshold)]


def test_a_penalty_outcome_after_the_head_rejected_the_referral_reaches_the_procuratorate_and_the_office() -> None:
    fx = opened({"illegal_turnover": Decimal(50000), "conduct": Decimal(213)})
    assert fx.referral is not None  # routing proposed it: 213's 5万 is crossed
    case = accepted(fx.case, fx.referral)
    rejected = decide(case, fx.referral, case.assignee, DecideReferral(case_id="P-1", approve=False, reason="情节轻微"),
                      None, ctx=CTX)
    assert rejected.referral is not None and rejected.referral.state == "rejected"
    done = decide(rejected.case or case, rejected.referral, case.assignee, PENALTY, None, ctx=CTX)
    [alert] = alerts(done)
    assert alert.threshold_rule == "counterfeit_trademark.turnover" and alert.referral_state == "rejected"
    assert alert.procuratorate == "procuratorate@610402" and alert.office == CTX.office
    assert "第十六条" in alert.liability_citation
    audience = next(e.audience for e in done.emissions if isinstance(e.payload, CasePenaltyOverThreshold))
    assert set(audience) == {"procuratorate@610402", CTX.office}


def test_one_fen_under_the_conducts_threshold_raises_nothing_and_a_213_case_is_not_held_to_215s_amounts() -> None:
    under = opened({"illegal_turnover": Decimal("49999.99"), "conduct": Decimal(213)})
    assert under.referral is None
    assert alerts(decide(accepted(under.case), None, under.case.assignee, PENALTY, None, ctx=CTX)) == []
    # 3万 turnover crosses 215 (2025) but not 213: named as 213, no referral and no alert; unnamed, both
    named = opened({"illegal_turnover": Decimal(30000), "conduct": Decimal(213)})
    assert named.referral is None
    assert alerts(decide(accepted(named.case), None, named.case.assignee, PENALTY, None, ctx=CTX)) == []
    unnamed = opened({"illegal_turnover": Decimal(30000)})
    assert unnamed.referral is not None and unnamed.referral.basis.rule_id == "fake_labels.turnover"


def test_a_referred_case_closed_otherwise_raises_no_alert() -> None:
    fx = opened({"illegal_turnover": Decimal(60000), "conduct": Decimal(213)})
    case = accepted(fx.case, fx.referral)
    done = decide(case, None, case.assignee, RecordOutcome(case_id="P-1", outcome="no_violation"), None, ctx=CTX)
    assert alerts(done) == []
