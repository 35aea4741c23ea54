"""Who is told of what, over which channels, and what the rows carry."""
from __future__ import annotations

import json
from email import message_from_bytes
from email.policy import default
from typing import Any

import pytest
from pydantic import ValidationError

from services.notify.adapters.email import build_message
from services.notify.domain.directory import build_directory
from services.notify.domain.notices import RULES, NoticeRule, notice_for, public_event_data
from services.notify.domain.planning import Complainant, complainant_id, message_id, plan
from services.notify.adapters.templates import Renderer
from services.notify.settings import NotifySettings
from shared.contracts.cases import CaseOpened
from shared.contracts import cases as cases_contracts
from shared.contracts.credit import Blacklisted, RecordCreated
from shared.contracts.referral import ReferralProposed, ReferralTransferred
from shared.contracts.routing import CaseAssigned, DeadlineBreached
from shared.pii import Keyring
from shared.webhooks import generate_secret
from tests.support.notify import NOW, sample, sealed_phone

RENDER = Renderer()
SECRET = generate_secret()


def directory(*entries: dict[str, Any], **extra: Any) -> Any:
    return build_directory({"version": "t", "recipients": list(entries), **extra}, env={}, dev=True)


def hook(path: str) -> dict[str, str]:
    return {"url": f"http://127.0.0.1:9/{path}", "secret": SECRET}


@pytest.mark.parametrize(("event", "addressed"), [
    (sample(CaseAssigned, co_bureaus=["public_security@610402"]), ("market_regulation@610402", "public_security@610402")),
    (sample(DeadlineBreached), ("market_regulation@610402", "office@610400")),
    (sample(ReferralTransferred), ("public_security@610402", "market_regulation@610402")),
    (sample(ReferralProposed), ("market_regulation@610402",)),
])
def test_notices_are_addressed_to_the_bureaus_the_event_names(event: Any, addressed: tuple[str, ...]) -> None:
    assert notice_for("e", NOW, event).addressed == addressed


def test_referral_deadline_and_substituted_prosecution_notices_are_critical_and_nothing_else_is() -> None:
    critical = {t for t, r in RULES.items() if r.critical}
    assert critical == {t for t in RULES if t.startswith(("shuangda.referral.", "shuangda.deadline."))} | {
        "shuangda.case.deadline-revised.v1", "shuangda.credit.penalty-substitutes-prosecution.v1",
        "shuangda.case.penalty-over-threshold.v1"}


def test_an_event_notify_does_not_tell_anyone_about_makes_no_notice() -> None:
    assert notice_for("e", NOW, sample(RecordCreated)) is None


def test_a_recipient_gets_one_row_per_channel_the_first_pending_the_others_on_standby() -> None:
    d = directory({"match": "market_regulation@*", "webhook": hook("mr"), "email": ["a@x.cn"], "sms": ["13800000000"]})
    p = plan(notice_for("e1", NOW, sample(CaseAssigned, co_bureaus=[])), d, RENDER)
    assert [(x.channel, x.rank, x.initial_state) for x in p.deliveries] == [
        ("webhook", 0, "pending"), ("email", 1, "standby"), ("sms", 2, "standby")]
    assert all(x.recipient == "market_regulation@610402" for x in p.deliveries)
    assert len({x.message_id for x in p.deliveries}) == 3
    assert p.deliveries[1].subject.startswith("【新案件】") and p.deliveries[2].body.startswith("【双打办】")


def test_the_delivery_id_is_derived_from_the_unique_key_so_a_replan_gives_the_same_rows() -> None:
    d = directory({"match": "market_regulation@*", "webhook": hook("mr")})
    notice = notice_for("e1", NOW, sample(CaseAssigned, co_bureaus=[]))
    assert plan(notice, d, RENDER).deliveries == plan(notice, d, RENDER).deliveries
    assert message_id("e1", "a", "webhook") != message_id("e1", "a", "email") != message_id("e2", "a", "email")


def test_a_notice_goes_only_to_entries_subscribing_to_its_type_and_unserved_bureaus_are_reported() -> None:
    d = directory({"match": "market_regulation@*", "webhook": hook("mr"), "events": ["shuangda.deadline.*"]})
    p = plan(notice_for("e", NOW, sample(CaseAssigned, co_bureaus=["public_security@610402"])), d, RENDER)
    assert p.deliveries == [] and p.unmatched == ["public_security@610402"]


def test_watchers_are_told_of_every_event_of_a_watched_type_once() -> None:
    d = directory({"match": "office@610400", "email": ["o@x.cn"], "watch": ["shuangda.deadline.breached.v1"]},
                  {"match": "market_regulation@*", "email": ["m@x.cn"]})
    p = plan(notice_for("e", NOW, sample(DeadlineBreached)), d, RENDER)
    assert sorted(x.recipient for x in p.deliveries) == ["market_regulation@610402", "office@610400"], (
        "the office is addressed and watches: told once")


def test_a_broadcast_goes_to_every_subscribing_entry_under_the_entry_id() -> None:
    d = directory({"id": "market", "match": "market_regulation@*", "email": ["m@x.cn"]},
                  {"id": "police", "match": "public_security@*", "email": ["p@x.cn"], "events": ["shuangda.referral.*"]},
                  {"id": "tax", "match": "tax@*", "email": ["t@x.cn"], "events": ["shuangda.credit.*"]})
    p = plan(notice_for("e", NOW, sample(Blacklisted)), d, RENDER)
    assert sorted(x.recipient for x in p.deliveries) == ["market", "tax"]


