"""The simulated day: reproducible, weighted like the city, festive, with offenders and bad input."""
from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from shared.identifiers import IdentifierError, parse_phone, parse_uscc
from shared.reference import categories, resolve_county
from shared.workdays import SHANGHAI
from sim.population import COUNTERFEIT, bad_check_character, credit_code, mobile
from sim.scenario import (
    CLIENTS,
    LEAD_HOURS,
    OUTSIDE_CITY,
    UNKNOWN_CATEGORY,
    Size,
    day_start,
    plan_day,
    stable_random,
)
from sim.world import county_weights

DAY = dt.date(2026, 11, 11)
CATEGORIES = {c.id for c in categories()}


def plan(seed: int = 7, run_id: str = "rtest", size: Size = Size(600, 500)):  # noqa: ANN201
    return plan_day(seed=seed, run_id=run_id, day=DAY, size=size, counties=county_weights(), categories=CATEGORIES)


def structure(p) -> list[tuple]:  # noqa: ANN001
    """What a day is made of, without the identities (names, codes, phones, source ids)."""
    return [(s.at, s.client, s.transport, s.category, s.payload.get("county"), s.flaw, s.resend_after,
             p.population.businesses[s.business].profile) for s in p.submissions]


def test_the_same_seed_plans_the_same_day() -> None:
    a, b = plan(), plan()
    assert [s.payload for s in a.submissions] == [s.payload for s in b.submissions]


def test_another_run_of_the_same_seed_has_the_same_structure_but_fresh_identities() -> None:
    a, b = plan(run_id="rone"), plan(run_id="rtwo")
    assert structure(a) == structure(b)
    codes_a = {x.credit_code for x in a.population.businesses if x.credit_code}
    codes_b = {x.credit_code for x in b.population.businesses if x.credit_code}
    assert not codes_a & codes_b
    assert all(s.source_id.startswith("rone-") for s in a.submissions)


def test_another_seed_plans_another_day() -> None:
    assert structure(plan(seed=1)) != structure(plan(seed=2))


def test_submissions_are_in_time_order_within_the_day() -> None:
    p = plan()
    times = [s.at for s in p.submissions]
    assert times == sorted(times)
    assert all(day_start(DAY) <= t < day_start(DAY) + dt.timedelta(days=1) for t in times)
    assert len(p.submissions) == 1100


def test_counties_are_weighted_by_population() -> None:
    p = plan(size=Size(3000, 0))
    seen = Counter(s.payload["county"] for s in p.submissions if s.flaw != "outside_city")
    weights = {code: float(w) for code, _, w in county_weights()}
    most, least = max(weights, key=weights.get), min(weights, key=weights.get)  # type: ignore[arg-type]
    assert seen[most] > 2 * seen[least]
    assert set(seen) <= set(weights)


def test_the_festival_opens_with_a_spike_of_leads_at_midnight() -> None:
    p = plan(size=Size(0, 3000))
    hours = Counter(s.at.astimezone(SHANGHAI).hour for s in p.submissions)
    assert LEAD_HOURS[0] == max(LEAD_HOURS)
    assert hours[0] > 3 * hours[5]


def test_every_category_used_is_a_known_one_except_the_deliberate_mistakes() -> None:
    p = plan()
    used = {s.payload["category"] for s in p.submissions}
    assert used - CATEGORIES <= {UNKNOWN_CATEGORY}
    assert Counter(s.category for s in p.submissions).most_common(1)[0][0] == "trademarks"


def test_credit_codes_are_valid_unless_the_typist_got_the_check_character_wrong() -> None:
    p = plan()
    for s in p.submissions:
        code = s.payload["suspect"].get("credit_code")
        if code is None:
            continue
        if s.flaw == "bad_credit_code":
            with pytest.raises(IdentifierError, match="check character"):
                parse_uscc(code)
        else:
            assert parse_uscc(code) == code
            resolve_county(code[2:8])


def test_some_input_is_bad_and_some_is_sent_twice() -> None:
    p = plan()
    flaws = Counter(s.flaw for s in p.submissions if s.flaw)
    assert set(flaws) <= {"bad_credit_code", "unknown_category", "outside_city", "bad_phone"}
    assert 20 <= sum(flaws.values()) <= 90
    assert sum(1 for s in p.submissions if s.resend_after) >= 15
    for s in p.submissions:
        if s.flaw == "outside_city":
            assert s.payload["county"] == OUTSIDE_CITY and s.fixed is None
        if s.flaw and s.transport == "complaint" and s.flaw != "outside_city":
            assert s.fixed is not None and s.fixed["source_id"] == s.source_id


def test_repeat_offenders_trade_in_two_counterfeit_lines_and_are_complained_about_often() -> None:
    p = plan()
    repeat = [b for b in p.population.businesses if b.profile == "repeat"]
    assert repeat
    for b in repeat:
        assert b.credit_code is not None
        assert len([c for c in b.categories if c in COUNTERFEIT]) >= 2
    per_business = Counter(s.business for s in p.submissions)
    clean = [per_business[b.index] for b in p.population.businesses if b.profile == "clean"]
    assert sum(per_business[b.index] for b in repeat) / len(repeat) > 3 * (sum(clean) / len(clean))


def test_complaints_carry_a_reachable_complainant_and_leads_never_do() -> None:
    p = plan()
    for s in p.submissions:
        if s.transport == "complaint" and s.payload["kind"] == "complaint" and s.flaw != "bad_phone":
            assert parse_phone(s.payload["complainant"]["phone"])
        if s.transport != "complaint":
            assert "complainant" not in s.payload
            assert s.client in CLIENTS and CLIENTS[s.client][1] == s.transport


def test_generated_identifiers_are_valid() -> None:
    rng = stable_random("ids", 1)
    for _ in range(200):
        assert parse_uscc(credit_code(rng, "610402"))
        assert parse_phone(mobile(rng))
    code = credit_code(rng, "610404")
    assert bad_check_character(code) != code
