"""Routing applies a batch of complainants' survey answers as one set on the real broker and database
(issue 11 §2, issue 15 §4): every case the batch asks to reopen is reopened once with a deadline from the
routing rules, a second answer of the same complaint inside the batch changes nothing, and the same batch
delivered again (the same event ids, and the same answers under new ids) applies nothing twice."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from shared.contracts.cases import CaseSurveyAnswered
from shared.contracts.routing import CaseAssigned, CaseReopened
from shared.envelope import new_envelope
from tests.support import stack
from tests.support.routing import RoutingWorld, case_opened

pytestmark = pytest.mark.stack


def etype(record: Any) -> str:
    return stack.header(record, "ce_type") or ""


def answer(case_id: str, tracking_no: str, *, score: int = 1) -> CaseSurveyAnswered:
    return CaseSurveyAnswered(case_id=case_id, tracking_no=tracking_no, score=score, resolved=False, reopen=True,
                              comment="还在卖假货", answered_at=dt.datetime.now(dt.timezone.utc), rule_version="2026-1")


def records(answers: list[CaseSurveyAnswered], envelopes: list[Any]) -> list[Any]:
    return [stack.event_record(a, type=a.EVENT_TYPE, key=a.case_id, envelope=e) for a, e in zip(answers, envelopes)]


def envelopes_of(answers: list[CaseSurveyAnswered]) -> list[Any]:
    return [new_envelope(type=a.EVENT_TYPE, source="/tests", subject=a.case_id, correlationid=a.case_id) for a in answers]


async def test_a_batch_of_survey_answers_reopens_each_case_once_with_a_deadline_and_a_redelivery_applies_nothing_twice(
        ) -> None:
    w = RoutingWorld(uuid.uuid4().hex[:10], bootstrap=stack.bootstrap(), dsn=stack.dsn())
    await w.create_topics(partitions=1)  # one partition: the answers arrive in one consumer batch, in order
    opened = [case_opened(f"S{i}-{w.unique}", county="610402") for i in range(5)]
    sentinel = case_opened(f"Z-{w.unique}", county="610402")
    await w.open_cases(*opened)
    async with w.running(watch=False) as svc:
        rows = await stack.eventually(lambda: w.fetch("SELECT case_id, assignee FROM cases"),
                                      until=lambda rs: len(rs) == len(opened), what="the cases assigned", timeout=60)
        assignee = {r["case_id"]: r["assignee"] for r in rows}
        keys = {b: {"Authorization": f"Bearer {await w.api_key(b)}"} for b in set(assignee.values())}
        refused = opened[-1].case_id
        for c in opened:
            headers = keys[assignee[c.case_id]]
            if c.case_id == refused:  # 不予受理: reopened, it goes back to be acknowledged
                r = await svc.http.post(f"/v1/cases/{c.case_id}/acknowledge", headers=headers,
                                        json={"decision": "refuse", "reason": "不属于本部门职责"})
                assert r.status_code == 200, r.text
                continue
            r = await svc.http.post(f"/v1/cases/{c.case_id}/acknowledge", headers=headers, json={"decision": "accept"})
            assert r.status_code == 200, r.text
            r = await svc.http.post(f"/v1/cases/{c.case_id}/outcome", headers=headers,
                                    json={"outcome": "no_violation", "detail": "现场未发现假冒商品"})
            assert r.status_code == 200, r.text

        answers = [answer(c.case_id, c.tracking_no or "") for c in opened]
        # a second answer of the first complaint inside the same batch (another score, another event id)
        again = answer(opened[0].case_id, opened[0].tracking_no or "", score=5)
        envelopes = envelopes_of(answers)
        await stack.produce(w.intake_topic, records([*answers, again], [*envelopes, *envelopes_of([again])]))

        reopened = await stack.eventually(
            lambda: w.fetch("SELECT case_id, state, ack_due_at FROM cases WHERE state IN ('accepted', 'assigned')"),
            until=lambda rs: len(rs) == len(opened), what="every case reopened", timeout=60)
        assert {r["case_id"]: r["state"] for r in reopened} == {
            **{c.case_id: "accepted" for c in opened[:-1]}, refused: "assigned"}

        # the same batch again: the same records (the inbox drops them) and the same answers under new ids
        # (the survey key drops them); a sentinel case opened behind them says they were all consumed
        await stack.produce(w.intake_topic, records(answers, envelopes))
        await stack.produce(w.intake_topic, records(answers, envelopes_of(answers)))
        await w.open_cases(sentinel)
        await stack.eventually(lambda: w.case_row(sentinel.case_id), until=lambda r: r is not None,
                               what="the sentinel behind the redelivery", timeout=60)
        events = await stack.eventually(
            lambda: stack.read_all(w.routing_topic),
            until=lambda rs: sum(etype(r) == CaseAssigned.EVENT_TYPE for r in rs) == len(opened) + 1,
            what="the routing events", timeout=30)

    reopen_events = [CaseReopened.model_validate_json(r.value) for r in events if etype(r) == CaseReopened.EVENT_TYPE]
    assert sorted(e.case_id for e in reopen_events) == sorted(c.case_id for c in opened), "each case reopened once"
    by_case = {e.case_id: e for e in reopen_events}
    assert by_case[opened[0].case_id].score == 1, "the first answer of a complaint counts, the second is dropped"
    for c in opened[:-1]:
        d = by_case[c.case_id].deadline
        assert d is not None and d.kind == "reopened" and d.rule_id == "report_case_decision"
        assert d.due_at > by_case[c.case_id].reopened_at and d.bureau == assignee[c.case_id]
    d = by_case[refused].deadline
    assert d is not None and d.kind == "acknowledgement" and d.rule_id == "complaint_accept_decision"
    assert [r["ack_due_at"] for r in reopened if r["case_id"] == refused] == [d.due_at]

    deadlines = await w.fetch("SELECT case_id, kind, state FROM deadlines WHERE deadline_id LIKE '%/reopened/%'")
    assert sorted((r["case_id"], r["state"]) for r in deadlines) == sorted((c.case_id, "open") for c in opened)
    surveys = await w.fetch("SELECT case_id, score, reopened FROM surveys")
    assert sorted((r["case_id"], r["score"], r["reopened"]) for r in surveys) == \
        sorted((c.case_id, 1, True) for c in opened)
    states = {r["case_id"]: r["state"] for r in await w.fetch("SELECT case_id, state FROM cases")}
    assert [states[c.case_id] for c in opened] == ["accepted"] * 4 + ["assigned"]
