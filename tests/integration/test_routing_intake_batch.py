"""Intake's case events applied as one batch on the real stack: a case's later events see what its
earlier ones in the same batch did, a merge into a case never opened goes to the DLQ without holding
back the rest, and a suspect's cases are counted in order within the batch."""
from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.contracts.cases import Suspect
from shared.contracts.referral import ReferralProposed
from shared.contracts.routing import CaseAssigned, CaseFiguresUpdated
from tests.support.routing import RoutingWorld, case_merged, case_opened
from tests.support import stack

pytestmark = pytest.mark.stack


def etype(record: Any) -> str:
    return stack.header(record, "ce_type") or ""


async def test_one_batch_opens_a_case_merges_into_it_refuses_an_unknown_merge_and_counts_a_repeat_suspect() -> None:
    w = RoutingWorld(uuid.uuid4().hex[:10], bootstrap=stack.bootstrap(), dsn=stack.dsn())
    await w.create_topics(partitions=1)  # one partition: everything below arrives in one consumer batch
    merged_id, unknown_id = f"M-{w.unique}", f"U-{w.unique}"
    first, second = f"R1-{w.unique}", f"R2-{w.unique}"
    repeat = Suspect(name=f"repeat shop {w.unique}", credit_code=None)
    opened = case_opened(merged_id, category="product_quality", figures={"sales": 30000})
    stray = case_opened(unknown_id, category="product_quality")
    # published before routing starts, so the consumer's first poll takes them all
    await w.open_cases(
        opened,
        case_merged(stray, figures={"sales": 10}),                      # never opened: refused
        case_opened(first, county="610402", suspect=repeat),
        case_merged(opened, figures={"sales": 60000}, reports_count=2),  # crosses the threshold
        case_opened(second, county="610402", suspect=repeat),           # the suspect's second case
        opened,                                                         # a repeated opening: ignored
    )
    async with w.running(watch=False):
        routing = await stack.eventually(
            lambda: stack.read_all(w.routing_topic),
            until=lambda rs: sum(etype(r) == CaseAssigned.EVENT_TYPE for r in rs) >= 3
            and any(etype(r) == CaseFiguresUpdated.EVENT_TYPE for r in rs),
            what="three assignments and the figures update", timeout=60)
        dead = await stack.eventually(lambda: stack.read_all(w.intake_topic + ".dlq"), until=lambda rs: len(rs) >= 1,
                                      what="the unknown merge dead-lettered", timeout=30)
        referrals = await stack.eventually(lambda: stack.read_all(w.referral_topic), until=lambda rs: len(rs) >= 1,
                                           what="the referral proposal", timeout=30)

    of_merged = [etype(r) for r in routing if r.key == merged_id.encode()]
    assert of_merged == [CaseAssigned.EVENT_TYPE, CaseFiguresUpdated.EVENT_TYPE]
    updated = CaseFiguresUpdated.model_validate_json(next(r for r in routing if etype(r) == CaseFiguresUpdated.EVENT_TYPE).value)
    assert updated.threshold_crossed and updated.reports_count == 2
    proposal = ReferralProposed.model_validate_json(referrals[0].value)
    assert proposal.case_id == merged_id and proposal.proposed_by == "routing"
    row = await w.case_row(merged_id)
    assert row["reports_count"] == 2 and await w.case_row(unknown_id) is None
    assert [stack.header(r, "dlq-reason") for r in dead] == ["unknown_case"]
    assert [stack.header(r, "dlq-field") for r in dead] == ["case_id"]
    assignments = {CaseAssigned.model_validate_json(r.value).case_id: CaseAssigned.model_validate_json(r.value)
                   for r in routing if etype(r) == CaseAssigned.EVENT_TYPE}
    assert "repeat_suspect" not in assignments[first].reasons
    assert "repeat_suspect" in assignments[second].reasons and assignments[second].level == "city"
    # every event names the record that caused it
    assert all(stack.header(r, "ce_causationid") for r in routing)


def assignments_counted() -> float:
    from prometheus_client import REGISTRY

    return sum(s.value for m in REGISTRY.collect() if m.name == "shuangda_assignments" for s in m.samples
               if s.name == "shuangda_assignments_total")


async def test_a_batch_re_run_one_record_at_a_time_around_a_poison_record_counts_each_assignment_once(caplog) -> None:
    w = RoutingWorld(uuid.uuid4().hex[:10], bootstrap=stack.bootstrap(), dsn=stack.dsn())
    await w.create_topics(partitions=1)  # one partition: the poison record and the good ones arrive in one batch
    good = [case_opened(f"G{i}-{w.unique}", county="610402") for i in range(5)]
    # valid JSON and a valid contract model (the case id has its shape), but Postgres refuses NUL in text: the
    # batch handler fails on it, so the consumer rolls the batch back and re-runs it a record at a time (until
    # it dead-letters this one)
    poison = case_opened(f"P-{w.unique}", county="610402").model_copy(update={"summary": "test\u0000case"})
    await w.open_cases(*good[:2], poison, *good[2:])
    before = assignments_counted()
    async with w.running(watch=False):
        dead = await stack.eventually(lambda: stack.read_all(w.intake_topic + ".dlq"), until=lambda rs: len(rs) >= 1,
                                      what="the poison record dead-lettered", timeout=90)
        rows = await stack.eventually(lambda: w.fetch("SELECT case_id FROM cases"), until=lambda rs: len(rs) == 5,
                                      what="the five good cases assigned", timeout=30)
    assert {r["case_id"] for r in rows} == {c.case_id for c in good}
    assert "re-running them one by one" in caplog.text, "the batch was rolled back and re-run record by record"
    assert [stack.header(r, "dlq-reason") for r in dead] == ["handler_error"]
    assert assignments_counted() - before == len(good), "each case's assignment is counted once, after its commit"
