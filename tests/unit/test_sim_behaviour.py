"""The simulated bureaus: office hours, paces, reproducible decisions, and the clock they keep."""
from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter
from decimal import Decimal

import pytest

from services.notify.domain.directory import build_directory as notify_directory
from shared.workdays import SHANGHAI
from sim import behaviour as bh
from shared.clock import clock_from_spec
from sim.clock import SimClock, accelerated_spec
from sim.directory import build_directory, office_bureau
from sim.registration import all_bureaus, likely_bureaus
from sim.worktime import after_work_hours, in_office

UTC = dt.timezone.utc
DAY = dt.date(2026, 11, 11)


def local(y: int, m: int, d: int, h: int, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=SHANGHAI)


def facts(**kw: object) -> bh.CaseFacts:
    base: dict[str, object] = dict(
        case_id="c1", bureau="market_regulation@610402", bureau_type="market_regulation", jurisdiction="610402",
        level="county", category="trademarks", county="610402", origin="complaint", assignment_no=1,
        figures={"sales": Decimal("800")}, suspect={"credit_code": "91610402MA6XXXXX00", "name": "某商贸"},
        co_bureaus=("public_security@610402",),
    )
    base.update(kw)
    return bh.CaseFacts(**base)  # type: ignore[arg-type]


def test_office_time_skips_the_lunch_break_the_night_and_the_weekend() -> None:
    # Wednesday 11:00 + 2 office hours: one before lunch, one after → 15:00
    assert after_work_hours(local(2026, 11, 11, 11), 2) == local(2026, 11, 11, 15).astimezone(UTC)
    # Friday 17:00 + 1 h: half an hour on Friday, the rest on Monday morning
    assert after_work_hours(local(2026, 11, 13, 17), 1) == local(2026, 11, 16, 9).astimezone(UTC)
    # a task begun at night starts at 08:30
    assert after_work_hours(local(2026, 11, 11, 3), 0.5) == local(2026, 11, 11, 9).astimezone(UTC)


def test_office_time_respects_the_official_holidays() -> None:
    # 2026-09-30 (Wed) 17:00 + 1 h: National Day holidays follow, so it ends after them
    end = after_work_hours(local(2026, 9, 30, 17), 1).astimezone(SHANGHAI)
    assert end.date() > dt.date(2026, 10, 7)
    assert in_office(end - dt.timedelta(minutes=1))


def test_a_bureau_keeps_its_pace_and_paces_vary_across_bureaus() -> None:
    bureaus = all_bureaus(DAY)
    paces = Counter(bh.bureau_profile(3, b).pace for b in bureaus)
    assert paces["normal"] > paces["slow"] > 0 and paces["overloaded"] > 0
    assert all(bh.bureau_profile(3, b) == bh.bureau_profile(3, b) for b in bureaus[:20])
    assert bh.bureau_profile(3, "public_security@610402").pace == "fast"


def test_decisions_depend_on_the_seed_and_the_case_not_on_when_they_are_asked() -> None:
    f = facts()
    profile = bh.bureau_profile(5, f.bureau)
    first = [bh.plan_acknowledgement(5, f, profile, "610400") for _ in range(3)]
    assert first[0] == first[1] == first[2]
    outcomes = {bh.plan_acknowledgement(seed, f, profile, "610400").office_hours for seed in range(20)}
    assert len(outcomes) > 10


def test_most_cases_are_accepted_some_refused_a_few_passed_on() -> None:
    counts: Counter[str] = Counter()
    for i in range(2000):
        f = facts(case_id=f"c{i}", suspect={"name": f"商户{i}"})
        counts[bh.plan_acknowledgement(9, f, bh.BureauProfile(f.bureau, "normal"), "610400").action] += 1
    assert counts["accept"] > 0.8 * 2000
    assert 0.02 * 2000 < counts["refuse"] < 0.1 * 2000
    assert 0.02 * 2000 < counts["transfer"] < 0.1 * 2000


