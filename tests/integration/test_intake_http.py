"""Intake's HTTP API on the real broker and database (in-process app, real consumer/relay)."""
from __future__ import annotations

import asyncio
import json
import socket
import time
from datetime import timedelta
from typing import Any

import pytest

from shared.clock import ManualClock
from tests.support.intake import IntakeWorld, running_intake
from shared.contracts.cases import CaseMerged, CaseOpened
from tests.support import stack

pytestmark = pytest.mark.stack

HOTLINE_SCOPES = ["complaints:write", "complaints:read"]


def complaint(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": "trademarks",
        "county": "610402",
        "description": "在秦都区某店买到假冒名牌运动鞋",
        "suspect": {"credit_code": "91110000600037341L", "name": "咸阳某某商贸有限公司"},
        "complainant": {"name": "李四", "phone": "13912345678"},
        "figures": {"sales": "300.00"},
    }
    body.update(changes)
    return body


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def case_events(world: IntakeWorld, n: int, timeout: float = 30) -> list[Any]:
    return await stack.eventually(lambda: stack.read_lanes(world.case_topic), until=lambda r: len(r) >= n,
                                  timeout=timeout, what=f"{n} case events on {world.case_topic}")


async def world_with(unique: str, **clients: tuple[str, list[str]]) -> tuple[IntakeWorld, dict[str, str]]:
    world = IntakeWorld(unique)
    await world.create()
    keys = {name: await world.add_client(name, kind, scopes, topic=False) for name, (kind, scopes) in clients.items()}
    return world, keys


async def test_an_http_complaint_gets_a_tracking_number_and_opens_a_case_announced_on_kafka_as_a_cloudevent(unique: str) -> None:
    world, keys = await world_with(unique, hot=("hotline", HOTLINE_SCOPES))
    async with running_intake(world) as intake:
        response = await intake.http.post("/v1/complaints", json=complaint(), headers=auth(keys["hot"]))
        assert response.status_code == 201, response.text
        receipt = response.json()
        assert receipt["outcome"] == "opened"
        assert receipt["tracking_no"].startswith("SD")
        assert response.headers["location"] == f"/v1/complaints/{receipt['tracking_no']}"
        records = await case_events(world, 1)
    record = records[0]
    assert record.key.decode() == receipt["case_id"]
    assert stack.header(record, "ce_type") == CaseOpened.EVENT_TYPE
    assert stack.header(record, "ce_specversion") == "1.0"
    assert stack.header(record, "ce_source") == "/shuangda/intake"
    assert stack.header(record, "ce_subject") == receipt["case_id"]
    assert stack.header(record, "ce_correlationid") == receipt["case_id"]
    assert stack.header(record, "ce_actor") == world.client_id("hot"), "the actor comes from the API key"
    assert stack.header(record, "ce_id") and stack.header(record, "ce_time") and stack.header(record, "ce_traceparent")
    assert stack.header(record, "content-type") == "application/json"
    event = CaseOpened.model_validate_json(record.value)
    assert event.case_id == receipt["case_id"] and event.tracking_no == receipt["tracking_no"]
    assert event.client_id == world.client_id("hot") and event.channel == "hotline"
    assert str(event.figures["sales"]) == "300.00"
    assert event.complainant is not None and event.complainant.phone is not None
    assert event.complainant.phone_masked == "*******5678"
    assert b"13912345678" not in record.value, "the phone travels sealed"


async def test_the_same_idempotency_key_and_body_returns_the_first_response_and_another_body_is_a_409(unique: str) -> None:
    world, keys = await world_with(unique, hot=("hotline", HOTLINE_SCOPES))
    headers = {**auth(keys["hot"]), "Idempotency-Key": "call-2025-0001"}
    async with running_intake(world) as intake:
        first = await intake.http.post("/v1/complaints", json=complaint(), headers=headers)
        again = await intake.http.post("/v1/complaints", json=complaint(), headers=headers)
        other = await intake.http.post("/v1/complaints", json=complaint(description="另一件事"), headers=headers)
        # keys are scoped per client: another client may use the same key for its own request
        other_client = await world.add_client("hot2", "hotline", HOTLINE_SCOPES, topic=False)
        elsewhere = await intake.http.post("/v1/complaints", json=complaint(),
                                           headers={**auth(other_client), "Idempotency-Key": "call-2025-0001"})
        await case_events(world, 2)
        await asyncio.sleep(1.0)
        records = await stack.read_lanes(world.case_topic)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content, "byte for byte the first response"
    assert again.headers["idempotent-replayed"] == "true"
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["status"] == 409
    assert elsewhere.status_code == 201 and elsewhere.json()["tracking_no"] != first.json()["tracking_no"]
    assert len(records) == 2, "the replay emitted nothing"


