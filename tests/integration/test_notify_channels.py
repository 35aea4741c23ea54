"""Email over a real SMTP server (aiosmtpd) and SMS through a real local HTTP gateway (issue #6)."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from services.notify.domain.notices import notice_for
from services.notify.domain.planning import Recipient, context
from services.notify.adapters.templates import Renderer
from shared.contracts.cases import CaseOpened, Complainant
from shared.contracts.notification import NotificationDelivered
from shared.contracts.routing import CaseAcknowledged, DeadlineBreached
from shared.pii import Keyring
from tests.support import stack
from tests.support.notify import HttpSink, NotifyWorld, SmtpSink, probe, record_for, sample, sealed_phone

pytestmark = pytest.mark.stack




async def test_a_chinese_mail_arrives_at_the_smtp_server_with_subject_and_body_intact(
        unique: str, tmp_path: Path, smtp: SmtpSink) -> None:
    world = NotifyWorld(unique, tmp_path)
    await world.create(stack.dsn(), stack.bootstrap())
    world.write_directory({"version": "t", "recipients": [{
        "match": "office@610400", "name": "咸阳市打击侵权假冒工作领导小组办公室",
        "email": ["office@office.invalid", "duty@office.invalid"], "events": ["shuangda.deadline.*"]}]})
    event = sample(DeadlineBreached, case_id=f"C-{unique}")
    async with world.running(world.settings(stack.dsn(), stack.bootstrap(), smtp_port=smtp.port)):
        key, headers, value = record_for(event)
        await stack.produce(world.topics["routing_topic"], [(key, headers, value)])
        await stack.eventually(probe(lambda: len(smtp.messages)), until=lambda n: n >= 1, what="the mail")
        await asyncio.sleep(0.5)
    assert len(smtp.messages) == 1, "one mail for the recipient, addressed to both of its mailboxes"
    mail = smtp.messages[0]
    sender, rcpts = smtp.envelopes[0]
    assert sorted(rcpts) == ["duty@office.invalid", "office@office.invalid"]
    expected = Renderer().render(DeadlineBreached.EVENT_TYPE, "email", context(
        notice_for(headers[0][1].decode(), event.detected_at, event),  # type: ignore[arg-type]
        Recipient("office@610400", "咸阳市打击侵权假冒工作领导小组办公室")))
    assert mail["Subject"] == expected.subject
    assert mail["Subject"].startswith("【超期】案件") and "受理/立案决定已超期" in mail["Subject"]
    assert mail.get_content_charset() == "utf-8"
    # text travels in canonical form (CRLF line ends, RFC 2045); compare the text itself
    assert mail.get_content().replace("\r\n", "\n").rstrip("\n") == expected.body
    assert "秦都区市场监督管理局未在" in mail.get_content()
    raw = mail.as_bytes()
    assert b"=?utf-8?" in raw.lower(), "the Chinese subject travels RFC 2047-encoded"
    assert mail["Message-ID"].startswith("<msg_")


async def test_a_complainant_gets_progress_sms_through_the_gateway_and_the_phone_is_never_stored_in_clear(
        unique: str, tmp_path: Path, sink: HttpSink) -> None:
    world = NotifyWorld(unique, tmp_path)
    await world.create(stack.dsn(), stack.bootstrap())
    world.write_directory({"version": "t", "recipients": [], "complainants": {
        "channel": "sms", "events": [CaseOpened.EVENT_TYPE, CaseAcknowledged.EVENT_TYPE]}})
    phone = sealed_phone(Keyring.development(), "13800138000")
    case_id = f"C-{unique}"
    opened = sample(CaseOpened, case_id=case_id, tracking_no="SD250603-00007788",
                    complainant=Complainant(phone=phone, phone_masked="8000"))
    acknowledged = sample(CaseAcknowledged, case_id=case_id)
    settings = world.settings(stack.dsn(), stack.bootstrap(), sms_gateway_url=sink.url("/sms"), sms_api_key="k-123")
    async with world.running(settings):
        await stack.produce(world.topics["intake_topic"], [record_for(opened)])
        await stack.eventually(probe(lambda: len(sink.on("/sms"))), until=lambda n: n >= 1, what="the registration SMS")
        await stack.produce(world.topics["routing_topic"], [record_for(acknowledged)])
        await stack.eventually(probe(lambda: len(sink.on("/sms"))), until=lambda n: n >= 2, what="the progress SMS")
        events = await stack.eventually(lambda: stack.read_all(world.topics["notification_topic"]),
                                        until=lambda r: len(r) >= 2, what="delivered events")
    first, second = (json.loads(r.body) for r in sink.on("/sms"))
    assert first["to"] == ["13800138000"] and second["to"] == ["13800138000"]
    assert "查询编号SD250603-00007788" in first["text"] and first["text"].startswith("【双打办】")
    assert "已由秦都区市场监督管理局受理" in second["text"] and "SD250603-00007788" in second["text"]
    assert sink.on("/sms")[0].headers["authorization"] == "Bearer k-123"
    assert sink.on("/sms")[0].headers["idempotency-key"] == first["message_id"]
    stored = await world.fetch(stack.dsn(), "SELECT address, recipient FROM deliveries")
    stored += await world.fetch(stack.dsn(), "SELECT phone::text AS address, recipient_id AS recipient FROM complainants")
    assert stored and all("13800138000" not in r["address"] and "13800138000" not in r["recipient"] for r in stored)
    recipients = {NotificationDelivered.model_validate_json(e.value).recipient for e in events}
    assert len(recipients) == 1 and recipients.pop().startswith("complainant:")
    assert all(b"13800138000" not in e.value for e in events)
