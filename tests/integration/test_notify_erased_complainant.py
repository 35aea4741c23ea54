"""Notify after an erasure (issue 12 §4, crypto-shredding): a complainant whose data key is destroyed gets
no SMS — the delivery fails as no target ("erased"), counted in the failed events and in
``shuangda_notification_erased_recipient_skipped_total{channel}`` once recorded — while another
complainant, whose key stands, still gets theirs. The phones open through the key store (shared.vault)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from shared import vault
from shared.contracts.cases import CaseOpened, Complainant
from shared.contracts.notification import NotificationDelivered, NotificationFailed
from shared.db import connect
from shared.pii import Keyring, new_data_key
from tests.support import stack
from tests.support.notify import HttpSink, NotifyWorld, probe, record_for, sample

pytestmark = pytest.mark.stack


def skipped(channel: str) -> float:
    return REGISTRY.get_sample_value("shuangda_notification_erased_recipient_skipped_total", {"channel": channel}) or 0.0


async def test_an_erased_complainant_gets_no_sms_the_skip_is_counted_and_another_complainant_still_gets_theirs(
        unique: str, tmp_path: Path, sink: HttpSink) -> None:
    ring = Keyring.development()
    schema = f"vault_{unique}"
    await vault.prepare(stack.dsn(), schema)
    kept, kept_wrapped = new_data_key(ring)
    gone, gone_wrapped = new_data_key(ring)
    conn = await connect(stack.dsn(), schema)
    try:
        await vault.store(conn, [(kept.id, kept_wrapped), (gone.id, gone_wrapped)], schema=schema)
        await vault.erase(conn, [gone.id], at=dt.datetime.now(dt.timezone.utc), why="PIPL art. 47", schema=schema)
    finally:
        await conn.close()
    world = NotifyWorld(unique, tmp_path)
    await world.create(stack.dsn(), stack.bootstrap())
    world.write_directory({"version": "t", "recipients": [], "complainants": {
        "channel": "sms", "events": [CaseOpened.EVENT_TYPE]}})
    erased_case = sample(CaseOpened, case_id=f"C-{unique}-gone", tracking_no="SD250603-00000011", complainant=Complainant(
        phone=gone.seal("13911112222", field="phone"), phone_masked="2222"))
    kept_case = sample(CaseOpened, case_id=f"C-{unique}-kept", tracking_no="SD250603-00000012", complainant=Complainant(
        phone=kept.seal("13833334444", field="phone"), phone_masked="4444"))
    settings = world.settings(stack.dsn(), stack.bootstrap(), sms_gateway_url=sink.url("/sms"), sms_api_key="k",
                              vault_schema=schema)
    before = skipped("sms"), skipped("email")
    async with world.running(settings):
        await stack.produce(world.topics["intake_topic"], [record_for(erased_case), record_for(kept_case)])
        events = await stack.eventually(lambda: stack.read_all(world.topics["notification_topic"]),
                                        until=lambda r: len(r) >= 2, what="one delivered and one failed event")
        counted = await stack.eventually(probe(lambda: skipped("sms") - before[0]), until=lambda n: n >= 1,
                                         what="the erased recipient's skip counted")
    assert counted == 1 and skipped("email") == before[1], "one skip, on its channel only"
    failed = [NotificationFailed.model_validate_json(e.value) for e in events if "reason" in json.loads(e.value)]
    delivered = [NotificationDelivered.model_validate_json(e.value) for e in events if "reason" not in json.loads(e.value)]
    assert [f.case_id for f in failed] == [erased_case.case_id]
    assert failed[0].reason == "no_target" and "erased" in (failed[0].detail or "")
    assert [d.case_id for d in delivered] == [kept_case.case_id]
    assert [json.loads(r.body)["to"] for r in sink.on("/sms")] == [["13833334444"]]
