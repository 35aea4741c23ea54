"""Bad input is refused or dead-lettered with its reason, and disturbs nothing else."""
from __future__ import annotations

import json
from typing import Any

import pytest

from shared.contracts.intake import SubmitLead
from shared.envelope import new_envelope
from sim import stackenv
from sim.population import bad_check_character
from tests.e2e.conftest import E2E
from tests.support import hostile, stack

pytestmark = pytest.mark.stack


def lead(e2e: E2E, *, source_id: str, code: str, category: str = "trademarks") -> dict[str, Any]:
    return {
        "source_id": source_id, "channel": "monitoring", "category": category, "county": "610404",
        "description": "平台监测发现疑似假冒商品", "suspect": {"credit_code": code, "platform": "qinmall", "shop_id": source_id},
        "figures": {"amount_involved": "3000.00", "pieces": 20},
    }


def record(body: dict[str, Any] | bytes, key: str) -> tuple[str, list[tuple[str, bytes]], bytes]:
    env = new_envelope(type=SubmitLead.EVENT_TYPE, source="/e2e/monitor", subject=key)
    value = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return key, env.to_headers(), value


async def test_poison_leads_go_to_the_dead_letter_topic_with_their_reason_and_the_next_lead_goes_through(e2e: E2E) -> None:
    topic = f"ingress.{e2e.monitor}"
    key = e2e.source_id("shop")  # one key: every record on one partition, in this order
    good_code, bad_code = e2e.new_code("610404"), bad_check_character(e2e.new_code("610404"))
    wrong_check = lead(e2e, source_id=e2e.source_id("l"), code=bad_code)
    unknown_category = lead(e2e, source_id=e2e.source_id("l"), code=good_code, category="counterfeit_toys")
    good = lead(e2e, source_id=e2e.source_id("l"), code=good_code)
    not_a_cloudevent = (key, [], b'{"hello": "world"}')
    group = f"intake-{e2e.iso.unique}"

    def ours(records: list[Any]) -> list[Any]:
        # only our intake's: another intake reading every ingress topic on a shared broker would add its own
        return [r for r in records if stack.header(r, "dlq-group") == group]

    await stack.produce(topic, [record(wrong_check, key), not_a_cloudevent, record(unknown_category, key), record(good, key)])

    assigned = await e2e.webhook("shuangda.case.assigned.v1", recipient="market_regulation@610404",
                                 where=lambda e: e.get("suspect", {}).get("credit_code") == good_code)
    assert assigned.body["data"]["event"]["origin"] == "lead"

    async def dead() -> list[Any]:
        return ours(await stack.read_all(f"{topic}.dlq", timeout=5))

    letters = await stack.eventually(dead, until=lambda r: len(r) >= 3, timeout=60, what="three dead letters")
    assert len(letters) == 3
    by_detail = {stack.header(r, "dlq-detail") or "": r for r in letters}
    details = " | ".join(by_detail)
    assert "check character" in details and "counterfeit_toys" in details
    for r in letters:
        assert stack.header(r, "dlq-reason"), "every dead letter says why"
        assert stack.header(r, "dlq-origin-topic") == topic
    assert {stack.header(r, "dlq-reason") for r in letters} >= {"invalid_envelope"}
    wrong = next(r for d, r in by_detail.items() if "check character" in d)
    assert json.loads(wrong.value)["source_id"] == wrong_check["source_id"]  # the original record, untouched

    reports = await e2e.sql(f'SELECT source_id FROM "{e2e.iso.schemas.intake}".reports WHERE client_id = $1', e2e.monitor)
    ours = {r["source_id"] for r in reports} & {wrong_check["source_id"], unknown_category["source_id"], good["source_id"]}
    assert ours == {good["source_id"]}


async def test_a_complaint_with_a_wrong_check_character_is_refused_with_every_bad_field_and_nothing_is_stored(e2e: E2E) -> None:
    code = bad_check_character(e2e.new_code())
    body = {
        "source_id": e2e.source_id(), "category": "counterfeit_toys", "county": "610402", "description": "假冒商品",
        "suspect": {"credit_code": code, "name": "咸阳某商贸有限公司"}, "complainant": {"name": "李四", "phone": "1380013800"},
    }
    response = await e2e.http.post(f"{e2e.iso.url('intake')}/v1/complaints", json=body,
                                   headers={"authorization": f"Bearer {e2e.keys.intake[e2e.hotline]}"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert errors["suspect.credit_code"] == "bad_check_character"
    assert "category" in errors and "complainant.phone" in errors
    stored = await e2e.sql(f'SELECT count(*) AS n FROM "{e2e.iso.schemas.intake}".reports WHERE source_id = $1',
                           body["source_id"])
    assert stored[0]["n"] == 0
    # the operator fixes the typos and the same source id goes through
    code_ok = e2e.new_code()
    fixed = {**body, "category": "trademarks", "suspect": {**body["suspect"], "credit_code": code_ok},
             "complainant": {"name": "李四", "phone": "13800138000"}}
    response = await e2e.http.post(f"{e2e.iso.url('intake')}/v1/complaints", json=fixed,
                                   headers={"authorization": f"Bearer {e2e.keys.intake[e2e.hotline]}"})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("service", stackenv.SERVICES)
async def test_every_service_answers_a_request_its_http_parser_refuses_with_a_problem_document(e2e: E2E,
                                                                                              service: str) -> None:
    url = e2e.iso.url(service)
    wrong = []
    # a path no service has: a header the parser lets through reaches the app and gets its 404 problem
    for data in [hostile.with_header("/v1/no-such-path", h) for h in hostile.MALFORMED_HEADERS] + list(hostile.MALFORMED_REQUEST_LINES):
        answer = await hostile.raw_exchange(url, data)
        if not hostile.is_problem_answer(answer):
            wrong.append((data[:60], answer[:200]))
    assert wrong == [], "every refusal is a 4xx problem document, never text/plain, a 5xx or a dropped connection"
    answer = await hostile.raw_exchange(url, hostile.with_header("/healthz", b"Idempotency-Key: \x01\x02"))
    problem = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert problem["status"] == 400 and problem["errors"][0]["field"] == "header.idempotency-key"


async def test_a_short_fuzz_across_the_four_services_gets_no_5xx_no_dropped_connection_and_only_problem_documents(
        e2e: E2E) -> None:
    """The suite's small version of the long fuzz (`python -m bench.fuzz`, ≥ 100,000 requests)."""
    from bench.fuzz import Target, fuzz
    from sim.registration import principal_tokens

    ops = f"ops-fuzz-{e2e.iso.unique}"
    tokens = await principal_tokens(e2e.dsn, e2e.iso.schemas.identity, {ops: ("ops", None)}, label="e2e")
    bureau_key = next(iter(e2e.keys.routing.values()))
    targets = [Target(s, e2e.iso.url(s), {"authorization": f"Bearer {tokens[ops] if s == 'notify' else bureau_key}"})
               for s in stackenv.SERVICES]
    figures = await fuzz(targets, requests=1600, concurrency=16, seed=20261207)
    assert figures.requests >= 1500
    assert figures.server_errors == [], figures.server_errors[:5]
    assert figures.dropped == [], figures.dropped[:5]
    assert figures.not_problems == [], figures.not_problems[:5]
    for service in stackenv.SERVICES:  # and every service still answers
        assert (await e2e.http.get(f"{e2e.iso.url(service)}/healthz")).status_code == 200, service
