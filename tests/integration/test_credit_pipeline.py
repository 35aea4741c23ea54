"""Credit on the real broker and database (issue #5): penalty decisions from Kafka
to records, disclosure, the list and the query API; refusals; referrals;
exactly-once expiry; the tamper-evident audit log."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys

import asyncpg
import pytest

from services.credit.app import decisions
from services.credit.domain.model import Bureau
from services.credit.wiring import build
from shared import audit
from shared.clock import ManualClock
from shared.config import REPO_ROOT
from shared.contracts.cases import Suspect
from shared.contracts.penalty import PenaltyRevoked
from shared.contracts.referral import ReferralAccepted
from shared.runtime import unit_of_work
from tests.support import stack
from services.credit.domain.listing_steps import approver_of
from services.credit.rules import load_rulebook
from tests.support.credit import CODE, OTHER_CODE, CreditWorld, decision, http, take_to_listing, types

pytestmark = pytest.mark.stack



def _bureau(world: CreditWorld) -> Bureau:
    return world.bureau_of()


async def test_a_penalty_decision_from_kafka_is_recorded_disclosed_flagged_listed_through_the_steps_and_the_query_api_shows_the_measures(
        unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    key = await world.add_client(f"procurement-{unique}", "department")
    market = await world.add_bureau()
    approver_id = approver_of(load_rulebook().blacklist.procedure.at(dt.date(2025, 3, 1)), world.bureau())
    approver = await world.add_bureau_key(approver_id) if approver_id else None
    first = decision("咸秦市监罚〔2024〕101号", dt.date(2024, 3, 5))
    second = decision("咸秦市监罚〔2025〕7号", dt.date(2025, 2, 20))  # within 24 months: a review flag, not a listing
    await stack.produce(world.ingress(), [stack.event_record(first, type=first.EVENT_TYPE, key=CODE)])
    async with world.running(ManualClock(dt.datetime(2025, 3, 1, 2, tzinfo=dt.timezone.utc))) as parts:
        penalty = await world.events(world.settings.penalty_topic, until=lambda e: len(e) >= 1, what="penalty.recorded")
        assert types(penalty) == ["penalty.recorded"]
        recorded = penalty[0][1]
        assert recorded["bureau"] == world.bureau() and recorded["heavy"] is False
        assert recorded["disclosure_due_on"] == "2024-03-14"  # 7 working days after Tue 5 March 2024
        await stack.produce(world.ingress(), [stack.event_record(second, type=second.EVENT_TYPE, key=CODE)])
        flagged = await world.events(
            world.settings.credit_topic, what="records, disclosures and the review flag",
            until=lambda e: types(e).count("credit.record-disclosed") >= 2 and "credit.listing-proceeding-opened" in types(e))
        assert "credit.blacklisted" not in types(flagged)
        opened = next(p for t, p in flagged if t.endswith("listing-proceeding-opened.v1"))
        assert (opened["basis"], opened["state"]) == ("local_policy", "review")
        await take_to_listing(parts, market, approver, opened["proceeding_id"], dt.date(2025, 3, 1))
        credit = await world.events(world.settings.credit_topic, what="the listing",
                                    until=lambda e: "credit.blacklisted" in types(e))
        listed = next(p for t, p in credit if t.endswith("credit.blacklisted.v1"))
        assert listed["rule_id"] == "repeat_counterfeit" and listed["credit_code"] == CODE
        assert len(listed["triggering_records"]) == 2 and "咸秦市监罚〔2025〕7号" in listed["reason"]
        assert "procurement_exclusion" in listed["measures"]
        async with http(parts, key) as client:
            view = (await client.get(f"/v1/entities/{CODE}")).json()
            screened = (await client.post("/v1/entities:check", json={"codes": [CODE, OTHER_CODE, "91110000600037341X"]})).json()
        assert view["status"] == "blacklisted" and view["name"] == "陕西省咸阳市华泰商贸有限公司"
        assert {r["decision_no"] for r in view["records"]} == {"咸秦市监罚〔2024〕101号", "咸秦市监罚〔2025〕7号"}
        assert view["listings"][0]["rule_id"] == "repeat_counterfeit"
        procurement = next(m for m in view["measures"] if m["id"] == "procurement_exclusion")
        assert procurement["department"] == "finance" and "blacklisted" in procurement["because"]
        results = {r["code"]: r for r in screened["results"]}
        assert results[CODE]["listed"] and "procurement_exclusion" in results[CODE]["measures"]
        assert results[OTHER_CODE] == {"code": OTHER_CODE, "valid": True, "known": False, "status": "clear", "listed": False, "measures": []}
        assert results["91110000600037341X"]["reason"] == "bad_check_character"
        assert screened["summary"] == {"checked": 3, "invalid": 1, "listed": 1, "with_records": 1}


async def test_a_penalty_revocation_from_a_bureau_that_is_not_the_decider_of_record_is_refused(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    first = decision("咸秦市监罚〔2024〕201号", dt.date(2024, 3, 5))
    second = decision("咸秦市监罚〔2024〕202号", dt.date(2024, 8, 1))
    foreign = PenaltyRevoked(decision_no="咸秦市监罚〔2024〕201号", revoked_on=dt.date(2024, 9, 1), reason="行政复议决定撤销")
    await stack.produce(world.ingress(), [stack.event_record(m, type=m.EVENT_TYPE, key=CODE) for m in (first, second)])
    async with world.running(ManualClock(dt.datetime(2024, 9, 10, 2, tzinfo=dt.timezone.utc))):
        await world.events(world.settings.penalty_topic, until=lambda e: types(e).count("penalty.recorded") == 2,
                           what="both decisions recorded")
        await stack.produce(world.ingress("food_drug"), [stack.event_record(foreign, type=foreign.EVENT_TYPE, key=CODE)])
        events = await world.events(world.settings.penalty_topic, until=lambda e: "penalty.refused" in types(e),
                                    what="the refusal")
        refusal = next(p for t, p in events if t.endswith("penalty.refused.v1"))
        assert refusal["reason"] == "not_decider_of_record"
        assert refusal["bureau"] == world.bureau("food_drug")
        assert world.bureau() in refusal["detail"]
        [record] = await world.fetch("SELECT status FROM records WHERE decision_no = $1", "咸秦市监罚〔2024〕201号")
        assert record["status"] == "active"
        # the decider of record may revoke; the review flag it triggered no longer holds and is withdrawn (art. 19)
        own = PenaltyRevoked(decision_no="咸秦市监罚〔2024〕201号", revoked_on=dt.date(2024, 9, 2), reason="行政复议决定撤销")
        await stack.produce(world.ingress(), [stack.event_record(own, type=own.EVENT_TYPE, key=CODE)])
        credit = await world.events(world.settings.credit_topic, what="withdrawal of the record and of the flag",
                                    until=lambda e: "credit.listing-proceeding-advanced" in types(e))
        assert "credit.record-withdrawn" in types(credit)
        withdrawn = next(p for t, p in credit if t.endswith("listing-proceeding-advanced.v1"))
        assert (withdrawn["action"], withdrawn["state"]) == ("withdraw", "withdrawn")
        refusals = await world.fetch("SELECT kind, body FROM audit_log WHERE kind = 'penalty.refused'")
        assert json.loads(refusals[0]["body"])["reason"] == "not_decider_of_record"


async def test_an_accepted_criminal_referral_enters_the_record_and_only_raises_a_review_flag(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    accepted = ReferralAccepted(
        case_id=f"case-{unique}", referral_id=f"ref-{unique}", state="accepted", agency=world.bureau(),
        police=f"public_security@{world.division}", at=dt.datetime(2024, 6, 3, 2, tzinfo=dt.timezone.utc),
        police_case_no="咸公立〔2024〕88号", category="trademarks",
        suspect=Suspect(credit_code=OTHER_CODE, name="福州某某贸易有限公司"), after="transfer",
    )
    await stack.produce(world.settings.referral_topic, [stack.event_record(accepted, type=accepted.EVENT_TYPE, key=accepted.case_id)])
    async with world.running(ManualClock(dt.datetime(2024, 6, 10, 2, tzinfo=dt.timezone.utc))):
        credit = await world.events(world.settings.credit_topic, until=lambda e: "credit.listing-proceeding-opened" in types(e),
                                    what="the referral's review flag")
    created = next(p for t, p in credit if t.endswith("record-created.v1"))
    assert created["kind"] == "criminal_referral" and created["disclose"] is False
    flag = next(p for t, p in credit if t.endswith("listing-proceeding-opened.v1"))
    assert flag["rule_id"] == "criminal_referral_accepted" and flag["credit_code"] == OTHER_CODE
    assert (flag["basis"], flag["state"]) == ("local_policy", "review")
    assert "credit.blacklisted" not in types(credit), "police accepting a referral is no Order 44 ground"
    [state] = await world.fetch("SELECT state FROM case_referrals WHERE case_id = $1", accepted.case_id)
    assert state["state"] == "accepted"
    assert "credit.record-disclosed" not in types(credit), "a referral record is not published"


async def test_records_past_their_maximum_publicity_expire_exactly_once_even_with_two_schedulers(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    clock = ManualClock(dt.datetime(2024, 6, 1, 2, tzinfo=dt.timezone.utc))
    async with world.running(clock, scheduler=False) as parts:
        for i in range(12):
            async with unit_of_work(parts.consumer.pool, source="/tests") as uow:
                await decisions.decide(parts.credit, uow, _bureau(world),
                                          decision(f"咸罚〔2024〕{i}号", dt.date(2024, 1, 2), code=None, name=f"测试商行{i}号店",
                                                   category="false_advertising"))
        clock.advance(dt.timedelta(days=400))  # past the one-year maximum of an ordinary penalty
        twin = (await build(world.settings, parts.consumer.pool, clock=clock)).scheduler
        results = await asyncio.gather(parts.scheduler.tick(), twin.tick(), parts.scheduler.tick())
        assert sum(r["expired"] for r in results) == 12
        credit = await world.events(world.settings.credit_topic, what="12 expiries",
                                    until=lambda e: types(e).count("credit.record-expired") >= 12)
        await asyncio.sleep(1.0)
        credit = await world.events(world.settings.credit_topic)
    expired = [(t, p) for t, p in credit if t.endswith("record-expired.v1")]
    assert len(expired) == 12 and len({p["record_id"] for _, p in expired}) == 12
    assert all(p["publicity_max_until"] == "2025-01-02" for _, p in expired)


async def test_an_entity_first_seen_without_a_code_is_matched_by_name_when_the_code_appears(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    async with world.running(scheduler=False) as parts:
        pool, credit = parts.consumer.pool, parts.credit
        async with unit_of_work(pool, source="/tests") as uow:
            first = await decisions.decide(credit, uow, _bureau(world), decision("咸罚〔2024〕301号", dt.date(2024, 2, 1), code=None,
                                                                        name="咸阳市秦都区老王食品厂"))
        async with unit_of_work(pool, source="/tests") as uow:
            second = await decisions.decide(credit, uow, _bureau(world), decision("咸罚〔2024〕302号", dt.date(2024, 4, 1), code=OTHER_CODE,
                                                                         name="咸阳市秦都区老王食品厂"))
        async with unit_of_work(pool, source="/tests") as uow:
            third = await decisions.decide(credit, uow, _bureau(world), decision("咸罚〔2024〕303号", dt.date(2024, 5, 1), code=OTHER_CODE,
                                                                        name="咸阳市老王食品有限公司"))
        # read while the relay still runs: it publishes what these three transactions wrote
        credit_events = await world.events(world.settings.credit_topic, until=lambda e: "credit.entity-identified" in types(e))
    assert first.facts["entity_id"] == second.facts["entity_id"] == third.facts["entity_id"]
    names = await world.fetch("SELECT name, name_kind FROM entity_names ORDER BY id")
    assert [(n["name"], n["name_kind"]) for n in names] == [("咸阳市秦都区老王食品厂", "former"), ("咸阳市老王食品有限公司", "registered")]
    identified = next(p for t, p in credit_events if t.endswith("entity-identified.v1"))
    assert identified["credit_code"] == OTHER_CODE


async def test_altering_an_audit_row_in_postgres_is_detected_by_verify(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    async with world.running(scheduler=False) as parts:
        for i in range(3):
            async with unit_of_work(parts.consumer.pool, source="/tests") as uow:
                await decisions.decide(parts.credit, uow, _bureau(world), decision(f"咸罚〔2024〕40{i}号", dt.date(2024, 2, 1 + i)))
    conn = await world.conn()
    try:
        assert await audit.verify(conn) is None
        rows = await conn.fetch("SELECT seq, body FROM audit_log ORDER BY seq")
        assert len(rows) >= 4  # three records and the review flag
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await conn.execute("UPDATE audit_log SET body = '{}' WHERE seq = $1", rows[1]["seq"])
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await conn.execute("DELETE FROM audit_log WHERE seq = $1", rows[1]["seq"])
        # a superuser can bypass the trigger; the chain still tells
        tampered = rows[1]["body"].replace("50000.00", "500.00")
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute("UPDATE audit_log SET body = $2 WHERE seq = $1", rows[1]["seq"], tampered)
        broken = await audit.verify(conn)
    finally:
        await conn.close()
    assert broken is not None and broken.seq == rows[1]["seq"] and broken.reason == "hash_mismatch"
    cli = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "deploy.cli", "audit", "verify", "--schema", world.schema],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert cli.returncode == 1
    assert f"BROKEN at row {rows[1]['seq']}" in cli.stdout


async def test_audit_verify_names_a_deleted_row_by_the_row_after_it(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    async with world.running(scheduler=False) as parts:
        for i in range(3):
            async with unit_of_work(parts.consumer.pool, source="/tests") as uow:
                await decisions.decide(parts.credit, uow, _bureau(world), decision(f"咸罚〔2024〕50{i}号", dt.date(2024, 2, 1 + i),
                                                                        category="false_advertising"))
    conn = await world.conn()
    try:
        seqs = [r["seq"] for r in await conn.fetch("SELECT seq FROM audit_log ORDER BY seq")]
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute("DELETE FROM audit_log WHERE seq = $1", seqs[1])
        broken = await audit.verify(conn)
    finally:
        await conn.close()
    assert broken is not None and broken.seq == seqs[2] and broken.reason == "prev_hash_mismatch"
