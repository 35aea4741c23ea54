"""Credit's set-based decision stage (issue 11) and one person under several credit codes
(issue 12), on the real broker and database."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys

import pytest

from shared.clock import ManualClock
from shared.config import REPO_ROOT
from shared.contracts.penalty import PenaltyRevoked
from shared.identifiers import uscc_check_character
from tests.support.credit import CODE, OTHER_CODE, CreditWorld, decision, http, types
from tests.support import stack

pytestmark = pytest.mark.stack

UTC = dt.timezone.utc


def trader_code(n: int) -> str:
    body = f"92610402MA{n:07d}"
    return body + uscc_check_character(body)


def body(d) -> dict:  # noqa: ANN001
    return json.loads(d.model_dump_json())


async def test_a_batch_of_decisions_flags_refuses_and_revokes_in_the_order_of_the_batch_and_keeps_the_audit_chain(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    sent = [
        decision("咸罚〔2024〕B1号", dt.date(2024, 3, 5)),
        decision("咸罚〔2024〕B2号", dt.date(2024, 8, 1)),  # the second counterfeit within 24 months: a review flag
        decision("咸罚〔2024〕B2号", dt.date(2024, 8, 2)),  # the same number with other content: refused
        PenaltyRevoked(decision_no="咸罚〔2024〕B1号", revoked_on=dt.date(2024, 9, 1), reason="行政复议决定撤销"),
        decision("咸罚〔2024〕B3号", dt.date(2024, 8, 1), code=OTHER_CODE, name="福州某某贸易有限公司"),
        *(decision(f"咸罚〔2024〕C{i}号", dt.date(2024, 8, 1), code=None, name=f"测试商行{i}号店", category="false_advertising")
          for i in range(20)),
    ]
    # all before credit starts, so the consumer takes them in one batch
    await stack.produce(world.ingress(), [stack.event_record(m, type=m.EVENT_TYPE, key=CODE if i < 4 else f"k{i}")
                                          for i, m in enumerate(sent)])
    async with world.running(ManualClock(dt.datetime(2024, 9, 10, 2, tzinfo=UTC)), scheduler=False):
        credit = await world.events(world.settings.credit_topic, what="the batch's records and the withdrawn flag",
                                    until=lambda e: types(e).count("credit.record-created") == 23
                                    and "credit.listing-proceeding-advanced" in types(e))
        penalty = await world.events(world.settings.penalty_topic, what="the refusal",
                                     until=lambda e: "penalty.refused" in types(e))
    of_code = [t for t, (_, p) in zip(types(credit), credit) if p.get("credit_code") == CODE]
    assert of_code == ["credit.record-created", "credit.record-created", "credit.listing-proceeding-opened",
                       "credit.record-withdrawn", "credit.listing-proceeding-advanced"]
    withdrawn = next(p for t, p in credit if t.endswith("listing-proceeding-advanced.v1"))
    assert (withdrawn["action"], withdrawn["from_state"], withdrawn["state"]) == ("withdraw", "review", "withdrawn")
    refusal = next(p for t, p in penalty if t.endswith("penalty.refused.v1"))
    assert refusal["reason"] == "decision_no_taken" and refusal["decision_no"] == "咸罚〔2024〕B2号"
    assert types(penalty).count("penalty.revocation-accepted") == 1
    records = await world.fetch("SELECT decision_no, status FROM records ORDER BY decision_no")
    assert len(records) == 23
    assert {r["decision_no"]: r["status"] for r in records}["咸罚〔2024〕B1号"] == "revoked"
    assert await world.fetch("SELECT 1 FROM listings") == []  # a flag lists nobody
    [flag] = await world.fetch("SELECT rule_id, state FROM listing_proceedings")
    assert (flag["rule_id"], flag["state"]) == ("repeat_counterfeit", "withdrawn")
    assert len(await world.fetch("SELECT 1 FROM entities")) == 22
    kinds = [r["kind"] for r in await world.fetch("SELECT kind FROM audit_log WHERE subject = $1 ORDER BY seq", CODE)]
    assert kinds == ["credit.record-created", "credit.record-created", "credit.listing-proceeding-opened",
                     "penalty.refused", "penalty.revoked", "credit.listing-proceeding-advanced"]
    cli = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "deploy.cli", "audit", "verify", "--schema", world.schema],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr


async def test_one_person_penalised_under_two_credit_codes_gets_a_record_on_each_and_no_server_error(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    market = await world.add_bureau()
    person = {"resident_id": "11010519491231002X", "legal_representative": "张三丰"}
    first = decision("咸罚〔2024〕P1号", dt.date(2024, 2, 1), category="false_advertising",
                     party={"kind": "individual_trader", "credit_code": trader_code(1), "name": "秦都区张三丰小吃店", **person})
    # the same person re-registered their business (or runs a second one) under another code
    second = decision("咸罚〔2024〕P2号", dt.date(2024, 5, 1), category="false_advertising",
                      party={"kind": "individual_trader", "credit_code": trader_code(2), "name": "渭城区张三丰小吃店", **person})
    own_name = decision("咸罚〔2024〕P3号", dt.date(2024, 6, 1), code=None, category="false_advertising",
                        party={"kind": "natural_person", "name": "张三丰", "resident_id": person["resident_id"]})
    async with world.running(ManualClock(dt.datetime(2024, 6, 5, 2, tzinfo=UTC)), scheduler=False) as parts:
        async with http(parts, market) as client:
            answers = [await client.post("/v1/penalties", json=body(d)) for d in (first, second)]
            assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
            assert [a.json()["entity"] for a in answers] == [trader_code(1), trader_code(2)]
        # and from Kafka, a decision on the person themself
        await stack.produce(world.ingress(), [stack.event_record(own_name, type=own_name.EVENT_TYPE, key=own_name.decision_no)])
        await world.events(world.settings.credit_topic, what="three records",
                           until=lambda e: types(e).count("credit.record-created") == 3)
    entities = await world.fetch("SELECT credit_code, kind, person_hash FROM entities ORDER BY first_seen_at")
    assert [(e["credit_code"], e["kind"]) for e in entities] == [
        (trader_code(1), "individual_trader"), (trader_code(2), "individual_trader"), (None, "natural_person")]
    assert len({e["person_hash"] for e in entities}) == 1, "one person, several entities"
    records = await world.fetch("SELECT r.decision_no, e.credit_code FROM records r JOIN entities e USING (entity_id)"
                                " ORDER BY r.decision_no")
    assert [(r["decision_no"], r["credit_code"]) for r in records] == [
        ("咸罚〔2024〕P1号", trader_code(1)), ("咸罚〔2024〕P2号", trader_code(2)), ("咸罚〔2024〕P3号", None)]
    dead = await world.fetch("SELECT 1 FROM dead_letters")
    assert not dead
