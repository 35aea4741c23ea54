"""The rapid-appraisal rules, pure: who may answer and report, what a result must say, how a
rights holder's identification is marked, and the deadlines a request carries."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from shared.reference.deadlines import load_deadlines
from shared.refusals import Refused
from shared.workdays import SHANGHAI, WorkdayCalendar

from services.appraisal.app.appraisals import RULES_FILE
from services.appraisal.domain import appraisals as rules
from services.appraisal.domain import deadlines

AT = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.timezone.utc)    # Monday 10:00 in Shanghai
BUREAU = "market_regulation@610402"
CENTRE = "appraisal-centre"
BRAND = "brand-identification"
DOC = rules.Report("咸鉴〔2026〕1号")


def request(kind: str = "authenticity", provider_kind: rules.ProviderKind = "appraisal_centre",
            wanted_by: dt.date | None = None) -> rules.Appraisal:
    return rules.request("apr_1", case_id="case-1", bureau=BUREAU, by_person=BUREAU, kind=kind,
                         provider=BRAND if provider_kind == "rights_holder" else CENTRE, provider_is_appraiser=True,
                         provider_kind=provider_kind, subject="运动鞋 120 双", lot_id=None, wanted_by=wanted_by,
                         at=AT, today=AT.date())


def ready(a: rules.Appraisal) -> rules.Appraisal:
    return rules.samples_received(rules.accept(a, by_party=a.provider, at=AT), by_party=a.provider, at=AT)


def refusal(fn, *args, **kwargs) -> Refused:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused) as exc:
        fn(*args, **kwargs)
    return exc.value


def test_a_request_goes_only_to_an_active_appraiser_and_a_rights_holder_only_identifies_authenticity() -> None:
    r = refusal(rules.request, "apr_1", case_id="c", bureau=BUREAU, by_person=BUREAU, kind="authenticity",
                provider="someone", provider_is_appraiser=False, provider_kind="appraisal_centre", subject="x",
                lot_id=None, wanted_by=None, at=AT, today=AT.date())
    assert (r.field, r.reason) == ("provider", "not_an_appraiser")
    assert refusal(request, "value", "rights_holder").reason == "rights_holder_authenticity_only"
    assert refusal(request, wanted_by=AT.date() - dt.timedelta(days=1)).reason == "in_the_past"


def test_only_the_provider_answers_and_steps_go_in_order() -> None:
    a = request()
    assert refusal(rules.accept, a, by_party="other-centre", at=AT).forbidden
    assert refusal(rules.samples_received, a, by_party=CENTRE, at=AT).reason == "not_accepted"
    assert refusal(rules.report, rules.accept(a, by_party=CENTRE, at=AT), by_party=CENTRE, by_person=CENTRE,
                   verdict="counterfeit", valuation=None, report_doc=DOC, summary="", at=AT).reason == "not_samples_received"
    done = rules.report(ready(a), by_party=CENTRE, by_person=CENTRE, verdict="counterfeit", valuation=Decimal("36000"),
                        report_doc=DOC, summary="", at=AT)
    assert done.state == "reported" and refusal(rules.refuse, done, by_party=CENTRE, reason="x", at=AT).reason == "closed"
    assert refusal(rules.withdraw, a, by_party="food_drug@610402", reason="x", at=AT).reason == "not_requester"


@pytest.mark.parametrize(("kind", "verdict", "valuation", "why"), [
    ("authenticity", "conforming", None, "not_for_this_kind"),
    ("quality", "counterfeit", None, "not_for_this_kind"),
    ("value", "genuine", Decimal(1), "not_for_this_kind"),
    ("value", None, None, "missing"),
])
def test_a_result_says_what_its_kind_of_appraisal_gives(kind: str, verdict: str | None, valuation: Decimal | None,
                                                         why: str) -> None:
    r = refusal(rules.report, ready(request(kind)), by_party=CENTRE, by_person=CENTRE, verdict=verdict,
                valuation=valuation, report_doc=DOC, summary="", at=AT)
    assert r.reason == why


def test_a_rights_holders_identification_is_marked_and_counterfeit_goods_count_at_their_valuation() -> None:
    brand = rules.report(ready(request(provider_kind="rights_holder")), by_party=BRAND, by_person=BRAND,
                         verdict="counterfeit", valuation=Decimal("52000"), report_doc=DOC, summary="", at=AT)
    centre = rules.report(ready(request()), by_party=CENTRE, by_person=CENTRE, verdict="genuine",
                          valuation=Decimal("52000"), report_doc=DOC, summary="", at=AT)
    assert brand.result and brand.result.evidential_weight == "rights_holder_identification"
    assert centre.result and centre.result.evidential_weight == "appraisal_opinion"
    assert rules.figures(brand) == {"unsold_value": Decimal("52000")}
    assert rules.figures(centre) == {}, "genuine goods add nothing to an infringement's figures"
    assert rules.provider_kind_of({"rights_holder"}) == "rights_holder"
    assert rules.provider_kind_of(set()) == "appraisal_centre"


def test_a_request_carries_the_answer_and_result_deadlines_from_local_policy_or_the_bureaus_earlier_date() -> None:
    table = load_deadlines(RULES_FILE)
    answer, result = table.rule("appraisal_answer", AT.date()), table.rule("appraisal_result", AT.date())
    cal = WorkdayCalendar()
    due = {d.kind: d for d in deadlines.on_request(request(), answer, result, cal)}
    assert due["appraisal_answer"].due_at.astimezone(SHANGHAI).date() == dt.date(2026, 12, 9)   # 2 working days
    assert due["appraisal_result"].due_at.astimezone(SHANGHAI).date() == dt.date(2026, 12, 21)  # 10 working days
    assert all(d.local_policy and d.party == CENTRE for d in due.values())
    wanted = {d.kind: d for d in deadlines.on_request(request(wanted_by=dt.date(2026, 12, 11)), answer, result, cal)}
    assert wanted["appraisal_result"].due_at.astimezone(SHANGHAI).date() == dt.date(2026, 12, 11)
    assert wanted["appraisal_result"].rule_id == "requested_by_bureau"