async def test_a_resubmission_with_the_same_source_id_is_recognised_and_not_counted_twice(unique: str) -> None:
    world, keys = await world_with(unique, hot=("hotline", HOTLINE_SCOPES))
    async with running_intake(world) as intake:
        first = await intake.http.post("/v1/complaints", json=complaint(source_id="HL-778"), headers=auth(keys["hot"]))
        again = await intake.http.post("/v1/complaints", json=complaint(source_id="HL-778"), headers=auth(keys["hot"]))
        await case_events(world, 1)
        await asyncio.sleep(1.0)
        records = await stack.read_lanes(world.case_topic)
        rows = await world.fetch("SELECT reports_count FROM cases")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["outcome"] == "duplicate"
    assert again.json()["tracking_no"] == first.json()["tracking_no"]
    assert len(records) == 1 and [r["reports_count"] for r in rows] == [1]


async def test_a_report_within_the_window_merges_and_one_after_it_opens_a_new_case(unique: str) -> None:
    world, keys = await world_with(unique, hot=("hotline", HOTLINE_SCOPES))
    clock = ManualClock()
    async with running_intake(world, clock=clock, merge_window_days=30) as intake:
        opened = (await intake.http.post("/v1/complaints", json=complaint(), headers=auth(keys["hot"]))).json()
        clock.advance(timedelta(days=29))
        merged = (await intake.http.post("/v1/complaints", json=complaint(county="610427", figures={"sales": "0.50"}),
                                         headers=auth(keys["hot"]))).json()
        clock.advance(timedelta(days=2))  # 31 days after the case opened
        fresh = (await intake.http.post("/v1/complaints", json=complaint(), headers=auth(keys["hot"]))).json()
        records = await case_events(world, 3)
    assert (opened["outcome"], merged["outcome"], fresh["outcome"]) == ("opened", "merged", "opened")
    assert merged["case_id"] == opened["case_id"] != fresh["case_id"]
    by_type = [(stack.header(r, "ce_type"), r) for r in records]
    merged_event = CaseMerged.model_validate_json(next(r for t, r in by_type if t == CaseMerged.EVENT_TYPE).value)
    assert merged_event.reports_count == 2
    assert str(merged_event.figures["sales"]) == "300.50", "running totals"
    assert merged_event.counties == ["610402", "610482"], "the historical county code mapped to the current one"


async def test_concurrent_reports_about_one_suspect_serialise_into_one_case_with_events_in_order(unique: str) -> None:
    world, keys = await world_with(unique, hot=("hotline", HOTLINE_SCOPES))
    n = 25
    async with running_intake(world, pool_max_size=12) as intake:
        responses = await asyncio.gather(*[
            intake.http.post("/v1/complaints", json=complaint(), headers=auth(keys["hot"])) for _ in range(n)])
        records = await case_events(world, n)
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses if r.status_code != 201]
    assert len({r.json()["case_id"] for r in responses}) == 1
    assert {r.key for r in records} == {records[0].key}
    counts = [json.loads(r.value)["reports_count"] for r in records]
    assert counts == list(range(1, n + 1)), "one partition, events in the order the reports were merged"


