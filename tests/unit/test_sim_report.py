"""The assessment report renders self-contained HTML with inline SVG; the live view degrades to lines."""
from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path

from sim import report
from sim.live import LiveView, plain_line
from sim.observe import Snapshot
from sim.receiver import ReceiverStats
from sim.stats import SimStats
from sim.world import Progress


def figures() -> report.Figures:
    f = report.Figures(run_id="r1", day="2026-11-11", generated_at="2026-11-28T00:00:00+00:00",
                       as_of="2026-11-21T00:00:00+00:00", seed=3, speed=6000.0, clock_spec="accelerated:x:6000")
    f.totals = {"reports": 12, "cases": 10, "cases_by_state": {"closed": 4, "accepted": 6}, "median_ack_hours": 5.5,
                "compliance": 0.9, "breaches": 1, "transfers": 2, "referrals": 1, "referrals_accepted": 1,
                "penalties": 3, "fines": "12000.00", "blacklisted": 1, "notices_delivered": 40, "dead_letters": 2}
    f.counties = [
        report.Row("610402", "秦都区", cases=7, by_state={"closed": 3, "accepted": 4}, acknowledged=7, median_ack_hours=4.0,
                   on_time=9, late=1, breaches=1, transfers=1, referrals=1, referrals_accepted=1, penalties=2,
                   fines="10000.00", blacklisted=1),
        report.Row("610404", "渭城区", cases=3, by_state={"closed": 1, "accepted": 2}, acknowledged=3, median_ack_hours=8.0,
                   on_time=3, late=0),
    ]
    f.bureaus = [report.Row("market_regulation@610402", "秦都区市场监督管理局", cases=7, on_time=9, late=1, penalties=2)]
    f.hourly = [{"hour": h, "complaints": h % 5, "leads": 10 if h == 0 else 1} for h in range(24)]
    f.categories = [{"category": "trademarks", "label": "商标侵权假冒", "cases": 6}]
    f.referral_funnel = {"handed_over": 1}
    f.blacklist = [{"name": "咸阳<某>商贸有限公司", "credit_code": "91610402MA6XXXXX00", "rule": "criminal_referral_accepted",
                    "authority": "market_regulation@610402", "authority_name": "秦都区市场监督管理局",
                    "listed_at": "2026-11-14T04:00:00+00:00", "status": "listed"}]
    return f


def test_the_report_is_one_self_contained_html_file_with_inline_svg_charts() -> None:
    html = report.render(figures())
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<svg") >= 5
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "<script src" not in html
    assert "秦都区" in html and "90.0%" in html


def test_names_are_escaped_in_the_report() -> None:
    html = report.render(figures())
    assert "咸阳&lt;某&gt;商贸有限公司" in html and "咸阳<某>" not in html


def test_the_figures_travel_with_the_report_as_json(tmp_path: Path) -> None:
    path = report.write(figures(), tmp_path)
    assert path.name == "assessment-2026-11-11-r1.html" and path.stat().st_size > 5000
    embedded = re.search(r'<script type="application/json" id="figures">(.*?)</script>', path.read_text(), re.S)
    assert embedded is not None
    data = json.loads(embedded.group(1))
    assert data == json.loads(path.with_suffix(".json").read_text())
    assert data["totals"]["cases"] == 10
    assert data["counties"][0]["compliance"] == 0.9


def test_county_and_bureau_labels_come_from_the_reference_data() -> None:
    assert report.county_label("610482") == "彬州市"
    assert report.county_label("610400").startswith("咸阳市")
    assert report.bureau_label("market_regulation@610402") == "秦都区市场监督管理局"
    assert report.bureau_label("public_security@610400").startswith("咸阳市")


def progress() -> Progress:
    start = dt.datetime(2026, 11, 10, 16, tzinfo=dt.timezone.utc)
    snap = Snapshot(reports=5, cases=4, cases_by_state={"assigned": 3, "closed": 1}, breaches=2,
                    referrals_by_state={"proposed": 1}, penalties=1, blacklisted=1)
    return Progress(start + dt.timedelta(hours=12), start, start + dt.timedelta(days=2), 30.0, snap, 42.0, SimStats(),
                    ReceiverStats(webhooks=9), 3, "the day")


def test_without_a_terminal_the_live_view_prints_plain_periodic_lines() -> None:
    out = io.StringIO()
    with LiveView("demo", stream=out, every=3600) as view:
        assert view.plain
        view.update(progress())
        view.update(progress())  # within the period: not printed again
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # the first update and the closing line
    assert "\x1b[" not in out.getvalue()
    assert "breaches 2" in lines[0] and "referrals 1" in lines[0] and "blacklisted 1" in lines[0]
    assert "25%" in lines[0] and "events/s    42" in lines[0]


def test_the_plain_line_names_the_simulated_local_time() -> None:
    assert plain_line(progress()).startswith("[2026-11-11 12:00")


def test_on_a_terminal_the_live_view_is_a_dashboard_of_the_pipeline_enforcement_and_the_simulated_world() -> None:
    from rich.console import Console

    from sim.live import dashboard

    console = Console(file=io.StringIO(), force_terminal=True, width=140, color_system=None)
    console.print(dashboard(progress(), "demo"))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    for label in ("Pipeline", "Enforcement", "Simulated world", "events/s", "deadline breaches", "criminal referrals",
                  "blacklisted entities", "2026-11-11 12:00", "25%"):
        assert label in text
