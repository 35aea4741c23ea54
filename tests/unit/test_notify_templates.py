"""Notify's Chinese templates: every event type the directory can route renders on
every channel, from the validated event model, with no blanks and no personal data."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.notify.adapters.directory_file import load_directory
from services.notify.domain.directory import routable_event_types
from services.notify.domain.notices import DIGEST_TYPE, RULES, notice_for
from services.notify.domain.planning import Recipient, context, plan_digest
from services.notify.adapters.templates import TEMPLATES_DIR, Renderer, bureau_name
from services.notify.settings import PACKAGED_DIRECTORY
from shared.contracts.cases import CaseOpened, Complainant
from shared.contracts.routing import CaseAcknowledged, CaseAssigned
from shared.pii import Keyring
from tests.support.notify import NOW, minimal, sample, sealed_phone

RENDER = Renderer()
CHINESE = re.compile(r"[\u4e00-\u9fff]")
ROLES = {
    "addressed": Recipient("market_regulation@610402", None, role="addressed"),
    "named": Recipient("office@610400", "咸阳市打击侵权假冒工作领导小组办公室", role="watch"),
    "broadcast": Recipient("bureaus", None, role="broadcast"),
    "complainant": Recipient("complainant:abc", None, role="complainant"),
}


def render_all(etype: str, event: object, role: str) -> dict[str, tuple[str, str]]:
    notice = notice_for("evt-1", NOW, event)  # type: ignore[arg-type]
    assert notice is not None
    ctx = context(notice, ROLES[role])
    return {ch: (r.subject, r.body) for ch in ("webhook", "email", "sms") for r in [RENDER.render(etype, ch, ctx)]}


@pytest.mark.parametrize("etype", sorted(RULES))
@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_consumed_event_type_renders_in_chinese_on_every_channel(etype: str, role: str) -> None:
    out = render_all(etype, sample(RULES[etype].model), role)
    for channel, (subject, body) in out.items():
        assert CHINESE.search(body), f"{etype}/{channel}: body has no Chinese text"
        assert "None" not in subject + body, f"{etype}/{channel}: an absent value printed as None"
        if channel != "sms":
            assert subject and "\n" not in subject and CHINESE.search(subject)
    assert out["sms"][1].startswith("【双打办】"), "SMS texts carry the sender's signature"
    assert len(out["sms"][1]) <= 140, "an SMS text stays short"


@pytest.mark.parametrize("etype", sorted(RULES))
def test_every_template_renders_from_the_required_fields_alone(etype: str) -> None:
    out = render_all(etype, minimal(RULES[etype].model), "addressed")
    assert all("None" not in s + b for s, b in out.values())


def test_every_event_type_the_packaged_directory_can_route_has_a_template() -> None:
    directory = load_directory(PACKAGED_DIRECTORY, dev=True)
    routable = routable_event_types(directory, RULES)
    assert routable, "the packaged directory routes something"
    assert {t for t in routable if not RENDER.has_template(t)} == set()


def test_there_is_no_template_without_an_event_type() -> None:
    names = {p.name for p in Path(TEMPLATES_DIR).glob("*.j2")}
    assert names == {Renderer.template_name(t) for t in [*RULES, DIGEST_TYPE]}


def test_a_digest_lists_each_notice_under_its_title() -> None:
    from services.notify.domain.directory import build_directory

    directory = build_directory({"version": "t", "recipients": [{"match": "market_regulation@*",
                                                                 "email": ["a@b.cn"]}]}, env={}, dev=True)
    items = [{"event_id": f"e{i}", "event_type": CaseAssigned.EVENT_TYPE, "case_id": f"C-{i}",
              "event_time": "2025-06-03T06:30:00Z", "title": f"【新案件】第{i}件", "text": "正文", "event": {}}
             for i in range(2)]
    (delivery,) = plan_digest(recipient="market_regulation@610402", entry=directory.entries[0], window_start=NOW,
                              window_end=NOW, items=items, render=RENDER)
    assert delivery.subject.startswith("【通知汇总】2 条通知")
    assert "1. 【新案件】第0件" in delivery.body and "2. 【新案件】第1件" in delivery.body
    assert delivery.event_ids == ("e0", "e1")


def test_a_co_operating_bureau_is_asked_to_co_operate_and_the_lead_to_acknowledge() -> None:
    event = sample(CaseAssigned, co_bureaus=["public_security@610402"])
    notice = notice_for("e", NOW, event)
    lead = RENDER.render(CaseAssigned.EVENT_TYPE, "email", context(notice, Recipient("market_regulation@610402", None)))
    co = RENDER.render(CaseAssigned.EVENT_TYPE, "email", context(notice, Recipient("public_security@610402", None)))
    assert "请及时受理" in lead.body and "协办" not in lead.subject
    assert co.subject.endswith("（请协办）") and "请贵单位协办" in co.body


def test_a_transfer_in_and_a_refusal_read_differently_from_a_first_assignment_and_an_acceptance() -> None:
    moved = sample(CaseAssigned, transferred_from="culture@610400", assignment_no=2)
    text = RENDER.render(CaseAssigned.EVENT_TYPE, "email", context(notice_for("e", NOW, moved), ROLES["addressed"]))
    assert text.subject.startswith("【转入案件】") and "咸阳市文化广电新闻出版局移交的案件" in text.body
    refused = sample(CaseAcknowledged, decision="refuse", reason="不属于本部门职责")
    sms = RENDER.render(CaseAcknowledged.EVENT_TYPE, "sms", {**context(notice_for("e", NOW, refused), ROLES["complainant"]),
                                                             "tracking_no": "T-1"})
    assert "不予受理，理由：不属于本部门职责" in sms.body and "T-1" in sms.body


def test_rendered_texts_never_contain_sealed_personal_data() -> None:
    phone = sealed_phone(Keyring.development())
    event = sample(CaseOpened, complainant=Complainant(phone=phone, phone_masked="8000"))
    out = render_all(CaseOpened.EVENT_TYPE, event, "addressed")
    for subject, body in out.values():
        assert phone.ciphertext not in body and "13800138000" not in body


@pytest.mark.parametrize(("bureau", "name"), [
    ("market_regulation@610402", "秦都区市场监督管理局"),
    ("office@610400", "咸阳市打击侵权假冒工作领导小组办公室"),
    ("public_security@610482", "彬州市公安局"),
    ("unknown_type@610402", "unknown_type@610402"),
])
def test_bureau_ids_read_as_chinese_names(bureau: str, name: str) -> None:
    assert bureau_name(bureau) == name


LINKED = Renderer(console_public_url="https://shuangda.example.gov.cn/")
TRACKING = "SD250603-7Z4K9M2Q"


def complainant_sms(event: object, tracking_no: str | None = TRACKING, render: Renderer = LINKED) -> str:
    notice = notice_for("e", NOW, event)  # type: ignore[arg-type]
    assert notice is not None
    ctx = {**context(notice, ROLES["complainant"]), "tracking_no": tracking_no}
    return render.render(notice.event_type, "sms", ctx).body


def test_the_closing_sms_links_to_the_console_survey_page_by_the_tracking_number_alone() -> None:
    from shared.contracts.routing import CaseOutcomeRecorded

    sms = complainant_sms(sample(CaseOutcomeRecorded, outcome="no_violation"))
    assert f"https://shuangda.example.gov.cn/public/survey/{TRACKING} （" in sms
    assert "后四位" in sms, "the page asks for the digits; the link does not carry them"
    refused = complainant_sms(sample(CaseAcknowledged, decision="refuse", reason="不属于本部门职责"))
    assert f"/public/survey/{TRACKING}" in refused, "a refusal closes the case too, so it can be rated"


def test_a_case_handed_to_the_police_is_not_offered_the_survey() -> None:
    from shared.contracts.routing import CaseOutcomeRecorded

    sms = complainant_sms(sample(CaseOutcomeRecorded, outcome="referred_to_police"))
    assert "/public/survey/" not in sms and "满意度" not in sms


@pytest.mark.parametrize("etype", ["shuangda.case.opened.v1", "shuangda.case.merged.v1", "shuangda.case.assigned.v1",
                                   "shuangda.case.reopened.v1"])
def test_a_progress_sms_carries_the_status_lookup_link(etype: str) -> None:
    sms = complainant_sms(sample(RULES[etype].model))
    assert f"查询进展：https://shuangda.example.gov.cn/lookup?tracking_no={TRACKING}" in sms
    assert len(sms) <= 140, "an SMS text with its link stays within two segments' worth"


def test_an_acceptance_sms_carries_the_status_lookup_link() -> None:
    sms = complainant_sms(sample(CaseAcknowledged, decision="accept"))
    assert f"/lookup?tracking_no={TRACKING}" in sms


def test_without_a_console_address_the_texts_name_the_website_and_carry_no_link() -> None:
    from shared.contracts.routing import CaseOutcomeRecorded

    closing = complainant_sms(sample(CaseOutcomeRecorded, outcome="no_violation"), render=RENDER)
    assert "双打办网站" in closing and "http" not in closing
    assert "http" not in complainant_sms(sample(CaseAssigned), render=RENDER)


def test_a_link_carries_the_tracking_number_escaped_and_nothing_without_one() -> None:
    from services.notify.adapters.templates import PublicLinks

    links = PublicLinks("https://x.example/")
    assert links.survey("A/B?c") == "https://x.example/public/survey/A%2FB%3Fc"
    assert links.status(None) == "" and PublicLinks(None).survey(TRACKING) == ""


@pytest.mark.parametrize("value", ["ftp://x.example", "https://x.example/?a=1", "https://u:p@x.example", "x.example"])
def test_a_console_address_that_would_print_a_query_or_credentials_in_an_sms_is_refused(value: str) -> None:
    from pydantic import ValidationError

    from services.notify.settings import NotifySettings

    with pytest.raises(ValidationError, match="console_public_url"):
        NotifySettings(console_public_url=value)
