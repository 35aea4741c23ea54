"""Credit's rules on worked examples: heavy penalties, the serious-violation list rules (which open a
proceeding or a review flag, never a listing: issue 14 §2), list periods (issue #5)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from services.credit.domain import blacklist
from services.credit.domain.model import ListingFacts, RecordFacts
from services.credit.domain.records import classify_heavy
from services.credit.rules import load_rulebook
from shared.reference import category
from shared.workdays import SHANGHAI, WorkdayCalendar

BOOK = load_rulebook()
CAL = WorkdayCalendar(use_env=False)


def is_ip(cat: str) -> bool:
    return category(cat).ip


def penalty(rid: str, on: dt.date, *, cat: str = "trademarks", heavy: bool = False, intentional: bool = False,
            status: str = "active") -> RecordFacts:
    return RecordFacts(rid, "penalty", cat, on, heavy, intentional, status, "market_regulation@610402", f"罚{rid}")


def listed(listing_id: str, rule: str, triggers: tuple[str, ...], status: str = "listed") -> ListingFacts:
    return ListingFacts(listing_id, rule, status, dt.datetime(2023, 1, 1, tzinfo=dt.timezone.utc), triggers)


def evaluate(new: RecordFacts, history: list[RecordFacts], listings: list[ListingFacts] = ()) -> list[blacklist.ListingDecision]:
    return blacklist.evaluate(BOOK, new, [*history, new], list(listings), is_ip)


# -- heavy penalties ----------------------------------------------------------------------

def heavy(types: list[str], *, fine: str | None = None, aggravated: bool = False, kind: str = "organisation",
          on: dt.date = dt.date(2024, 5, 1)):
    return classify_heavy(BOOK, penalty_types=types, aggravated=aggravated, fine_amount=Decimal(fine) if fine else None,
                          party_kind=kind, decided_on=on)


def test_a_licence_revocation_is_a_heavy_penalty() -> None:
    result = heavy(["fine", "licence_revocation"], fine="20000")
    assert result.heavy and result.rules == ("heavy_penalty_types",)
    assert "第44号" in result.citations[0]


def test_an_ordinary_fine_below_the_large_fine_threshold_is_not_heavy() -> None:
    assert not heavy(["fine"], fine="99999.99").heavy


def test_a_fine_set_under_the_aggravation_principle_is_heavy() -> None:
    assert heavy(["fine"], fine="5000", aggravated=True).rules == ("aggravated_fine",)


def test_a_large_fine_alone_is_not_a_heavy_penalty_under_order_44() -> None:
    # Order 44 art. 2 para. 2 lists the heavy penalties; an amount is not among them (issue 14 §2)
    assert heavy(["fine"], fine="100000.00").rules == ()
    assert not heavy(["fine"], fine="10000", kind="individual_trader").heavy
    assert not heavy(["fine"], fine="5000000").heavy
    [large] = [r for r in BOOK.heavy.rules if r.id == "large_fine"]
    assert [v.enabled for v in large.versions] == [False]


def test_a_warning_alone_is_not_heavy() -> None:
    assert not heavy(["warning"]).heavy


def test_heavy_rules_do_not_apply_to_decisions_before_they_came_into_force() -> None:
    assert not heavy(["licence_revocation"], on=dt.date(2021, 8, 31)).heavy
    assert heavy(["licence_revocation"], on=dt.date(2021, 9, 1)).heavy


# -- the serious-violation list ------------------------------------------------------------

def test_a_second_counterfeit_penalty_within_24_months_only_raises_a_local_policy_review_flag() -> None:
    first = penalty("a", dt.date(2022, 3, 10))
    second = penalty("b", dt.date(2023, 11, 2))
    [decision] = evaluate(second, [first])
    assert decision.rule_id == "repeat_counterfeit" and decision.basis == "local_policy"
    assert decision.triggers == ("a", "b")
    assert "罚a" in decision.reason and "罚b" in decision.reason
    assert decision.authority == "market_regulation@610402"


def test_a_first_counterfeit_penalty_alone_does_not_list() -> None:
    assert evaluate(penalty("a", dt.date(2023, 3, 10)), []) == []


def test_two_penalties_exactly_24_months_apart_still_count_and_one_day_more_does_not() -> None:
    first = penalty("a", dt.date(2022, 3, 10))
    assert evaluate(penalty("b", dt.date(2024, 3, 10)), [first])
    assert evaluate(penalty("b", dt.date(2024, 3, 11)), [first]) == []


def test_a_third_penalty_25_months_after_the_second_does_not_relist_on_the_old_ones() -> None:
    a, b = penalty("a", dt.date(2022, 1, 10)), penalty("b", dt.date(2022, 11, 10))
    done = listed("l1", "repeat_counterfeit", ("a", "b"), status="delisted")  # the first listing ended meanwhile
    c = penalty("c", dt.date(2024, 12, 10))  # 25 months after b
    assert evaluate(c, [a, b], [done]) == []


def test_penalties_that_triggered_a_listing_are_not_counted_again_after_it_ends() -> None:
    a, b = penalty("a", dt.date(2022, 1, 10)), penalty("b", dt.date(2022, 11, 10))
    done = listed("l1", "repeat_counterfeit", ("a", "b"), status="delisted")
    c = penalty("c", dt.date(2023, 9, 10))  # within 24 months of b, but b was used
    assert evaluate(c, [a, b], [done]) == []
    d = penalty("d", dt.date(2024, 2, 1))  # c and d are two fresh penalties within 24 months
    [decision] = evaluate(d, [a, b, c], [done])
    assert decision.triggers == ("c", "d")


def test_an_entity_on_the_list_is_not_listed_again_under_the_same_rule() -> None:
    a, b = penalty("a", dt.date(2023, 1, 10)), penalty("b", dt.date(2023, 6, 10))
    active = listed("l1", "repeat_counterfeit", ("a", "b"))
    assert evaluate(penalty("c", dt.date(2023, 9, 1)), [a, b], [active]) == []


def test_a_revoked_penalty_does_not_count_towards_a_listing() -> None:
    revoked = penalty("a", dt.date(2023, 1, 10), status="revoked")
    assert evaluate(penalty("b", dt.date(2023, 6, 10)), [revoked]) == []


def test_penalties_outside_the_counterfeit_categories_do_not_count() -> None:
    first = penalty("a", dt.date(2023, 1, 10), cat="false_advertising")
    assert evaluate(penalty("b", dt.date(2023, 6, 10), cat="false_advertising"), [first]) == []


def test_an_intentional_ip_infringement_with_a_heavy_penalty_opens_an_order_44_proceeding() -> None:
    [decision] = evaluate(penalty("a", dt.date(2024, 4, 1), cat="patents", heavy=True, intentional=True), [])
    assert decision.rule_id == "ip_intentional_heavy" and decision.basis == "order44"
    assert decision.triggers == ("a",)


@pytest.mark.parametrize("cat, is_heavy, intentional", [
    ("patents", True, False),          # not intentional
    ("patents", False, True),          # not heavy
    ("product_quality", True, True),   # not an IP category
])
def test_an_ip_listing_needs_an_ip_category_intent_and_a_heavy_penalty(cat: str, is_heavy: bool, intentional: bool) -> None:
    decisions = evaluate(penalty("a", dt.date(2024, 4, 1), cat=cat, heavy=is_heavy, intentional=intentional), [])
    assert all(d.rule_id != "ip_intentional_heavy" for d in decisions)


def test_an_accepted_criminal_referral_only_raises_a_local_policy_review_flag_without_early_removal() -> None:
    ref = RecordFacts("r", "criminal_referral", "trademarks", dt.date(2024, 4, 1), False, False, "active",
                      "market_regulation@610402", "case-1")
    [decision] = evaluate(ref, [])
    assert decision.rule_id == "criminal_referral_accepted" and decision.basis == "local_policy"
    assert decision.early_removal is False


def test_a_listing_ends_when_a_revocation_leaves_too_few_triggers() -> None:
    a, b = penalty("a", dt.date(2023, 1, 10)), penalty("b", dt.date(2023, 6, 10), status="revoked")
    assert not blacklist.still_holds(BOOK, listed("l", "repeat_counterfeit", ("a", "b")), [a, b], is_ip)
    assert blacklist.still_holds(BOOK, listed("l", "repeat_counterfeit", ("a", "b")),
                                 [a, penalty("b", dt.date(2023, 6, 10))], is_ip)


def test_a_listing_lasts_three_years_and_early_removal_opens_after_one() -> None:
    listed_at = dt.datetime(2024, 3, 1, 10, 0, tzinfo=SHANGHAI)
    period = blacklist.list_period(BOOK, CAL, listed_at)
    assert period.expires.due_date_local == dt.date(2027, 3, 1)
    assert period.early_removal_from.due_date_local == dt.date(2025, 3, 1)
    assert period.expires.rule_id == "serious_violation_list_max"


def test_every_rule_and_measure_carries_a_citation_and_an_effective_date() -> None:
    for rule in BOOK.blacklist.rules:
        assert all(v.citation and v.effective_from for v in rule.versions)
    for rule in BOOK.heavy.rules:
        assert all(v.citation and v.effective_from for v in rule.versions)
    for m in BOOK.measures.measures:
        assert m.citation and m.effective_from
    assert {"procurement_exclusion", "more_frequent_inspections", "no_credit_commitment", "financing_restrictions"} <= {
        m.id for m in BOOK.measures.measures}


def test_an_order_44_proceeding_opens_only_on_a_penalty_of_the_market_regulation_system() -> None:
    # Order 44 binds market regulation departments (and, by implementing measures, the IP office under SAMR)
    for bureau_type in ("market_regulation", "ip_office"):
        record = RecordFacts("a", "penalty", "patents", dt.date(2024, 4, 1), True, True, "active", f"{bureau_type}@610402", "罚a")
        assert [d.rule_id for d in evaluate(record, [])] == ["ip_intentional_heavy"]
    copyright_penalty = RecordFacts("b", "penalty", "online_piracy", dt.date(2024, 4, 1), True, True, "active",
                                    "culture@610402", "罚b")
    assert all(d.rule_id != "ip_intentional_heavy" for d in evaluate(copyright_penalty, []))


def test_list_rules_apply_from_the_day_order_44_came_into_force_and_not_the_day_before() -> None:
    on = penalty("a", dt.date(2021, 9, 1), cat="patents", heavy=True, intentional=True)
    before = penalty("b", dt.date(2021, 8, 31), cat="patents", heavy=True, intentional=True)
    assert [d.rule_id for d in evaluate(on, [])] == ["ip_intentional_heavy"]
    assert evaluate(before, []) == []
