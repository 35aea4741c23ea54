"""Intake as a process (``python -m services.intake``) with a client of the identity
store: personal data never in clear in Kafka's log segments or the service
log, and a schemathesis run against its OpenAPI with no 5xx."""
from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest
import pytest_asyncio

from tests.support.intake import IntakeWorld
from shared.config import REPO_ROOT
from shared.contracts.cases import CaseOpened
from shared.identifiers import resident_id_check_character
from shared import vault
from shared.db import connect
from shared.pii import Keyring
from tests.support import stack

pytestmark = pytest.mark.stack


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHUANGDA_DEV": "true", "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "deploy.cli", *args], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)


class Service:
    def __init__(self, world: IntakeWorld, url: str, key: str, log: Path) -> None:
        self.world, self.url, self.key, self.log = world, url, key, log


@pytest_asyncio.fixture(scope="module")
async def service(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    world = IntakeWorld(uuid.uuid4().hex[:10])
    await world.create()
    key = await world.add_client("bureau", "bureau", ["complaints:write", "complaints:read", "leads:write"], topic=False)
    port = _free_port()
    log = tmp_path_factory.mktemp("intake") / "intake.log"
    proc = stack.spawn("services.intake", world.env(SHUANGDA_INTAKE_HTTP_PORT=str(port)), log)
    url = f"http://127.0.0.1:{port}"

    async def ready() -> int:
        if proc.poll() is not None:
            raise AssertionError(f"intake exited with {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"{url}/readyz", timeout=2)).status_code
        except httpx.HTTPError:
            return 0

    try:
        await stack.eventually(ready, until=lambda s: s == 200, timeout=60, what="intake ready")
        yield Service(world, url, key, log)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)


def test_the_former_clients_verb_points_to_shuangda_keys() -> None:
    replaced = _cli("clients", "create", "hotline-x", "--kind", "hotline")
    assert replaced.returncode == 1
    assert "shuangda keys" in replaced.stderr
    assert _cli("clients", "--help").returncode == 0


def _planted_identity() -> tuple[str, str, str]:
    rng = random.Random()
    phone = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
    name = "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(3))
    first17 = "610402" + f"{rng.randrange(1950, 2000)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}" + f"{rng.randrange(1000):03d}"
    return phone, name, first17 + resident_id_check_character(first17)


def _files_containing(root: Path, needles: list[bytes], pattern: str = "*") -> list[str]:
    import fnmatch
    import os

    hits = []
    # os.walk, not rglob: another test's topic directory may vanish mid-scan (walk skips it)
    paths = (Path(d) / f for d, _, files in os.walk(root, onerror=lambda _e: None) for f in files
             if fnmatch.fnmatch(f, pattern))
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError:  # a segment deleted while we looked
            continue
        hits += [f"{path}: {needle!r}" for needle in needles if needle in data]
    return hits


async def test_a_planted_phone_name_and_id_number_never_appear_in_clear_in_kafka_or_the_service_log(service: Service) -> None:
    kafka_data = stack.local_kafka_data()
    if kafka_data is None:
        pytest.skip("the broker is external: its log segments are not on this machine")
    phone, name, id_number = _planted_identity()
    async with httpx.AsyncClient(base_url=service.url) as client:
        response = await client.post("/v1/complaints", headers={"X-API-Key": service.key}, json={
            "category": "cosmetics", "county": "610403", "suspect": {"name": "杨陵某化妆品店"},
            "description": f"买到假冒化妆品，请打 {phone} 联系我，身份证 {id_number}",
            "complainant": {"name": name, "phone": phone, "id_number": id_number},
        })
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]
    records = await stack.eventually(lambda: stack.read_lanes(service.world.case_topic),
                                     until=lambda rs: any(r.key == case_id.encode() for r in rs), what="case.opened")
    event = CaseOpened.model_validate_json(next(r for r in records if r.key == case_id.encode()).value)
    assert event.complainant is not None and event.complainant.phone is not None
    conn = await connect(stack.dsn(), vault.SCHEMA)
    try:  # sealed with the complainant's own data key, opened through the key store
        opener = await vault.opener(conn, Keyring.development(), [event.complainant.phone])
    finally:
        await conn.close()
    assert opener.open(event.complainant.phone, field="phone") == phone, "the phone travels, sealed"
    needles = [phone.encode(), name.encode(), id_number.encode(), f"{phone[:3]}-{phone[3:7]}-{phone[7:]}".encode()]
    assert kafka_data.is_dir()
    # the segments' data files (the preallocated, sparse .index files hold offsets only)
    assert _files_containing(kafka_data, needles, "*.log") == []
    assert _files_containing(kafka_data, [case_id.encode()], "*.log"), "the search does see the event's segment"
    assert _files_containing(service.log.parent, needles) == []
    rows = await service.world.fetch("SELECT complainant::text AS c, summary FROM reports")
    outbox = await service.world.fetch("SELECT payload FROM outbox")
    stored = " ".join(f"{r['c']} {r['summary']}" for r in rows).encode() + b" ".join(bytes(r["payload"]) for r in outbox)
    assert not any(n in stored for n in needles), "nor in the database"


async def test_schemathesis_finds_no_server_error_in_the_openapi(service: Service, tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "run", f"{service.url}/openapi.json",
        "--checks", "not_a_server_error", "--header", f"Authorization: Bearer {service.key}",
        "--max-examples", "40", "--workers", "2", "--seed", "20250601", "--generation-database", "none",
        "--no-color", "--report", "junit", "--report-dir", str(tmp_path),
    ]
    completed = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=600,
                                        cwd=tmp_path)
    output = completed.stdout[-6000:] + completed.stderr[-2000:]
    assert completed.returncode == 0, output
    assert "not_a_server_error" in output or "passed" in output.lower(), output
    assert "unhandled error" not in service.log.read_text(encoding="utf-8", errors="replace")


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_cases_and_validation_failures_show_in_the_metrics(service: Service) -> None:
    async with httpx.AsyncClient(base_url=service.url) as client:
        body: dict[str, Any] = {"kind": "report", "category": "patents", "county": "610481", "description": "冒充专利",
                                "suspect": {"name": f"兴平某公司{uuid.uuid4().hex[:6]}"}}
        assert (await client.post("/v1/complaints", headers={"X-API-Key": service.key}, json=body)).status_code == 201
        bad = {**body, "county": "610499"}
        assert (await client.post("/v1/complaints", headers={"X-API-Key": service.key}, json=bad)).status_code == 422
        metrics = (await client.get("/metrics")).text
    assert _metric(metrics, "shuangda_intake_cases_total", outcome="opened", channel="bureau") >= 1
    assert _metric(metrics, "shuangda_validation_failures_total", service="intake", field="county", reason="unknown_county") >= 1
    assert "shuangda_intake_register_duration_seconds_bucket" in metrics