async def test_another_client_cannot_read_a_complaints_status(unique: str) -> None:
    world, keys = await world_with(unique, hot=("hotline", HOTLINE_SCOPES), other=("hotline", HOTLINE_SCOPES),
                                   writer=("hotline", ["complaints:write"]))
    async with running_intake(world) as intake:
        tracking = (await intake.http.post("/v1/complaints", json=complaint(), headers=auth(keys["hot"]))).json()["tracking_no"]
        mine = await intake.http.get(f"/v1/complaints/{tracking}", headers=auth(keys["hot"]))
        theirs = await intake.http.get(f"/v1/complaints/{tracking}", headers=auth(keys["other"]))
        nonexistent = await intake.http.get("/v1/complaints/SD250101-00000000", headers=auth(keys["other"]))
        no_scope = await intake.http.get(f"/v1/complaints/{tracking}", headers=auth(keys["writer"]))
        open311_theirs = await intake.http.get(f"/open311/v2/requests/{tracking}.json", headers=auth(keys["other"]))
    assert mine.status_code == 200
    status = mine.json()
    assert status["status"] == "registered" and tracking in status["readout_zh"]
    assert status["complainant"] == {"name_masked": "李*", "phone_masked": "*******5678"}
    assert theirs.status_code == 404 and theirs.json()["title"] == "Not found"
    assert theirs.json() == nonexistent.json(), "another client's complaint looks exactly like none"
    assert no_scope.status_code == 403
    assert open311_theirs.status_code == 404


async def test_missing_and_bad_keys_get_401_and_missing_scopes_403_as_problem_documents(unique: str) -> None:
    world, keys = await world_with(unique, platform=("platform", ["leads:write"]))
    await world.revoke("platform")
    revoked_key = keys["platform"]
    fresh_key = await world.add_client("platform2", "platform", ["leads:write"], topic=False)
    async with running_intake(world) as intake:
        none = await intake.http.post("/v1/complaints", json=complaint())
        bad = await intake.http.post("/v1/complaints", json=complaint(), headers={"X-API-Key": "sdk_abcdefghijkm_nope"})
        revoked = await intake.http.post("/v1/leads:batch", json={"leads": []}, headers={"X-API-Key": revoked_key})
        forbidden = await intake.http.post("/v1/complaints", json=complaint(), headers={"X-API-Key": fresh_key})
    for response, status in ((none, 401), (bad, 401), (revoked, 401), (forbidden, 403)):
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == status


async def test_domain_validation_errors_have_the_same_problem_shape_as_request_validation(unique: str) -> None:
    world, keys = await world_with(unique, hot=("hotline", HOTLINE_SCOPES))
    async with running_intake(world) as intake:
        domain = await intake.http.post("/v1/complaints", headers=auth(keys["hot"]),
                                        json=complaint(county="110101", suspect={"credit_code": "91110000600037341M"}))
        schema = await intake.http.post("/v1/complaints", headers=auth(keys["hot"]), json=complaint(owner="x", figures={"sales": "-1"}))
    for response in (domain, schema):
        assert response.status_code == 422
        doc = response.json()
        assert doc["type"] == "https://shuangda.example/problems/validation" and doc["status"] == 422
        assert all(set(e) == {"field", "reason", "detail"} for e in doc["errors"])
    assert {(e["field"], e["reason"]) for e in domain.json()["errors"]} == {
        ("county", "outside_city"), ("suspect.credit_code", "bad_check_character")}
    assert {(e["field"], e["reason"]) for e in schema.json()["errors"]} == {
        ("owner", "extra_forbidden"), ("figures.sales", "greater_than_equal")}


async def test_a_lead_batch_answers_each_lead_with_its_outcome_or_its_errors(unique: str) -> None:
    world, keys = await world_with(unique, shop=("platform", ["leads:write"]))

    def lead(i: int, **changes: Any) -> dict[str, Any]:
        body = {"source_id": f"L-{i}", "category": "online_piracy", "county": "610404", "suspect": {"shop_id": f"s{i % 3}"}}
        body.update(changes)
        return body

    batch = [lead(0), lead(1), lead(2), lead(3), lead(4, county="999999"), lead(5, suspect={"shop_id": "s5", "x": 1}),
             lead(0), "not a lead"]
    async with running_intake(world) as intake:
        response = await intake.http.post("/v1/leads:batch", json={"leads": batch}, headers=auth(keys["shop"]))
        records = await case_events(world, 4)
        too_many = await intake.http.post("/v1/leads:batch", json={"leads": [lead(i) for i in range(1001)]}, headers=auth(keys["shop"]))
    assert response.status_code == 200, response.text
    body = response.json()
    outcomes = [r["outcome"] for r in body["results"]]
    assert outcomes == ["opened", "opened", "opened", "merged", "rejected", "rejected", "duplicate", "rejected"]
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (4, 1, 3)
    assert body["results"][3]["case_id"] == body["results"][0]["case_id"], "s0 again"
    assert body["results"][4]["errors"] == [{"field": "leads.4.county", "reason": "outside_city",
                                             "detail": "999999 is outside 咸阳市 (610400)"}]
    assert body["results"][5]["errors"][0]["field"] == "leads.5.suspect.x"
    assert body["results"][7]["errors"][0]["field"] == "leads.7"
    assert len(records) == 4
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["reason"] == "too_long"


