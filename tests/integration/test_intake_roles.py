"""Intake as two processes (``SHUANGDA_INTAKE_ROLE=api`` and ``=worker``, shared.runtime.service): the API
process answers complaints and is ready without any consumer, the worker consumes ingress behind
ops-only routes, and between them every complaint and lead still becomes a case (issue 11 §5)."""
from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.contracts.cases import CaseOpened
from shared.contracts.intake import SubmitLead
from shared.envelope import new_envelope
from tests.support import stack
from tests.support.intake import IntakeWorld

pytestmark = pytest.mark.stack


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _status(url: str, path: str) -> int:
    try:
        async with httpx.AsyncClient(trust_env=False) as client:
            return (await client.get(f"{url}{path}", timeout=2)).status_code
    except httpx.HTTPError:
        return 0


def _lead(source_id: str) -> tuple[str, list[tuple[str, bytes]], bytes]:
    body = SubmitLead.model_validate({
        "source_id": source_id, "category": "trademarks", "county": "610423", "description": "监测发现疑似假冒商品",
        "suspect": {"name": f"泾阳{source_id}贸易商行"}, "figures": {"amount_involved": "12000"}})
    envelope = new_envelope(type=SubmitLead.EVENT_TYPE, source="/platform/monitoring", subject=source_id)
    return source_id, envelope.to_headers(), body.model_dump_json().encode()


async def test_the_api_process_files_complaints_without_a_consumer_and_the_worker_opens_the_leads(
        tmp_path: Path) -> None:
    world = IntakeWorld(uuid.uuid4().hex[:10])
    await world.create()
    key = await world.add_client("hotline", "hotline", ["complaints:write"], topic=False)
    await world.add_client("monitor", "platform", ["leads:write"])
    api_port, worker_port = _free_port(), _free_port()
    api_url, worker_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{worker_port}"
    procs = [stack.spawn("services.intake", world.env(SHUANGDA_INTAKE_ROLE="api", SHUANGDA_INTAKE_HTTP_PORT=str(api_port)),
                         tmp_path / "api.log")]
    try:
        # ready with no worker anywhere: the API's readiness does not depend on a consumer
        await stack.eventually(lambda: _status(api_url, "/readyz"), until=lambda s: s == 200, timeout=120,
                               what="the API process ready")
        body: dict[str, Any] = {"kind": "complaint", "channel": "hotline", "category": "trademarks", "county": "610402",
                                "description": "买到疑似假冒的运动鞋", "suspect": {"name": "秦都某某鞋店"},
                                "complainant": {"name": "王五", "phone": "13800138000"}}
        async with httpx.AsyncClient(base_url=api_url, trust_env=False) as client:
            filed = await client.post("/v1/complaints", json=body, headers={"X-API-Key": key}, timeout=30)
        assert filed.status_code == 201, filed.text
        case_id = filed.json()["case_id"]

        # the API process's own relay publishes the complaint's case.opened: no worker is needed for it
        opened = await stack.eventually(lambda: stack.read_lanes(world.case_topic), until=lambda r: len(r) >= 1, timeout=60,
                                        what="the complaint's case.opened")
        assert [CaseOpened.model_validate_json(r.value).case_id for r in opened] == [case_id]

        await stack.produce(world.ingress_topic("monitor"), [_lead(f"M-{i}") for i in range(3)])
        procs.append(stack.spawn("services.intake", world.env(SHUANGDA_INTAKE_ROLE="worker",
                                                              SHUANGDA_INTAKE_HTTP_PORT=str(worker_port)),
                                 tmp_path / "worker.log"))
        await stack.eventually(lambda: _status(worker_url, "/readyz"), until=lambda s: s == 200, timeout=120,
                               what="the worker ready (its consumer polling)")
        events = await stack.eventually(lambda: stack.read_lanes(world.case_topic), until=lambda r: len(r) >= 4,
                                        timeout=120, what="the three leads' cases opened by the worker")
        leads = [e for e in (CaseOpened.model_validate_json(r.value) for r in events) if e.case_id != case_id]
        assert sorted(e.origin for e in leads) == ["lead", "lead", "lead"]
        assert len({e.case_id for e in leads}) == 3

        # the worker serves ops routes only; the complaint API is the API process's
        assert await _status(worker_url, "/healthz") == 200
        assert await _status(worker_url, "/metrics") == 200
        assert await _status(worker_url, "/openapi.json") == 200  # the worker's own (ops-only) document
        async with httpx.AsyncClient(base_url=worker_url, trust_env=False) as client:
            refused = await client.post("/v1/complaints", json=body, headers={"X-API-Key": key}, timeout=10)
        assert refused.status_code in (404, 405)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            await asyncio.to_thread(proc.wait, 30)
