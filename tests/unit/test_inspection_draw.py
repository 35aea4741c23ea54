"""双随机、一公开, pure: the draw is reproducible from its seed and pools, stays in scope, never
sends an inspector to an enterprise they declared a conflict with; results and publication."""
from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest

from shared.identifiers import uscc_check_character
from shared.refusals import Refused

from services.inspection.domain import draw as d
from services.inspection.domain import tasks as t

AT = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.timezone.utc)
BUREAU = "forestry@610402"
SEED = "a3f1c2d4e5f60718293a4b5c6d7e8f90"


def code(n: int) -> str:
    first = f"91610402MA{n:07d}"
    return first + uscc_check_character(first)


def pool(n: int = 40) -> list[d.Enterprise]:
    return [d.Enterprise(code(i), f"苗木场{i}", "610402" if i % 2 else "610404", "seedlings" if i % 3 else "farm_inputs",
                         ("low", "medium", "high")[i % 3],  # type: ignore[arg-type]
                         d.Commitment("2026-03-01", "不销售无证种苗") if i % 5 == 0 else None) for i in range(n)]


ROSTER = [d.Inspector(f"LY{i:03d}", f"执法员{i}") for i in range(6)]


def test_the_same_seed_and_pools_draw_the_same_targets_and_inspectors_and_another_seed_does_not() -> None:
    one = d.draw(SEED, pool(), ROSTER, d.Scope(), sample_size=5, sample_rate=None)
    again = d.draw(SEED, list(reversed(pool())), list(reversed(ROSTER)), d.Scope(), sample_size=5, sample_rate=None)
    other = d.draw(SEED[::-1], pool(), ROSTER, d.Scope(), sample_size=5, sample_rate=None)
    assert one == again, "the order of the uploaded entries does not matter"
    assert [x.credit_code for x in one.targets] != [x.credit_code for x in other.targets]
    assert all(len(x.inspectors) == 2 and len(set(x.inspectors)) == 2 for x in one.targets)


def test_the_draw_is_the_published_rule_anyone_can_re_run() -> None:
    entries = pool()
    first = d.draw(SEED, entries, ROSTER, d.Scope(), sample_size=3, sample_rate=None).targets[0]
    by_hand = min(entries, key=lambda e: hashlib.sha256(f"{SEED}|target|{e.credit_code}".encode()).hexdigest())
    assert first.credit_code == by_hand.credit_code
    inspectors = sorted(ROSTER, key=lambda i: hashlib.sha256(
        f"{SEED}|inspector|{by_hand.credit_code}|{i.inspector_id}".encode()).hexdigest())
    assert first.inspectors == tuple(i.inspector_id for i in inspectors[:2])


def test_only_enterprises_in_scope_are_drawn_and_commitments_are_a_scope_of_their_own() -> None:
    scope = d.Scope(category="seedlings", county="610402", quality_commitment=True)
    found = d.draw(SEED, pool(), ROSTER, scope, sample_size=100, sample_rate=None)
    expected = [e for e in pool() if e.category == "seedlings" and e.county == "610402" and e.commitment]
    assert found.eligible == len(expected) and {x.credit_code for x in found.targets} == {e.credit_code for e in expected}
    risky = d.draw(SEED, pool(), ROSTER, d.Scope(risks=("high",)), sample_rate=Decimal("0.25"), sample_size=None)
    assert risky.eligible == 13 and len(risky.targets) == 4, "a rate rounds up"


def test_an_inspector_never_inspects_an_enterprise_they_declared_a_conflict_with() -> None:
    entries = pool(10)
    conflicted = [d.Inspector(i.inspector_id, i.name, tuple(e.credit_code for e in entries)) if n < 3 else i
                  for n, i in enumerate(ROSTER)]
    found = d.draw(SEED, entries, conflicted, d.Scope(), sample_size=10, sample_rate=None)
    assert all(not set(x.inspectors) & {"LY000", "LY001", "LY002"} for x in found.targets)
    with pytest.raises(Refused) as exc:
        d.draw(SEED, entries, conflicted[:4], d.Scope(), sample_size=1, sample_rate=None)
    assert exc.value.reason == "too_few_inspectors"


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"sample_size": 2, "sample_rate": Decimal("0.1")}, "size_or_rate"),
    ({"sample_size": None, "sample_rate": Decimal("1.5")}, "out_of_range"),
])
def test_a_sample_is_a_size_or_a_rate(kwargs: dict, reason: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(Refused) as exc:
        d.draw(SEED, pool(), ROSTER, d.Scope(), **kwargs)
    assert exc.value.reason == reason


def test_a_pools_digest_does_not_depend_on_the_order_of_its_entries() -> None:
    assert d.digest(pool()) == d.digest(list(reversed(pool())))
    assert d.digest(pool()) != d.digest(pool(39))


def test_results_are_recorded_by_the_plans_bureau_naming_drawn_inspectors_then_published_once() -> None:
    task = t.Task("insp_1", BUREAU, code(1), "苗木场1", "610402", "seedlings", ("LY001", "LY002"))
    with pytest.raises(Refused) as exc:
        t.record(task, by_party="forestry@610404", result="no_problem", findings="", inspected_by=("LY001",), at=AT)
    assert exc.value.forbidden
    with pytest.raises(Refused) as exc:
        t.record(task, by_party=BUREAU, result="problems_found", findings=" ", inspected_by=("LY001",), at=AT)
    assert exc.value.reason == "missing"
    with pytest.raises(Refused) as exc:
        t.record(task, by_party=BUREAU, result="no_problem", findings="", inspected_by=("LY009",), at=AT)
    assert exc.value.reason == "not_drawn"
    done = t.record(task, by_party=BUREAU, result="no_problem", findings="", inspected_by=("LY001", "LY002"), at=AT)
    published = t.publish([done, task], by_party=BUREAU, at=AT)
    assert [p.state for p in published] == ["published"]
    with pytest.raises(Refused) as exc:
        t.publish(published + [task], by_party=BUREAU, at=AT)
    assert exc.value.reason == "nothing_to_publish"
