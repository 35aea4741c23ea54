"""Surge detection in hopping windows: which window counts, and one alert per surge."""
from __future__ import annotations

from services.routing.domain.surge import Window, alert_id, earliest_window, should_alert


def test_the_earliest_window_containing_an_event_is_the_one_with_the_most_history() -> None:
    w = earliest_window(10_000.0, size=3600, step=600)
    assert w.start <= 10_000.0 < w.end
    assert w.start - 600 + 3600 <= 10_000.0, "the window one step earlier no longer contains the event"
    assert w.start % 600 == 0


def test_an_alert_is_raised_once_the_threshold_is_reached() -> None:
    w = Window(0.0, 3600.0)
    assert not should_alert(19, 20, w, None)
    assert should_alert(20, 20, w, None)


def test_a_surge_alerts_once_until_a_window_that_does_not_overlap_the_alerted_one() -> None:
    first = Window(0.0, 3600.0)
    assert not should_alert(25, 20, Window(600.0, 3600.0), first.start)
    assert should_alert(25, 20, Window(3600.0, 3600.0), first.start)


def test_the_same_alert_keeps_its_id_and_another_window_gets_another() -> None:
    w = Window(1200.0, 3600.0)
    assert alert_id("county_category", "610402|food", w) == alert_id("county_category", "610402|food", w)
    assert alert_id("county_category", "610402|food", w) != alert_id("county_category", "610402|food", Window(1800.0, 3600.0))
