"""Credit on the real broker and database (issue 14): a listing takes effect only after Order 44's steps,
taken by people over HTTP (idempotent, problems naming the field, events, audit); a penalty on figures
that cross a criminal threshold with no referral under way raises credit.penalty-substitutes-prosecution."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from prometheus_client import REGISTRY

from services.credit.domain.listing_steps import approver_of
from services.credit.scheduler import refresh_gauges
from services.credit.rules import load_rulebook
from shared import audit
from shared.clock import ManualClock
from shared.contracts.cases import Suspect
from shared.contracts.referral import ReferralTransferred, TransferPackage
from shared.reference import load_thresholds
from tests.support import stack
from tests.support.credit import CODE, OTHER_CODE, CreditWorld, decision, http, types

pytestmark = pytest.mark.stack

UTC = dt.timezone.utc


def body(d) -> dict:  # noqa: ANN001
    return json.loads(d.model_dump_json())


def ip_decision(no: str, on: dt.date, **extra) -> dict:  # noqa: ANN003
    return body(decision(no, on, penalty_types=["fine", "licence_revocation"], intentional=True, **extra))


async def test_an_intentional_ip_infringement_is_listed_only_after_weighing_notice_the_party_period_and_consent(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    market = await world.add_bureau()
    office = await world.add_client(f"office-{unique}", "office")
    approver_id = approver_of(load_rulebook().blacklist.procedure.at(dt.date(2024, 3, 1)), world.bureau())
    approver = await world.add_bureau_key(approver_id) if approver_id else None
    clock = ManualClock(dt.datetime(2024, 3, 1, 2, tzinfo=UTC))  # Friday 10:00 in Shanghai
    async with world.running(clock, scheduler=False) as parts:
        async with http(parts, market) as client:
            recorded = (await client.post("/v1/penalties", json=ip_decision("咸罚〔2024〕901号", dt.date(2024, 2, 28)))).json()
            assert recorded["heavy"] is True
            [pid] = recorded["listing_proceedings"]
            base = f"/v1/listing-proceedings/{pid}"
            assert (await client.get(base)).json()["state"] == "weighing"
        async with http(parts, office) as client:
            office_try = await client.post(f"{base}:weigh", json={"serious": True, "intent_shown": True})
        assert office_try.status_code == 403 and office_try.json()["reason"] == "not_the_authority"
        async with http(parts, market) as client:
            missing = await client.post(f"{base}:weigh", json={"serious": True})
            assert missing.status_code == 422
            assert any("intent_shown" in json.dumps(e) for e in missing.json()["errors"])
            weighed = await client.post(f"{base}:weigh", json={"serious": True, "intent_shown": True, "reason": "故意售假"},
                                        headers={"Idempotency-Key": f"w-{unique}"})
            again = await client.post(f"{base}:weigh", json={"serious": True, "intent_shown": True, "reason": "故意售假"},
                                      headers={"Idempotency-Key": f"w-{unique}"})
            assert weighed.json()["state"] == "to_notify" and "第十二条" in weighed.json()["citation"]
            assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
            other = await client.post(f"{base}:weigh", json={"serious": False, "intent_shown": True},
                                      headers={"Idempotency-Key": f"w-{unique}"})
            assert other.status_code == 409  # the key answered another request
            noticed = (await client.post(f"{base}:notify", json={"served_on": "2024-03-01"})).json()
            assert (noticed["state"], noticed["statement_due_on"], noticed["hearing_request_due_on"]) == \
                ("statement_period", "2024-03-08", "2024-03-06")
            early = await client.post(f"{base}:decide", json={"list": True})
            assert early.status_code == 409 and early.json()["reason"] == "statement_period_open"
            clock.advance(dt.timedelta(days=8))  # Saturday 9 March: the period is over, the party said nothing
            await refresh_gauges(parts.consumer.pool, clock)
            assert REGISTRY.get_sample_value("shuangda_credit_listing_proceedings_awaiting_decision") == 1
            assert REGISTRY.get_sample_value("shuangda_credit_listing_proceedings",
                                             {"rule": "ip_intentional_heavy", "state": "statement_period"}) == 1
            decided = (await client.post(f"{base}:decide", json={"list": True, "reason": "情节严重"})).json()
        if approver_id is not None:
            assert decided["state"] == "approval" and decided["approver"] == approver_id
            async with http(parts, market) as client:
                self_approval = await client.post(f"{base}:approve", json={"approved": True})
            assert self_approval.status_code == 403 and self_approval.json()["reason"] == "not_the_approver"
            async with http(parts, approver) as client:
                decided = (await client.post(f"{base}:approve", json={"approved": True})).json()
        assert decided["state"] == "listed" and decided["listing_id"]
        async with http(parts, market) as client:
            view = (await client.get(base)).json()
            entity = (await client.get(f"/v1/entities/{CODE}")).json()
        assert [s["action"] for s in view["steps"]] == ["open", "weigh", "notify", "decide"] + (
            ["approve"] if approver_id else [])
        assert entity["status"] == "blacklisted" and entity["listings"][0]["rule_id"] == "ip_intentional_heavy"
        credit = await world.events(world.settings.credit_topic, what="the steps and the listing",
                                    until=lambda e: "credit.blacklisted" in types(e))
    steps = [p["action"] for t, p in credit if t.endswith("listing-proceeding-advanced.v1")]
    assert steps == ["weigh", "notify", "decide"] + (["approve"] if approver_id else [])
    assert types(credit).index("credit.listing-proceeding-opened") < types(credit).index("credit.blacklisted")
    kinds = [r["kind"] for r in await world.fetch("SELECT kind FROM audit_log WHERE subject = $1 ORDER BY seq", CODE)]
    assert kinds.count("credit.listing-proceeding-advanced") == len(steps)
    assert kinds[-2:] == ["credit.blacklisted", "credit.listing-proceeding-advanced"]  # the listing, then the step that made it
    conn = await world.conn()
    try:
        assert await audit.verify(conn) is None
    finally:
        await conn.close()


async def test_a_party_that_shows_there_was_no_intent_is_not_listed(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    market = await world.add_bureau()
    async with world.running(ManualClock(dt.datetime(2024, 3, 1, 2, tzinfo=UTC)), scheduler=False) as parts:
        async with http(parts, market) as client:
            [pid] = (await client.post("/v1/penalties", json=ip_decision("咸罚〔2024〕911号", dt.date(2024, 2, 28)))).json()[
                "listing_proceedings"]
            done = (await client.post(f"/v1/listing-proceedings/{pid}:weigh",
                                      json={"serious": True, "intent_shown": False, "reason": "有证据证明无主观故意"})).json()
            after = await client.post(f"/v1/listing-proceedings/{pid}:notify", json={"served_on": "2024-03-01"})
    assert (done["state"], done["outcome"]) == ("not_listed", "no_intent")
    assert after.status_code == 409 and after.json()["reason"] == "proceeding_closed"
    assert await world.fetch("SELECT 1 FROM listings") == []


async def test_the_office_dismisses_a_local_policy_review_flag_and_nobody_is_listed(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    market = await world.add_bureau()
    office = await world.add_client(f"office-{unique}", "office")
    async with world.running(ManualClock(dt.datetime(2024, 6, 1, 2, tzinfo=UTC)), scheduler=False) as parts:
        async with http(parts, market) as client:
            await client.post("/v1/penalties", json=body(decision("咸罚〔2024〕921号", dt.date(2024, 1, 10))))
            [pid] = (await client.post("/v1/penalties", json=body(decision("咸罚〔2024〕922号", dt.date(2024, 5, 10))))).json()[
                "listing_proceedings"]
            flags = (await client.get(f"/v1/entities/{CODE}/listing-proceedings")).json()["proceedings"]
        assert [(f["proceeding_id"], f["rule_id"], f["local_policy"], f["state"]) for f in flags] == \
            [(pid, "repeat_counterfeit", True, "review")]
        async with http(parts, office) as client:
            dismissed = (await client.post(f"/v1/listing-proceedings/{pid}:dismiss",
                                           json={"reason": "两次处罚均为一般处罚, 无总局令第44号列入情形"})).json()
        assert dismissed["state"] == "not_listed" and dismissed["outcome"] == "dismissed"
        credit = await world.events(world.settings.credit_topic, what="the dismissal",
                                    until=lambda e: "credit.listing-proceeding-advanced" in types(e))
    advanced = next(p for t, p in credit if t.endswith("listing-proceeding-advanced.v1"))
    assert (advanced["action"], advanced["by"]) == ("dismiss", f"office@{world.division}")
    assert await world.fetch("SELECT 1 FROM listings") == []


def _turnover_at(on: dt.date) -> Decimal:
    fam = load_thresholds().family("counterfeit_trademark")
    version = max((v for v in fam.versions if v.effective_from <= on), key=lambda v: v.effective_from)
    return next(c for c in version.conditions if c.id == "turnover").all_of[0].at_least


def lowest_turnover_threshold(category: str, on: dt.date) -> Decimal:
    """The lowest illegal-turnover-only condition of the category's threshold families in force on `on`."""
    from shared.reference import category as category_of

    table = load_thresholds()
    found = []
    for family in category_of(category).threshold_families:
        versions = [v for v in table.family(family).versions if v.effective_from <= on]
        if not versions:
            continue
        version = max(versions, key=lambda v: v.effective_from)
        for cond in version.conditions:
            if len(cond.all_of) == 1 and [t.figure for t in cond.all_of[0].terms] == ["illegal_turnover"]:
                found.append(cond.all_of[0].at_least)
    return min(found)


