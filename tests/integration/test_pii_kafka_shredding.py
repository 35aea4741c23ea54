"""Crypto-shredding reaches Kafka (issue 12 §4): two complainants register through intake; after
``shuangda pii erase`` of one, the raw ``case.opened`` record on Kafka still holds that person's sealed
phone, but the key store opens it as Erased — while the other person's copy still opens."""
from __future__ import annotations

import asyncio
import json

import pytest

from shared import vault
from shared.contracts.cases import CaseOpened
from shared.db import connect
from shared.pii import Erased, Keyring
from tests.integration.test_pii_cli import cli, complaint
from tests.support import stack
from tests.support.intake import IntakeWorld, running_intake

pytestmark = pytest.mark.stack


async def test_after_erasure_a_raw_kafka_copy_of_the_erased_person_no_longer_opens_while_the_other_does(
        unique: str) -> None:
    world = IntakeWorld(unique)
    await world.create()
    key = await world.add_client("hotline", "hotline", ["complaints:write", "complaints:read"], topic=False)
    gone_phone, kept_phone = "13987654321", "13712345678"
    async with running_intake(world, consume=False) as svc:
        gone = await svc.http.post("/v1/complaints", headers={"X-API-Key": key}, json=complaint(
            f"shred-{unique}-a", "赵六", gone_phone, "买到假冒化妆品"))
        kept = await svc.http.post("/v1/complaints", headers={"X-API-Key": key}, json=complaint(
            f"shred-{unique}-b", "钱七", kept_phone, "买到假冒洗发水"))
        assert gone.status_code == 201 and kept.status_code == 201, (gone.text, kept.text)
        records = await stack.eventually(lambda: stack.read_lanes(world.case_topic), until=lambda r: len(r) >= 2,
                                         what="both case.opened records on Kafka")
    events = {e.case_id: e for e in (CaseOpened.model_validate_json(r.value) for r in records)}
    gone_copy = events[gone.json()["case_id"]].complainant.phone  # type: ignore[union-attr]
    kept_copy = events[kept.json()["case_id"]].complainant.phone  # type: ignore[union-attr]
    assert gone_copy is not None and kept_copy is not None
    erased = await asyncio.to_thread(cli, "erase", "--phone", gone_phone, "--schema", world.schema,
                                     "--reason", "PIPL request 2026-009")
    assert erased.returncode == 0, erased.stderr
    assert json.loads(erased.stdout)["data_keys_destroyed"] == 1
    conn = await connect(stack.dsn(), vault.SCHEMA)
    try:
        opener = await vault.opener(conn, Keyring.development(), [gone_copy, kept_copy])
    finally:
        await conn.close()
    with pytest.raises(Erased):
        opener.open(gone_copy, field="phone")
    assert opener.open(kept_copy, field="phone") == kept_phone
