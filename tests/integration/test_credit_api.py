"""Credit's HTTP API on the real database and broker (issue #5): authenticated
penalty decisions, repair and early removal, screening, name search, the public
masked feed, overdue disclosures and the platform export."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from prometheus_client import REGISTRY

from services.credit.scheduler import refresh_gauges
from shared.clock import ManualClock
from services.credit.domain.listing_steps import approver_of
from services.credit.rules import load_rulebook
from tests.support.credit import CODE, OTHER_CODE, CreditWorld, decision, http, take_to_listing, types

pytestmark = pytest.mark.stack

UTC = dt.timezone.utc


def body(d) -> dict:  # noqa: ANN001
    return json.loads(d.model_dump_json())


async def test_a_request_without_a_valid_api_key_is_refused(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    await world.add_bureau()
    async with world.running(scheduler=False) as parts:
        async with http(parts) as anonymous:
            assert (await anonymous.get(f"/v1/entities/{CODE}")).status_code == 401
        async with http(parts, f"market_regulation-{world.division}.wrong") as wrong:
            assert (await wrong.post("/v1/penalties", json=body(decision("x", dt.date(2024, 1, 2))))).status_code == 401
        async with http(parts) as public:
            assert (await public.get("/v1/measures")).status_code == 200


async def test_a_bureau_records_a_penalty_over_http_and_another_bureau_cannot_revoke_it(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    market = await world.add_bureau()
    food = await world.add_bureau("food_drug")
    department = await world.add_client(f"dept-{unique}", "department")
    d = decision("咸秦市监罚〔2025〕11号", dt.date(2025, 4, 30), penalty_types=["fine", "licence_revocation"])
    async with world.running(ManualClock(dt.datetime(2025, 5, 6, 2, tzinfo=UTC)), scheduler=False) as parts:
        async with http(parts, market) as client:
            created = await client.post("/v1/penalties", json=body(d))
            again = await client.post("/v1/penalties", json=body(d))
        assert created.status_code == 201, created.text
        assert created.json()["heavy"] is True and created.json()["severity"] == "penalty_serious"
        # decided Wed 30 Apr 2025; 1-5 May are off: 6, 7, 8, 9, 12, 13, 14 May are the 7 working days
        assert created.json()["disclosure_due_on"] == "2025-05-14"
        assert again.status_code == 200 and again.json()["status"] == "duplicate"
        async with http(parts, department) as client:
            assert (await client.post("/v1/penalties", json=body(d))).status_code == 403
        async with http(parts, food) as client:
            refused = await client.post("/v1/penalties:revoke", json={"decision_no": "咸秦市监罚〔2025〕11号",
                                                                      "revoked_on": "2025-05-06", "reason": "撤销"})
            taken = await client.post("/v1/penalties", json=body(d))
        assert refused.status_code == 403 and refused.json()["reason"] == "not_decider_of_record"
        assert taken.status_code == 409 and taken.json()["reason"] == "decision_no_taken"
        events = await world.events(world.settings.penalty_topic, until=lambda e: types(e).count("penalty.refused") >= 2)
        assert types(events).count("penalty.recorded") == 1
        assert {p["reason"] for t, p in events if t.endswith("refused.v1")} == {"not_decider_of_record", "decision_no_taken"}


async def test_repair_is_refused_before_the_minimum_period_and_decided_by_the_deciding_bureau_after_it(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    market = await world.add_bureau()
    food = await world.add_bureau("food_drug")
    portal = await world.add_client(f"portal-{unique}", "portal")
    clock = ManualClock(dt.datetime(2024, 1, 15, 2, tzinfo=UTC))
    async with world.running(clock, scheduler=False) as parts:
        async with http(parts, market) as client:
            record_id = (await client.post("/v1/penalties", json=body(decision("咸罚〔2024〕601号", dt.date(2024, 1, 10),
                                                                                   category="false_advertising")))).json()["record_id"]
        application = {"kind": "repair", "target_id": record_id, "obligations_met": True, "commitment_signed": True,
                       "applicant": {"name": "华泰商贸", "contact": "029-0000"}}
        clock.advance(dt.timedelta(days=60))
        async with http(parts, portal) as client:
            early = await client.post("/v1/applications", json=application)
        assert early.status_code == 201 and early.json()["status"] == "ineligible"
        assert early.json()["reasons"] == ["minimum_period_not_passed"]
        clock.advance(dt.timedelta(days=40))  # past 10 April 2024
        async with http(parts, portal) as client:
            ok = (await client.post("/v1/applications", json=application)).json()
            assert (await client.post("/v1/applications", json=application)).status_code == 409
        assert ok["status"] == "pending" and ok["authority"] == world.bureau()
        async with http(parts, food) as client:
            wrong = await client.post(f"/v1/applications/{ok['application_id']}:decide", json={"approve": True})
        assert wrong.status_code == 403
        async with http(parts, market) as client:
            decided = await client.post(f"/v1/applications/{ok['application_id']}:decide", json={"approve": True, "reason": "已履行"})
            record = (await client.get(f"/v1/records/{record_id}")).json()
        assert decided.json()["status"] == "approved"
        assert record["status"] == "repaired"
        credit = await world.events(world.settings.credit_topic, until=lambda e: "credit.record-repaired" in types(e))
        outcomes = [p["outcome"] for t, p in credit if t.endswith("application-decided.v1")]
        assert outcomes == ["ineligible", "approved"]


async def test_early_removal_from_the_list_opens_after_a_year_and_ends_the_listing(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    market = await world.add_bureau()
    approver_id = approver_of(load_rulebook().blacklist.procedure.at(dt.date(2024, 3, 1)), world.bureau())
    approver = await world.add_bureau_key(approver_id) if approver_id else None
    portal = await world.add_client(f"portal-{unique}", "portal")
    clock = ManualClock(dt.datetime(2024, 3, 1, 2, tzinfo=UTC))
    async with world.running(clock, scheduler=False) as parts:
        async with http(parts, market) as client:
            await client.post("/v1/penalties", json=body(decision("咸罚〔2024〕701号", dt.date(2024, 1, 10))))
            flagged = (await client.post("/v1/penalties", json=body(decision("咸罚〔2024〕702号", dt.date(2024, 2, 20))))).json()
        [proceeding_id] = flagged["listing_proceedings"]
        listing_id = (await take_to_listing(parts, market, approver, proceeding_id, dt.date(2024, 3, 1)))["listing_id"]
        application = {"kind": "early_removal", "target_id": listing_id, "obligations_met": True, "commitment_signed": True,
                       "applicant": {"name": "华泰商贸"}}
        clock.advance(dt.timedelta(days=200))
        async with http(parts, portal) as client:
            assert (await client.post("/v1/applications", json=application)).json()["reasons"] == ["minimum_period_not_passed"]
        clock.advance(dt.timedelta(days=200))
        async with http(parts, portal) as client:
            pending = (await client.post("/v1/applications", json=application)).json()
        async with http(parts, market) as client:
            await client.post(f"/v1/applications/{pending['application_id']}:decide", json={"approve": True})
            view = (await client.get(f"/v1/entities/{CODE}")).json()
        assert view["status"] == "has_records" and view["listings"] == []
        assert "procurement_exclusion" not in [m["id"] for m in view["measures"]]
        credit = await world.events(world.settings.credit_topic, until=lambda e: "credit.delisted" in types(e))
        assert next(p for t, p in credit if t.endswith("delisted.v1"))["reason"] == "early_removal"


async def test_the_name_search_returns_scored_candidates_with_an_explanation(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    market = await world.add_bureau()
    async with world.running(ManualClock(dt.datetime(2024, 3, 1, 2, tzinfo=UTC)), scheduler=False) as parts:
        async with http(parts, market) as client:
            await client.post("/v1/penalties", json=body(decision("咸罚〔2024〕801号", dt.date(2024, 2, 1))))
            await client.post("/v1/penalties", json=body(decision("咸罚〔2024〕802号", dt.date(2024, 2, 1), code=OTHER_CODE,
                                                                  name="西安华泰商贸有限责任公司", category="false_advertising")))
            await parts.refresher.refresh()
            found = (await client.get("/v1/entities:search", params={"q": "咸阳华泰商贸"})).json()
            by_code = (await client.get("/v1/entities:search", params={"q": CODE.lower()})).json()
    [best, second] = found["candidates"][:2]
    assert best["credit_code"] == CODE and best["status"] == "has_records"
    assert best["score"] > second["score"]
    assert any("region agrees" in line for line in best["explanation"])
    assert any("region differs" in line for line in second["explanation"])
    assert by_code["candidates"][0]["credit_code"] == CODE and by_code["candidates"][0]["score"] == 100.0


async def test_the_public_feed_the_export_and_a_department_show_a_person_by_surname_without_the_id_number(
        unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    market = await world.add_bureau()
    platform = await world.add_client(f"platform-{unique}", "platform")
    department = await world.add_client(f"department-{unique}", "department")
    since = (await world.fetch("SELECT clock_timestamp() AS t"))[0]["t"]
    person = decision("咸罚〔2024〕901号", dt.date(2024, 2, 1), code=None, category="false_advertising",
                      party={"kind": "natural_person", "name": "张三丰", "resident_id": "11010519491231002X"})
    async with world.running(ManualClock(dt.datetime(2024, 2, 5, 2, tzinfo=UTC))) as parts:
        async with http(parts, market) as client:
            recorded = await client.post("/v1/penalties", json=body(person))
            assert recorded.status_code == 201, recorded.text
        await world.events(world.settings.credit_topic, until=lambda e: "credit.record-disclosed" in types(e))
        async with http(parts) as public:
            feed = (await public.get("/v1/disclosures")).json()
            csv_text = (await public.get("/v1/disclosures", params={"format": "csv", "labels": "zh"})).text
        async with http(parts, platform) as client:
            exported = (await client.get("/v1/exports/platform", params={"since": since.isoformat()})).text
            exported_csv = (await client.get("/v1/exports/platform", params={"since": since.isoformat(),
                                                                            "format": "csv"})).text
        async with http(parts, department) as client:
            [ids] = await world.fetch("SELECT record_id, entity_id FROM records")
            record = (await client.get(f"/v1/records/{ids['record_id']}")).json()
            entity_id = ids["entity_id"]
            entity = (await client.get(f"/v1/entities/{entity_id}")).json()
    [item] = feed["items"]
    assert item["party_name"] == "张**" and item["resident_id_masked"] is None, "rules/party_names.yaml: no ID number"
    assert "002X" not in csv_text
    [line] = [json.loads(x) for x in exported.splitlines()]
    assert line["party_name"] == "张**" and line["resident_id_masked"] is None
    assert "张三丰" not in exported_csv and "002X" not in exported_csv
    assert entity["name"] == "张**", "a department's view of the registry"
    assert record["party"]["name"] == "张**" and record["party"]["resident_id_masked"] is None
    assert item["bureau"].endswith("市场监督管理局")
    assert "张三丰" not in csv_text and "11010519491231002X" not in csv_text
    assert csv_text.startswith("行政处罚决定书文号,")
    rows = await world.fetch("SELECT person_sealed, person_masked, name FROM entities")
    assert "11010519491231002X" not in json.dumps(rows[0]["person_sealed"]) and rows[0]["name"] == "张**"
    events = await world.events(world.settings.penalty_topic, until=lambda e: len(e) >= 1)
    assert "11010519491231002X" not in json.dumps(events) and "张三丰" not in json.dumps(events)


async def test_overdue_disclosures_are_counted_when_bureaus_publish_by_hand(unique: str) -> None:
    world = CreditWorld(unique, auto_disclose=False)
    await world.create()
    market = await world.add_bureau()
    clock = ManualClock(dt.datetime(2024, 3, 1, 2, tzinfo=UTC))
    async with world.running(clock) as parts:
        async with http(parts, market) as client:
            late = (await client.post("/v1/penalties", json=body(decision("咸罚〔2024〕1001号", dt.date(2024, 2, 1))))).json()
            await client.post("/v1/penalties", json=body(decision("咸罚〔2024〕1002号", dt.date(2024, 2, 28),
                                                                  category="false_advertising")))
            await refresh_gauges(parts.consumer.pool, clock)
            assert REGISTRY.get_sample_value("shuangda_disclosures_overdue") == 1
            assert REGISTRY.get_sample_value("shuangda_disclosures_due") == 1
            published = await client.post(f"/v1/records/{late['record_id']}:disclose")
            assert published.json()["status"] == "disclosed"
            await refresh_gauges(parts.consumer.pool, clock)
            assert REGISTRY.get_sample_value("shuangda_disclosures_overdue") == 0
        credit = await world.events(world.settings.credit_topic, until=lambda e: "credit.record-disclosed" in types(e))
        assert next(p for t, p in credit if t.endswith("record-disclosed.v1"))["on_time"] is False


async def test_the_platform_export_publishes_and_then_withdraws_a_revoked_penalty(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    market = await world.add_bureau()
    platform = await world.add_client(f"platform-{unique}", "platform")
    since = (await world.fetch("SELECT clock_timestamp() AS t"))[0]["t"]
    async with world.running(ManualClock(dt.datetime(2024, 3, 1, 2, tzinfo=UTC))) as parts:
        async with http(parts, market) as client:
            await client.post("/v1/penalties", json=body(decision("咸罚〔2024〕1101号", dt.date(2024, 2, 1), fine_amount="123456.78")))
        await world.events(world.settings.credit_topic, until=lambda e: "credit.record-disclosed" in types(e))
        async with http(parts, platform) as client:
            first = await client.get("/v1/exports/platform", params={"since": since.isoformat()})
        async with http(parts, market) as client:
            await client.post("/v1/penalties:revoke", json={"decision_no": "咸罚〔2024〕1101号", "revoked_on": "2024-03-01",
                                                            "reason": "撤销"})
        async with http(parts, platform) as client:
            second = await client.get("/v1/exports/platform", params={"since": first.headers["x-next-since"]})
            csv_export = await client.get("/v1/exports/platform", params={"since": since.isoformat(), "format": "csv"})
    [line] = [json.loads(x) for x in first.text.splitlines()]
    assert line["op"] == "publish" and line["item"] == "penalty"
    assert line["fine_amount_wan"] == "12.345678" and line["decision_no"] == "咸罚〔2024〕1101号"
    later = [json.loads(x) for x in second.text.splitlines()]
    assert later[-1]["op"] == "withdraw" and later[-1]["status"] == "revoked" and later[-1]["version"] > line["version"]
    assert csv_export.text.splitlines()[0].startswith("op,item,id,version")


async def test_concurrent_decisions_about_one_entity_are_serialised_and_flag_it_for_review_once(unique: str) -> None:
    import asyncio

    world = CreditWorld(unique)
    await world.create()
    market = await world.add_bureau()
    async with world.running(ManualClock(dt.datetime(2024, 6, 1, 2, tzinfo=UTC))) as parts:
        async with http(parts, market) as client:
            responses = await asyncio.gather(*(
                client.post("/v1/penalties", json=body(decision(f"咸罚〔2024〕12{i:02d}号", dt.date(2024, 5, 1 + i))))
                for i in range(20)
            ))
        assert [r.status_code for r in responses] == [201] * 20
        flags = await world.fetch("SELECT rule_id, basis, state FROM listing_proceedings")
        assert [(r["rule_id"], r["basis"], r["state"]) for r in flags] == [("repeat_counterfeit", "local_policy", "review")]
        assert await world.fetch("SELECT 1 FROM listings") == []  # a local-policy flag lists nobody
        [entity] = await world.fetch("SELECT count(*) AS n FROM entities")
        assert entity["n"] == 1
    conn = await world.conn()
    try:
        from shared import audit

        assert await audit.verify(conn) is None
    finally:
        await conn.close()
