"""A complainant's phone corrected on their request (个人信息保护法 第四十六条, `shuangda pii correct`) reaches
notify: intake announces `case.complainant-corrected` with the new number sealed, and from then on the
complainant's texts go to the corrected number — the ones planned after it, and those planned before it
but not yet sent — on the real broker and database."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from services.notify.adapters import postgres as repo
from services.notify.domain.planning import Complainant as Kept
from services.notify.domain.planning import complainant_id
from shared.contracts.cases import CaseComplainantCorrected, CaseOpened, Complainant
from shared.contracts.routing import CaseAcknowledged
from shared.db import connect
from shared.pii import Keyring
from tests.support import stack
from tests.support.notify import HttpSink, NotifyWorld, probe, record_for, sample

pytestmark = pytest.mark.stack

OLD, NEW = "13911112222", "13733334444"
TRACKING = "SD250603-00000021"


async def test_after_a_phone_correction_the_complainant_s_next_text_goes_to_the_corrected_number(
        unique: str, tmp_path: Path, sink: HttpSink) -> None:
    ring = Keyring.development()
    world = NotifyWorld(unique, tmp_path)
    await world.create(stack.dsn(), stack.bootstrap())
    world.write_directory({"version": "t", "recipients": [], "complainants": {
        "channel": "sms", "events": [CaseOpened.EVENT_TYPE, CaseAcknowledged.EVENT_TYPE]}})
    case_id = f"C-{unique}"
    opened = sample(CaseOpened, case_id=case_id, tracking_no=TRACKING, complainant=Complainant(
        phone=ring.seal(OLD, field="phone"), phone_masked=OLD[-4:]))
    corrected = CaseComplainantCorrected(case_id=case_id, tracking_no=TRACKING, phone=ring.seal(NEW, field="phone"),
                                         phone_masked=NEW[-4:], corrected_at=dt.datetime.now(dt.timezone.utc))
    acknowledged = sample(CaseAcknowledged, case_id=case_id)
    settings = world.settings(stack.dsn(), stack.bootstrap(), sms_gateway_url=sink.url("/sms"), sms_api_key="k")

    def texts() -> list[list[str]]:
        return [json.loads(r.body)["to"] for r in sink.on("/sms")]

    async with world.running(settings):
        await stack.produce(world.topics["intake_topic"], [record_for(opened)])
        await stack.eventually(probe(texts), until=lambda t: len(t) >= 1, what="the opening's text")
        await stack.produce(world.topics["intake_topic"], [record_for(corrected)])
        await stack.produce(world.topics["routing_topic"], [record_for(acknowledged)])
        sent = await stack.eventually(probe(texts), until=lambda t: len(t) >= 2, what="the acknowledgement's text")
    assert sent == [[OLD], [NEW]], "the text after the correction went to the corrected number, and only there"
    [row] = await world_rows(world, "SELECT recipient_id, phone::text AS phone FROM complainants WHERE case_id = $1", case_id)
    assert row["recipient_id"] == complainant_id(opened.complainant.phone), "still one complainant, its id unchanged"
    assert NEW not in row["phone"] and ring.open(corrected.phone, field="phone") == NEW


async def test_a_correction_redirects_the_texts_not_yet_sent_and_leaves_the_sent_ones(unique: str, tmp_path: Path) -> None:
    ring = Keyring.development()
    world = NotifyWorld(unique, tmp_path)
    await world.create(stack.dsn(), stack.bootstrap())
    case_id = f"C-{unique}"
    old, new = ring.seal(OLD, field="phone"), ring.seal(NEW, field="phone")
    recipient = complainant_id(old)
    conn = await connect(stack.dsn(), world.schema)
    try:
        await repo.save_complainants(conn, [(case_id, Kept(recipient, old, TRACKING), "e-0")])
        await conn.execute(
            "INSERT INTO deliveries (message_id, event_id, event_type, event_time, case_id, recipient, channel, endpoint,"
            " address, body, state) SELECT 'm-' || s, 'e-' || s, 't', now(), $1, $2, 'sms', 'sms-gateway', $3, 'x', s"
            " FROM unnest(ARRAY['pending', 'standby', 'delivered', 'in_flight']) AS s", case_id, recipient,
            old.model_dump_json())
        moved = await repo.correct_complainants(conn, [(case_id, Kept(complainant_id(new), new, TRACKING)),
                                                       (f"C-{unique}-other", Kept("x", new, TRACKING))])
        rows = {r["state"]: json.loads(r["address"]) for r in await conn.fetch("SELECT state, address FROM deliveries")}
    finally:
        await conn.close()
    assert moved == 2
    assert rows["pending"] == rows["standby"] == json.loads(new.model_dump_json()), "not yet sent: the new number"
    assert rows["delivered"] == rows["in_flight"] == json.loads(old.model_dump_json()), "sent or sending: as it was"


async def world_rows(world: NotifyWorld, sql: str, *args: object) -> list[dict[str, object]]:
    conn = await connect(stack.dsn(), world.schema)
    try:
        return [dict(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()