def test_the_office_always_directs_the_case_on() -> None:
    f = facts(bureau="office@610400", bureau_type="office", jurisdiction="610400", level="city")
    assert bh.plan_acknowledgement(1, f, bh.bureau_profile(1, f.bureau), "610400").action == "transfer"


def test_figures_above_the_criminal_threshold_lead_to_a_referral() -> None:
    big = facts(figures={"sales": Decimal("90000")})
    assert bh.plan_investigation(4, big, None).outcome == "refer"


def test_a_penalty_names_its_legal_basis_and_a_fine_only_when_it_fines() -> None:
    for i in range(200):
        f = facts(case_id=f"p{i}", suspect={"name": f"商户{i}"}, figures={"sales": Decimal(str(100 + i * 50))})
        p = bh.plan_penalty(bh.case_random(2, f, "x"), f, None)
        assert p.legal_basis
        assert ("fine" in p.penalty_types) == (p.fine is not None)


def test_the_clock_spec_is_the_services_format_and_runs_at_the_factor() -> None:
    start = dt.datetime(2026, 11, 10, 16, 0, tzinfo=UTC)
    spec = accelerated_spec(start, 6000, anchor=1_700_000_000.0)
    assert spec == "accelerated:2026-11-10T16:00:00Z:6000@1700000000.000"
    spec = accelerated_spec(start, 6000)
    clock = SimClock(spec)
    assert clock.factor == 6000
    assert abs((clock.now() - start).total_seconds()) < 6000
    assert clock.wall_seconds(dt.timedelta(hours=1)) == pytest.approx(0.6)


def test_processes_given_the_same_clock_spec_read_the_same_simulated_time_however_far_apart_they_start() -> None:
    spec = accelerated_spec(dt.datetime(2026, 11, 10, tzinfo=UTC), 6000, anchor=time.time() - 30)
    first = clock_from_spec(spec, dev=True)
    time.sleep(0.2)  # a second process building its clock a moment later
    second = clock_from_spec(spec, dev=True)
    a, b = first.now(), second.now()
    assert abs((b - a).total_seconds()) < 0.05 * 6000, "both read the anchored instant, not their own start"
    assert (a - dt.datetime(2026, 11, 10, tzinfo=UTC)).total_seconds() == pytest.approx(30 * 6000, rel=0.01)


async def test_sleeping_until_a_simulated_instant_takes_its_share_of_wall_time() -> None:
    clock = SimClock(accelerated_spec(dt.datetime(2026, 11, 10, tzinfo=UTC), 36000))
    target = clock.now() + dt.timedelta(hours=2)  # 0.2 s of wall time
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    assert await clock.sleep_until(target)
    assert 0.1 < loop.time() - t0 < 1.5
    stop = asyncio.Event()
    stop.set()
    assert not await clock.sleep_until(clock.now() + dt.timedelta(days=1), stop)


def test_the_directory_written_for_notify_is_one_notify_accepts() -> None:
    document, secrets = build_directory("http://127.0.0.1:9", DAY, version="t")
    directory = notify_directory(document, env={}, dev=True)
    assert directory.entry_for(office_bureau(DAY)).id == "office"  # type: ignore[union-attr]
    assert directory.entry_for("market_regulation@610402").id == "market_regulation"  # type: ignore[union-attr]
    assert directory.entry_for("public_security@610481").webhook.url.endswith("/hooks/public_security")  # type: ignore[union-attr]
    assert set(secrets) == {e.id for e in directory.entries}
    assert directory.complainants_subscribe("shuangda.case.acknowledged.v1")


def test_every_bureau_a_case_can_reach_gets_keys() -> None:
    every = set(all_bureaus(DAY))
    likely = set(likely_bureaus(DAY))
    assert likely <= every
    assert {"market_regulation@610402", "public_security@610400", "office@610400", "culture@610404"} <= likely
    assert not any(b.startswith(("industry_commerce@", "quality@", "food_drug@")) for b in every)  # merged in 2018