def test_non_critical_notices_for_a_digest_recipient_become_digest_items_and_critical_ones_do_not() -> None:
    d = directory({"match": "market_regulation@*", "webhook": hook("mr"), "digest_seconds": 600})
    batched = plan(notice_for("e1", NOW, sample(CaseAssigned, co_bureaus=[])), d, RENDER)
    assert batched.deliveries == [] and len(batched.digest_items) == 1
    assert batched.digest_items[0].interval_seconds == 600 and batched.digest_items[0].item["title"].startswith("【新案件】")
    urgent = plan(notice_for("e2", NOW, sample(DeadlineBreached)), d, RENDER)
    assert urgent.digest_items == [] and len(urgent.deliveries) == 1


def test_complainants_get_an_sms_to_their_sealed_phone_and_never_a_digest() -> None:
    ring = Keyring.development()
    phone = sealed_phone(ring)
    d = directory({"match": "market_regulation@*", "webhook": hook("mr"), "digest_seconds": 600},
                  complainants={"channel": "sms", "events": ["shuangda.case.assigned.v1"]})
    who = Complainant(complainant_id(phone), phone, "T-1")
    p = plan(notice_for("e", NOW, sample(CaseAssigned, co_bureaus=[])), d, RENDER, [who])
    (sms,) = p.deliveries
    assert sms.recipient == who.recipient_id and sms.channel == "sms" and sms.endpoint == "sms-gateway"
    assert ring.open(type(phone).model_validate_json(sms.address), field="phone") == "13800138000"
    assert "13800138000" not in sms.address and "T-1" in sms.body


def test_the_complainant_id_is_opaque_and_stable_for_one_sealed_value() -> None:
    phone = sealed_phone(Keyring.development())
    assert complainant_id(phone) == complainant_id(phone)
    assert complainant_id(phone).startswith("complainant:") and "138" not in complainant_id(phone)


def test_the_webhook_body_is_standard_webhooks_shaped_and_carries_no_sealed_data() -> None:
    phone = sealed_phone(Keyring.development())
    event = sample(CaseAssigned, co_bureaus=[], complainant=cases_contracts.Complainant(phone=phone, phone_masked="8000"))
    d = directory({"match": "market_regulation@*", "webhook": hook("mr")})
    (webhook,) = plan(notice_for("e", NOW, event), d, RENDER).deliveries
    body = json.loads(webhook.body)
    assert set(body) == {"type", "timestamp", "data"}
    assert body["data"]["id"] == webhook.message_id and body["timestamp"] == "2025-06-03T06:30:00Z"
    assert body["data"]["event"]["complainant"] == {"phone_masked": "8000", "name": None, "id_number": None,
                                                    "name_masked": None}
    assert phone.ciphertext not in webhook.body
    assert public_event_data(event)["case_id"] == event.case_id


def test_a_chinese_mail_is_encoded_for_smtp() -> None:
    msg = build_message(msg_id="msg_1", sender="双打办通知 <n@x.cn>", to=["a@x.cn", "b@x.cn"],
                        subject="【超期】案件 C-1 受理/立案决定已超期", body="秦都区市场监督管理局：\n已超期。")
    raw = msg.as_bytes()
    assert b"=?utf-8?" in raw and "超期".encode() not in raw.split(b"\r\n\r\n", 1)[0], "headers are 7-bit"
    back = message_from_bytes(raw, policy=default)
    assert back["Subject"] == "【超期】案件 C-1 受理/立案决定已超期"
    assert back["From"].addresses[0].display_name == "双打办通知"
    assert back.get_content().replace("\r\n", "\n") == "秦都区市场监督管理局：\n已超期。\n"
    assert back["Message-ID"] == "<msg_1@notify.shuangda>"


def test_settings_read_a_compressed_schedule_from_json_and_keep_leases_longer_than_sends(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHUANGDA_NOTIFY_RETRY_SCHEDULE", "[0, 0.5, 1]")
    assert NotifySettings(dev=True).retry_schedule == [0, 0.5, 1]
    with pytest.raises(ValidationError, match="lease_seconds"):
        NotifySettings(dev=True, lease_seconds=10, webhook_timeout_seconds=15)
    with pytest.raises(ValidationError, match="retry_schedule"):
        NotifySettings(dev=True, retry_schedule=[0, -1])


def test_the_defaults_follow_the_issue() -> None:
    s = NotifySettings(dev=True)
    assert s.retry_schedule == [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
    assert s.webhook_timeout_seconds == 15 and s.http_port == 8003 and s.schema == "notify"
    assert (s.routing_topic, s.notification_topic) == ("case.routing", "notification.status")


def test_case_opened_complainants_are_the_event_own_only() -> None:
    assert RULES[CaseOpened.EVENT_TYPE].complainants == "event"
    assert RULES[CaseAssigned.EVENT_TYPE].complainants == "case"


_NOBODY = NoticeRule.__dataclass_fields__["addressed"].default


@pytest.mark.parametrize("etype", sorted(t for t, r in RULES.items() if r.addressed is not _NOBODY))
def test_every_addressed_event_type_names_its_addressees_in_fields_the_contract_still_has(etype: str) -> None:
    """Addressees are read from the event by field name; a renamed field would silently address nobody."""
    notice = notice_for("e", NOW, sample(RULES[etype].model))
    assert notice is not None and notice.addressed, f"{etype}: nobody addressed"
    assert all("@" in bureau for bureau in notice.addressed)