async def test_open311_lists_the_categories_and_files_and_reads_a_request(unique: str) -> None:
    world, keys = await world_with(unique, web=("hotline", HOTLINE_SCOPES))
    async with running_intake(world) as intake:
        services = await intake.http.get("/open311/v2/services.json")
        created = await intake.http.post("/open311/v2/requests.json", headers=auth(keys["web"]), json={
            "service_code": "food", "description": "外卖平台上的黑作坊", "address_string": "渭城区某路1号",
            "last_name": "王", "first_name": "五", "phone": "13700001111",
            "attribute": {"county": "610404", "suspect_name": "某某小吃"},
        })
        invalid = await intake.http.post("/open311/v2/requests.json", headers=auth(keys["web"]), json={
            "service_code": "parking", "description": "x", "attribute": {"county": "610404", "suspect_name": "某"}})
        request_id = created.json()[0]["service_request_id"]
        fetched = await intake.http.get(f"/open311/v2/requests/{request_id}.json", headers=auth(keys["web"]))
        records = await case_events(world, 1)
    codes = {s["service_code"] for s in services.json()}
    assert {"trademarks", "food", "counterfeit_drugs"} <= codes
    assert created.status_code == 201
    assert fetched.status_code == 200
    [req] = fetched.json()
    assert req["service_request_id"] == request_id and req["status"] == "open" and req["service_code"] == "food"
    assert CaseOpened.model_validate_json(records[0].value).channel == "open311"
    assert invalid.status_code == 400, "GeoReport v2: a bad field is a 400 with [{code, description}]"
    assert {e["code"] for e in invalid.json()} == {400}
    assert {e["description"].split(":")[0] for e in invalid.json()} == {"service_code", "phone"}


async def test_a_body_over_the_limit_is_refused_with_413(unique: str) -> None:
    world, keys = await world_with(unique, hot=("hotline", HOTLINE_SCOPES))
    async with running_intake(world, max_body_bytes=4096) as intake:
        response = await intake.http.post("/v1/complaints", headers={**auth(keys["hot"]), "content-type": "application/json"},
                                          content=json.dumps(complaint(description="假" * 3000)).encode())

        async def chunks():  # no Content-Length: counted while streaming
            for _ in range(10):
                yield b" " * 1000

        streamed = await intake.http.post("/v1/complaints", headers={**auth(keys["hot"]), "content-type": "application/json"},
                                          content=chunks())
    assert response.status_code == 413 and response.headers["content-type"] == "application/problem+json"
    assert streamed.status_code == 413


async def test_a_key_intake_issued_before_the_identity_store_still_files_a_complaint_once_imported(unique: str) -> None:
    world = IntakeWorld(unique)
    await world.create()
    legacy = await world.add_legacy_client("old-hotline", "hotline", HOTLINE_SCOPES)
    assert legacy.startswith("sdk_")
    async with running_intake(world) as intake:
        before = await intake.http.post("/v1/complaints", json=complaint(), headers=auth(legacy))
        assert (await world.import_legacy_keys()) == {"intake": 1}
        # the refusal above is cached for at most identity_cache_seconds
        after = await stack.eventually(
            lambda: intake.http.post("/v1/complaints", json=complaint(source_id="legacy-1"), headers={"X-API-Key": legacy}),
            until=lambda r: r.status_code != 401, timeout=10, what="the imported key accepted")
        status = await intake.http.get(f"/v1/complaints/{after.json()['tracking_no']}", headers=auth(legacy))
        [record] = await case_events(world, 1)
    assert before.status_code == 401, "not a key of the identity store until imported"
    assert after.status_code == 201, after.text
    assert status.status_code == 200, "the same client reads its own complaint"
    assert stack.header(record, "ce_actor") == world.client_id("old-hotline")
    assert CaseOpened.model_validate_json(record.value).client_id == world.client_id("old-hotline")


