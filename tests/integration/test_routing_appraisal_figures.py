"""Appraisal results (issue 15 §2) on the real stack: routing takes each reported appraisal's
figures into its case once, adds up the appraisals of different lots, re-evaluates the criminal
threshold and proposes the referral; a later merged report does not lower the appraised figures;
an appraisal of a case routing does not know is dead-lettered, and the appraisal's other steps
are passed over."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest

from shared.contracts.appraisal import AppraisalReported, AppraisalStepped
from shared.contracts.referral import DocumentRef, ReferralProposed
from shared.contracts.routing import CaseAssigned, CaseFiguresUpdated
from tests.support import stack
from tests.support.routing import RoutingWorld, case_merged, case_opened

pytestmark = pytest.mark.stack
NOW = dt.datetime.now(dt.timezone.utc)


def etype(record: Any) -> str:
    return stack.header(record, "ce_type") or ""


def reported(appraisal_id: str, case_id: str, unsold: str, lot: str) -> AppraisalReported:
    return AppraisalReported(
        appraisal_id=appraisal_id, case_id=case_id, bureau="market_regulation@610402", provider="centre-1",
        provider_kind="appraisal_centre", kind="authenticity", verdict="counterfeit", valuation=Decimal(unsold),
        report=DocumentRef(doc_no=f"鉴字{appraisal_id}"), evidential_weight="appraisal_opinion",
        figures={"unsold_value": Decimal(unsold)}, lot_id=lot, reported_at=NOW)


async def test_appraised_counterfeit_goods_of_two_lots_add_up_cross_the_threshold_and_routing_proposes_the_referral() -> None:
    w = RoutingWorld(uuid.uuid4().hex[:10], bootstrap=stack.bootstrap(), dsn=stack.dsn())
    await w.create_topics(partitions=1)
    case_id = f"A-{w.unique}"
    await w.open_cases(case_opened(case_id, category="trademarks", figures={"sales": 1000}))
    async with w.running(watch=False):
        await stack.eventually(lambda: stack.read_all(w.routing_topic),
                               until=lambda rs: any(etype(r) == CaseAssigned.EVENT_TYPE for r in rs), what="assigned")
        first = reported(f"apr-1-{w.unique}", case_id, "300000", "lot_a")
        await w.publish(w.appraisal_topic,
                        AppraisalStepped(appraisal_id=first.appraisal_id, case_id=case_id, bureau=first.bureau,
                                         provider="centre-1", provider_kind="appraisal_centre", kind="authenticity",
                                         step="accepted", at=NOW),
                        first, first,                                  # a repeated report counts once
                        reported(f"apr-2-{w.unique}", case_id, "300000", "lot_b"),
                        reported(f"apr-3-{w.unique}", f"nobody-{w.unique}", "1", "lot_c"))
        referrals = await stack.eventually(lambda: stack.read_all(w.referral_topic), until=lambda rs: len(rs) >= 1,
                                           what="the referral proposal", timeout=60)
        dead = await stack.eventually(lambda: stack.read_all(w.appraisal_topic + ".dlq"), until=lambda rs: len(rs) >= 1,
                                      what="the unknown case's appraisal dead-lettered", timeout=30)
        routing = await stack.eventually(
            lambda: stack.read_all(w.routing_topic),
            until=lambda rs: any(CaseFiguresUpdated.model_validate_json(r.value).figures.get("unsold_value") == Decimal("600000")
                                 for r in rs if etype(r) == CaseFiguresUpdated.EVENT_TYPE),
            what="the figures of both appraisals", timeout=30)
    updates = [CaseFiguresUpdated.model_validate_json(r.value) for r in routing if etype(r) == CaseFiguresUpdated.EVENT_TYPE]
    assert [u.figures["unsold_value"] for u in updates][-1] == Decimal("600000")
    assert all(u.figures["sales"] == Decimal("1000") for u in updates)   # the reports' figures stay
    assert any(u.threshold_crossed for u in updates)
    proposal = ReferralProposed.model_validate_json(referrals[0].value)
    assert proposal.case_id == case_id and proposal.proposed_by == "routing"
    row = await w.case_row(case_id)
    assert json.loads(row["figures"]) == {"sales": "1000", "unsold_value": "600000"}
    counted = await w.fetch("SELECT appraisal_id FROM case_appraisals ORDER BY appraisal_id")
    assert [r["appraisal_id"] for r in counted] == [f"apr-1-{w.unique}", f"apr-2-{w.unique}"]
    assert [stack.header(r, "dlq-reason") for r in dead] == ["unknown_case"]


async def test_a_report_merged_after_an_appraisal_keeps_the_appraised_figure_and_takes_its_own() -> None:
    w = RoutingWorld(uuid.uuid4().hex[:10], bootstrap=stack.bootstrap(), dsn=stack.dsn())
    await w.create_topics(partitions=1)
    case_id = f"M-{w.unique}"
    opened = case_opened(case_id, category="trademarks", figures={"sales": 1000})
    await w.open_cases(opened)
    async with w.running(watch=False):
        await stack.eventually(lambda: stack.read_all(w.routing_topic),
                               until=lambda rs: any(etype(r) == CaseAssigned.EVENT_TYPE for r in rs), what="assigned")
        await w.publish(w.appraisal_topic, reported(f"apr-m-{w.unique}", case_id, "300000", "lot_a"))
        await stack.eventually(lambda: w.case_row(case_id),
                               until=lambda row: json.loads(row["figures"]).get("unsold_value") == "300000",
                               what="the appraised figure", timeout=60)
        await w.open_cases(case_merged(opened, figures={"sales": 2000, "unsold_value": 50}))
        row = await stack.eventually(lambda: w.case_row(case_id),
                                     until=lambda row: row["reports_count"] == 2, what="the merged report", timeout=60)
    assert json.loads(row["figures"]) == {"sales": "2000", "unsold_value": "300000"}
