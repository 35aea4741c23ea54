"""Credit takes inspection's published results (inspection.lifecycle `results-published`) into its
public disclosure feed on the real broker and database: each result once, a later correction
replacing it, a bad event dead-lettered with the reason while the rest of the batch is applied."""
from __future__ import annotations

import datetime as dt

import pytest

from shared.contracts.inspection import InspectionResultRecorded, InspectionResultsPublished, PublishedResult
from shared.envelope import new_envelope
from shared.topics import INSPECTION, ensure_topics
from dataclasses import replace
from tests.support import stack
from tests.support.credit import CreditWorld, http

pytestmark = pytest.mark.stack

ORG = "91610402MA6XA00028"
TRADER = "92610402MA0000001L"
AT = dt.datetime(2026, 5, 6, 2, tzinfo=dt.timezone.utc)


def published(plan: str, bureau: str, at: dt.datetime, *results: tuple[str, str, str]) -> InspectionResultsPublished:
    return InspectionResultsPublished(plan_id=plan, bureau=bureau, published_at=at, results=[
        PublishedResult(credit_code=c, name=n, result=r, findings="现场检查\n记录") for c, n, r in results])  # type: ignore[arg-type]


async def test_published_inspection_results_appear_in_the_disclosure_feed_once_masked_and_a_bad_event_is_dead_lettered(
        unique: str) -> None:
    world = CreditWorld(unique, inspection_topic=f"test.inspection.{unique}")
    topic = world.settings.inspection_topic
    await ensure_topics(stack.bootstrap(), [replace(INSPECTION, name=topic)])
    await world.create()
    bureau = world.bureau()
    plan, other = "insp_" + unique[:8].ljust(20, "0"), "insp_" + unique[:8].ljust(20, "1")
    first = published(plan, bureau, AT, (ORG, "咸阳华泰商贸有限公司", "no_problem"), (TRADER, "张三丰", "problems_found"))
    env = new_envelope(type=first.EVENT_TYPE, source="/shuangda/inspection", subject=plan, correlationid=plan)
    bad = published(other, bureau, AT, (ORG[:-1] + "X", "某公司", "no_problem"))
    recorded = InspectionResultRecorded(plan_id=plan, bureau=bureau, credit_code=ORG, result="no_problem", recorded_at=AT)
    await stack.produce(topic, [
        stack.event_record(first, type=first.EVENT_TYPE, key=plan, envelope=env),
        stack.event_record(first, type=first.EVENT_TYPE, key=plan, envelope=env),   # the same event again
        stack.event_record(recorded, type=recorded.EVENT_TYPE, key=plan),           # not credit's: skipped
        stack.event_record(bad, type=bad.EVENT_TYPE, key=other),
    ])
    async with world.running() as parts:
        async with http(parts) as client:
            async def feed() -> list[dict]:
                return (await client.get("/v1/disclosures", params={"kind": "inspection"})).json()["items"]

            items = await stack.eventually(feed, until=lambda i: len(i) == 2, what="two published results")
            by_code = {i["credit_code"]: i for i in items}
            org = by_code[ORG]
            assert dt.datetime.fromisoformat(org.pop("published_at").replace("Z", "+00:00")) == AT
            assert org == {"plan_id": plan, "party_name": "咸阳华泰商贸有限公司", "party_kind": "organisation",
                           "credit_code": ORG, "result": "no_problem", "result_label": "未发现问题",
                           "bureau": org["bureau"]}
            assert org["bureau"].endswith("市场监督管理局")
            assert by_code[TRADER]["party_name"] == "张**" and by_code[TRADER]["party_kind"] == "individual_trader"
            assert "张三丰" not in str(items)

            dead = await stack.eventually(lambda: stack.read_all(topic + ".dlq"), until=lambda rs: len(rs) >= 1,
                                          what="the bad publication dead-lettered")
            assert [(stack.header(r, "dlq-reason"), stack.header(r, "dlq-field")) for r in dead] == [
                ("invalid_credit_code", "results.0.credit_code")]
            assert stack.header(dead[0], "dlq-group") == world.settings.consumer_group

            # a correction published later replaces the result; an older re-publication does not
            later = published(plan, bureau, AT + dt.timedelta(days=3), (ORG, "咸阳华泰商贸有限公司", "referred_to_case"))
            stale = published(plan, bureau, AT - dt.timedelta(days=1), (ORG, "咸阳华泰商贸有限公司", "problems_found"))
            await stack.produce(topic, [stack.event_record(later, type=later.EVENT_TYPE, key=plan),
                                        stack.event_record(stale, type=stale.EVENT_TYPE, key=plan)])
            corrected = await stack.eventually(
                feed, what="the correction", until=lambda i: any(x["result"] == "referred_to_case" for x in i))
            assert len(corrected) == 2 and corrected[-1]["credit_code"] == ORG
            csv = (await client.get("/v1/disclosures", params={"kind": "inspection", "format": "csv", "labels": "zh"})).text
            assert csv.splitlines()[0].startswith("抽查计划编号,检查对象名称") and "张**" in csv and "张三丰" not in csv
        rows = await world.fetch("SELECT kind, subject FROM audit_log WHERE kind = 'credit.inspection-results-disclosed'")
        assert sorted(r["subject"] for r in rows) == [plan, plan, plan]