async def test_a_revoked_key_is_refused_within_the_identity_cache_time(unique: str) -> None:
    world, keys = await world_with(unique, hot=("hotline", HOTLINE_SCOPES))
    bound = 1.0
    async with running_intake(world, identity_cache_seconds=bound) as intake:
        accepted = await intake.http.get("/v1/complaints/SD250101-00000000", headers=auth(keys["hot"]))
        assert accepted.status_code == 404, "authenticated (and now cached): no such complaint"
        assert await world.revoke("hot")
        revoked_at = time.monotonic()
        refused = await stack.eventually(
            lambda: intake.http.get("/v1/complaints/SD250101-00000000", headers=auth(keys["hot"])),
            until=lambda r: r.status_code == 401, timeout=bound + 5, interval=0.1, what="the revoked key refused")
        took = time.monotonic() - revoked_at
        still = await intake.http.post("/v1/complaints", json=complaint(), headers=auth(keys["hot"]))
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    assert took <= bound + 1.0, f"refused {took:.2f}s after the revocation; the bound is {bound}s (+1s margin)"
    assert still.status_code == 401


async def test_with_the_database_down_a_write_and_a_status_read_answer_503_with_retry_after(unique: str) -> None:
    import asyncpg
    import httpx

    from services.intake.adapters.http import HttpDeps, build_app
    from services.intake.app.registration import Registrar
    from shared.identity import open_directory
    from shared.identity.http import Authenticator
    from shared.pii import Keyring

    world, keys = await world_with(unique, hot=("hotline", HOTLINE_SCOPES))
    settings = world.settings()
    with socket.socket() as s:  # a port nothing listens on: the database is down
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    down = await asyncpg.create_pool(f"postgresql://shuangda:shuangda@127.0.0.1:{dead}/shuangda", min_size=0, max_size=2)
    directory = await open_directory(settings)  # the identity store is still reachable: the key is good
    registrar = Registrar(keyring=Keyring.development(), window=timedelta(days=30), case_topic=world.case_topic)
    app = build_app(HttpDeps(pool=down, auth=Authenticator(directory), registrar=registrar, clock=ManualClock()))
    try:
        # as a server would: the answer is sent even though the app re-raises the handled error
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake.test") as http:
            write = await http.post("/v1/complaints", json=complaint(), headers={**auth(keys["hot"]), "Idempotency-Key": "k1"})
            read = await http.get("/v1/complaints/SD250101-00000000", headers=auth(keys["hot"]))
    finally:
        await directory.close()
        await down.close()
    for response in (write, read):
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert int(response.headers["retry-after"]) > 0


async def test_a_complaint_counts_once_in_the_metrics_even_when_its_transaction_is_retried(unique: str) -> None:
    from services.intake.metrics import CASES

    world, keys = await world_with(unique, hot=("hotline", HOTLINE_SCOPES))
    async with running_intake(world) as intake:
        registrar = intake.parts.registrar
        real = registrar.register_many
        tries = 0

        async def collides_once(uow, reports, now, causes=None):  # noqa: ANN001 - the registrar's signature
            nonlocal tries
            tries += 1
            receipts = await real(uow, reports, now, causes)
            if tries == 1:  # as a tracking-number collision would, after the work was done
                import asyncpg

                raise asyncpg.UniqueViolationError("duplicate key value violates unique constraint")
            return receipts

        before = CASES.labels("opened", "hotline")._value.get()
        registrar.register_many = collides_once  # type: ignore[method-assign]
        try:
            response = await intake.http.post("/v1/complaints", json=complaint(), headers=auth(keys["hot"]))
        finally:
            registrar.register_many = real  # type: ignore[method-assign]
        records = await case_events(world, 1)
        after = CASES.labels("opened", "hotline")._value.get()
        rows = await world.fetch("SELECT count(*) AS n FROM reports")
    assert response.status_code == 201, response.text
    assert tries == 2, "the first transaction was rolled back and run again"
    assert after - before == 1, "counted once: only the committed try"
    assert len(records) == 1 and rows[0]["n"] == 1
