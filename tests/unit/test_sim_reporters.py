"""The simulated complainants after filing (sim/reporters.py): who adds a photo, who reads the
closing SMS notify really renders, and how they score — seeded, spread, reopening only when unhappy."""
from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from shared.attachments import Accepted, AttachmentLimits, check
from services.notify.adapters.templates import Renderer
from services.notify.domain.notices import notice_for
from services.notify.domain.planning import Recipient, context
from shared.contracts.routing import CaseAcknowledged, CaseAssigned, CaseOutcomeRecorded
from sim.evidence import GPS_MARK
from sim.reporters import closing_sms, photo_of, plan_photo, plan_survey
from sim.scenario import Submission
from tests.support.notify import NOW, sample

TRACKING = "SD261111-7Z4K9M2Q"
COMPLAINANT = Recipient("complainant:abc", None, role="complainant")


def sms(event: object, renderer: Renderer) -> str:
    notice = notice_for("e", NOW, event)  # type: ignore[arg-type]
    assert notice is not None
    return renderer.render(notice.event_type, "sms", {**context(notice, COMPLAINANT), "tracking_no": TRACKING}).body


@pytest.mark.parametrize("linked", [True, False])
@pytest.mark.parametrize(("event", "verdict"), [
    (sample(CaseOutcomeRecorded, outcome="penalty_decided"), "penalised"),
    (sample(CaseOutcomeRecorded, outcome="no_violation"), "nothing_found"),
    (sample(CaseOutcomeRecorded, outcome="mediated"), "mediated"),
    (sample(CaseOutcomeRecorded, outcome="not_established"), "nothing_found"),
    (sample(CaseAcknowledged, decision="refuse", reason="超过投诉受理时效"), "refused"),
])
def test_a_complainant_reads_the_closing_sms_notify_renders(event: object, verdict: str, linked: bool) -> None:
    renderer = Renderer(console_public_url="http://127.0.0.1:8005" if linked else None)
    assert closing_sms(sms(event, renderer)) == (TRACKING, verdict, linked)


def test_a_progress_sms_and_a_referral_to_the_police_are_not_survey_invitations() -> None:
    renderer = Renderer(console_public_url="http://127.0.0.1:8005")
    assert closing_sms(sms(sample(CaseAssigned), renderer)) is None
    assert closing_sms(sms(sample(CaseOutcomeRecorded, outcome="referred_to_police"), renderer)) is None


def complaint(seq: int, channel: str, phone: str | None = "13800138000") -> Submission:
    payload = {"channel": channel, **({"complainant": {"name": "张三", "phone": phone}} if phone else {})}
    return Submission(seq, NOW, f"{channel}-12315", "complaint", f"r1-{channel}-{seq:06d}", payload, 0, "trademarks")


def test_web_complainants_attach_photos_more_often_than_callers_and_only_with_a_phone_to_prove_it() -> None:
    web = [plan_photo(11, complaint(i, "web")) for i in range(2000)]
    hotline = [plan_photo(11, complaint(i, "hotline")) for i in range(2000)]
    assert 0.3 < sum(p is not None for p in web) / 2000 < 0.5
    assert 0.05 < sum(p is not None for p in hotline) / 2000 < 0.2
    assert all(not p.other_client and p.after < dt.timedelta(minutes=5) for p in web if p)
    assert all(p.other_client for p in hotline if p), "a caller sends the photo through the web form, with the digits"
    assert all(plan_photo(11, complaint(i, "web", phone=None)) is None for i in range(200))
    assert plan_photo(11, complaint(7, "web")) == plan_photo(11, complaint(7, "web")), "seeded"


def test_each_photo_is_a_phone_jpeg_whose_exif_intake_strips_and_no_two_are_alike() -> None:
    a, b = photo_of(complaint(1, "web")), photo_of(complaint(2, "web"))
    kept_a, kept_b = check(a, already=0, limits=AttachmentLimits()), check(b, already=0, limits=AttachmentLimits())
    assert isinstance(kept_a, Accepted) and isinstance(kept_b, Accepted)
    assert GPS_MARK in a and GPS_MARK not in kept_a.data
    assert kept_a.content_type == "image/jpeg" and "exif" in kept_a.removed and kept_a.digest != kept_b.digest


def test_scores_are_spread_follow_the_verdict_and_only_unhappy_answers_ask_to_reopen() -> None:
    plans = {v: [plan_survey(11, f"SD261111-{i:08d}", v) for i in range(3000)]  # type: ignore[arg-type]
             for v in ("refused", "penalised")}
    answered = [p for p in plans["refused"] + plans["penalised"] if p is not None]
    assert 0.55 < len(answered) / 6000 < 0.75, "most answer the return visit, not all"
    scores = {v: Counter(p.score for p in ps if p) for v, ps in plans.items()}
    assert set(scores["refused"]) == set(scores["penalised"]) == {1, 2, 3, 4, 5}

    def mean(c: Counter) -> float:
        return sum(k * n for k, n in c.items()) / sum(c.values())

    assert mean(scores["refused"]) < 2.5 < 3.8 < mean(scores["penalised"])
    reopen = [p for p in answered if p.reopen]
    assert reopen and all(p.score <= 3 and not p.resolved for p in reopen)
    assert len(reopen) / len(answered) > 0.1
    assert all(dt.timedelta(minutes=30) <= p.after <= dt.timedelta(days=10) for p in answered), "within the 30-day window"
    assert plan_survey(11, TRACKING, "closed") == plan_survey(11, TRACKING, "closed"), "seeded"