async def test_a_penalty_on_figures_over_a_criminal_threshold_without_a_referral_is_flagged_and_with_one_is_not(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    on = dt.date(2025, 6, 2)
    over = {"illegal_turnover": str(_turnover_at(on))}
    transferred = ReferralTransferred(
        case_id=f"case-b-{unique}", referral_id=f"ref-{unique}", state="transferred", agency=world.bureau(),
        police=f"public_security@{world.division}", at=dt.datetime(2025, 5, 20, 2, tzinfo=UTC),
        package=TransferPackage(), category="trademarks", suspect=Suspect(credit_code=OTHER_CODE),
    )
    await stack.produce(world.settings.referral_topic,
                        [stack.event_record(transferred, type=transferred.EVENT_TYPE, key=transferred.case_id)])
    market = await world.add_bureau()
    clock = ManualClock(dt.datetime(2025, 6, 3, 2, tzinfo=UTC))
    async with world.running(clock, scheduler=False) as parts:
        await stack.eventually(lambda: world.fetch("SELECT 1 FROM case_referrals"), until=bool, timeout=40,
                               what="the referral state of case b")
        async with http(parts, market) as client:
            flagged = (await client.post("/v1/penalties", json=body(decision(
                "咸罚〔2025〕31号", on, case_id=f"case-a-{unique}", figures=over)))).json()
            referred = (await client.post("/v1/penalties", json=body(decision(
                "咸罚〔2025〕32号", on, code=OTHER_CODE, name="福州某某贸易有限公司", case_id=f"case-b-{unique}",
                figures=over)))).json()
            under = (await client.post("/v1/penalties", json=body(decision(
                "咸罚〔2025〕33号", on, code="91110000600037341L", name="北京某某有限公司", case_id=f"case-c-{unique}",
                figures={"illegal_turnover": str(lowest_turnover_threshold("trademarks", on) - Decimal("0.01"))})))).json()
        assert (flagged["substitutes_prosecution"], referred["substitutes_prosecution"], under["substitutes_prosecution"]) \
            == (True, False, False)
        # the alert waits its grace period (a referral step of the case may still be on its way), then goes out
        pending = await world.fetch("SELECT state FROM substitution_alerts")
        assert [r["state"] for r in pending] == ["pending"]
        assert (await parts.scheduler.tick())["substitution_alerts"] == 0
        clock.advance(world.settings.substitution_grace_seconds * dt.timedelta(seconds=1))
        assert (await parts.scheduler.tick())["substitution_alerts"] == 1
        assert (await parts.scheduler.tick())["substitution_alerts"] == 0  # once
        credit = await world.events(world.settings.credit_topic, what="the 以罚代刑 event",
                                    until=lambda e: "credit.penalty-substitutes-prosecution" in types(e))
    [event] = [p for t, p in credit if t.endswith("penalty-substitutes-prosecution.v1")]
    assert event["decision_no"] == "咸罚〔2025〕31号" and event["case_id"] == f"case-a-{unique}"
    assert event["family"] == "counterfeit_trademark" and event["referral_state"] == "none"
    assert event["procuratorate"] == f"procuratorate@{world.division}" and event["office"] == "office@610400"
    assert "第十六条" in event["liability_citation"] and event["threshold_citation"]
    assert event["figures"]["illegal_turnover"] == over["illegal_turnover"]
    audited = await world.fetch("SELECT kind FROM audit_log WHERE kind = 'credit.penalty-substitutes-prosecution'")
    assert len(audited) == 1


async def test_a_penalty_processed_before_its_cases_referral_step_raises_no_alert_once_the_step_arrives(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    on = dt.date(2025, 6, 2)
    market = await world.add_bureau()
    clock = ManualClock(dt.datetime(2025, 6, 3, 2, tzinfo=UTC))
    case_id = f"case-late-{unique}"
    async with world.running(clock, scheduler=False) as parts:
        async with http(parts, market) as client:
            posted = (await client.post("/v1/penalties", json=body(decision(
                "咸罚〔2025〕41号", on, case_id=case_id, figures={"illegal_turnover": str(_turnover_at(on))})))).json()
        assert posted["substitutes_prosecution"] is True
        # the referral step of the same case arrives after the penalty, inside the grace period
        transferred = ReferralTransferred(
            case_id=case_id, referral_id=f"ref-late-{unique}", state="transferred", agency=world.bureau(),
            police=f"public_security@{world.division}", at=dt.datetime(2025, 6, 3, 2, 1, tzinfo=UTC),
            package=TransferPackage(), category="trademarks", suspect=Suspect(credit_code=CODE),
        )
        await stack.produce(world.settings.referral_topic,
                            [stack.event_record(transferred, type=transferred.EVENT_TYPE, key=case_id)])
        await stack.eventually(lambda: world.fetch("SELECT 1 FROM case_referrals WHERE case_id = $1", case_id),
                               until=bool, timeout=40, what="the late referral state")
        clock.advance(world.settings.substitution_grace_seconds * dt.timedelta(seconds=1))
        assert (await parts.scheduler.tick())["substitution_alerts"] == 1
    [row] = await world.fetch("SELECT state, settled_reason FROM substitution_alerts")
    assert (row["state"], row["settled_reason"]) == ("withdrawn", "referral transferred")
    assert not await world.fetch("SELECT 1 FROM audit_log WHERE kind = 'credit.penalty-substitutes-prosecution'")
    withdrawn = await world.fetch("SELECT 1 FROM audit_log WHERE kind = 'credit.penalty-substitutes-prosecution-withdrawn'")
    assert len(withdrawn) == 1


async def test_due_alerts_are_settled_as_one_batch_each_sent_or_withdrawn_once(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    on = dt.date(2025, 6, 2)
    market = await world.add_bureau()
    clock = ManualClock(dt.datetime(2025, 6, 3, 2, tzinfo=UTC))
    over = {"illegal_turnover": str(_turnover_at(on))}
    parties = [(CODE, "咸阳某某商贸有限公司"), (OTHER_CODE, "福州某某贸易有限公司"), ("91110000600037341L", "北京某某有限公司")]
    cases = [f"case-set{i}-{unique}" for i in range(len(parties))]
    async with world.running(clock, scheduler=False) as parts:
        async with http(parts, market) as client:
            for i, ((code, name), case_id) in enumerate(zip(parties, cases)):
                posted = (await client.post("/v1/penalties", json=body(decision(
                    f"咸罚〔2025〕5{i}号", on, code=code, name=name, case_id=case_id, figures=over)))).json()
                assert posted["substitutes_prosecution"] is True, posted
        # the last case's referral step arrives inside the grace period: its alert is withdrawn, the others sent
        transferred = ReferralTransferred(
            case_id=cases[-1], referral_id=f"ref-set-{unique}", state="transferred", agency=world.bureau(),
            police=f"public_security@{world.division}", at=dt.datetime(2025, 6, 3, 2, 1, tzinfo=UTC),
            package=TransferPackage(), category="trademarks", suspect=Suspect(credit_code=parties[-1][0]),
        )
        await stack.produce(world.settings.referral_topic,
                            [stack.event_record(transferred, type=transferred.EVENT_TYPE, key=cases[-1])])
        await stack.eventually(lambda: world.fetch("SELECT 1 FROM case_referrals WHERE case_id = $1", cases[-1]),
                               until=bool, timeout=40, what="the late referral state")
        clock.advance(world.settings.substitution_grace_seconds * dt.timedelta(seconds=1))
        assert (await parts.scheduler.tick())["substitution_alerts"] == 3, "the three due alerts in one pass"
        assert (await parts.scheduler.tick())["substitution_alerts"] == 0, "each once"
        credit = await world.events(world.settings.credit_topic, what="the two 以罚代刑 events",
                                    until=lambda e: types(e).count("credit.penalty-substitutes-prosecution") >= 2)
    sent = sorted(p["case_id"] for t, p in credit if t.endswith("penalty-substitutes-prosecution.v1"))
    assert sent == sorted(cases[:2])
    rows = {r["case_id"]: (r["state"], r["settled_reason"])
            for r in await world.fetch("SELECT case_id, state, settled_reason FROM substitution_alerts")}
    assert rows == {cases[0]: ("sent", "no referral under way"), cases[1]: ("sent", "no referral under way"),
                    cases[2]: ("withdrawn", "referral transferred")}
    kinds = [r["kind"] for r in await world.fetch(
        "SELECT kind FROM audit_log WHERE kind LIKE 'credit.penalty-substitutes-prosecution%' ORDER BY seq")]
    assert sorted(kinds) == ["credit.penalty-substitutes-prosecution"] * 2 + \
        ["credit.penalty-substitutes-prosecution-pending"] * 3 + ["credit.penalty-substitutes-prosecution-withdrawn"]
