"""Which accepted cases the simulated bureaus seize goods on (sim/goods.py): cases about goods only,
the first always (so a short day has a lot to report), each case once, the rest by the seed."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sim import behaviour as bh
from sim.goods import SeizedGoods
from sim.registration import Keys

NOW = dt.datetime(2026, 11, 11, 2, 0, tzinfo=dt.timezone.utc)   # Wednesday 10:00 in Shanghai


class Clock:
    def now(self) -> dt.datetime:
        return NOW


class Scheduler:
    def __init__(self) -> None:
        self.due: list[tuple[dt.datetime, str]] = []

    def at(self, when: dt.datetime, action: Any, what: str = "") -> None:
        self.due.append((when, what))


def facts(case_id: str, category: str) -> bh.CaseFacts:
    return bh.CaseFacts(case_id=case_id, bureau="market_regulation@610402", bureau_type="market_regulation",
                        jurisdiction="610402", level="county", category=category, county="610402", origin="complaint",
                        assignment_no=1, figures={"sales": Decimal("899")}, suspect={})


def goods(scheduler: Scheduler) -> SeizedGoods:
    return SeizedGoods(seed=7, run_id="r1", clock=Clock(), scheduler=scheduler, custody=None, appraisal=None,  # type: ignore[arg-type]
                       keys=Keys(), centre="appraisal-centre", office="office@610400")


def test_goods_are_seized_on_the_first_goods_case_once_and_never_on_a_case_without_goods() -> None:
    s = Scheduler()
    g = goods(s)
    g.on_accepted(facts("C-online", "online_piracy"))
    assert s.due == [], "no goods in an online piracy case"
    g.on_accepted(facts("C-1", "trademarks"))
    g.on_accepted(facts("C-1", "trademarks"))
    assert [what for _, what in s.due] == ["seize goods"], "the first goods case, once"
    assert all(when > NOW for when, _ in s.due), "during office hours, later"
    for n in range(2, 60):
        g.on_accepted(facts(f"C-{n}", "cosmetics"))
    assert 15 < len(s.due) < 55, "about 60 % of the others"


def test_the_same_seed_seizes_on_the_same_cases() -> None:
    runs = []
    for _ in range(2):
        s = Scheduler()
        g = goods(s)
        for n in range(30):
            g.on_accepted(facts(f"C-{n}", "trademarks"))
        runs.append(sorted(g.lots))
    assert runs[0] == runs[1]
