"""Delivery policy: judging answers, the retry schedule, Retry-After and circuit breakers."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from services.notify.domain.policy import (
    AttemptResult,
    Breakers,
    CircuitBreaker,
    RetryPolicy,
    Verdict,
    classify_http,
    parse_retry_after,
    timed_out,
    unreachable,
)

NOW = datetime(2025, 6, 3, 6, 30, tzinfo=timezone.utc)
SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


@pytest.mark.parametrize(("status", "verdict", "result"), [
    (200, Verdict.DELIVERED, "2xx"), (204, Verdict.DELIVERED, "2xx"),
    (301, Verdict.RETRY, "3xx"), (302, Verdict.RETRY, "3xx"),
    (400, Verdict.RETRY, "4xx"), (404, Verdict.RETRY, "4xx"),
    (410, Verdict.GONE, "410"),
    (429, Verdict.RETRY, "429"), (500, Verdict.RETRY, "5xx"), (503, Verdict.RETRY, "5xx"),
])
def test_2xx_delivers_410_disables_and_everything_else_is_retried(status: int, verdict: Verdict, result: str) -> None:
    judged = classify_http(status, now=NOW)
    assert (judged.verdict, judged.result, judged.status) == (verdict, result, status)


def test_a_redirect_is_a_failure_because_it_is_not_followed() -> None:
    assert "not followed" in classify_http(302).detail


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_or_as_a_date_is_read_for_429_and_503(status: int) -> None:
    assert classify_http(status, "120", now=NOW).retry_after == 120
    assert classify_http(status, format_datetime(NOW + timedelta(seconds=90), usegmt=True), now=NOW).retry_after == 90


def test_retry_after_is_ignored_on_other_answers_and_when_malformed() -> None:
    assert classify_http(500, "120", now=NOW).retry_after is None
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after(format_datetime(NOW - timedelta(seconds=5), usegmt=True), NOW) == 0


def test_the_schedule_runs_immediately_5s_5min_30min_2h_5h_10h_10h_then_gives_up() -> None:
    policy = RetryPolicy(SCHEDULE, jitter=0.0)
    failure = classify_http(500)
    assert policy.first_delay() == 0
    assert [policy.next_delay(n, failure, 0.5) for n in range(1, 8)] == list(SCHEDULE[1:])
    assert policy.next_delay(8, failure, 0.5) is None
    assert policy.max_attempts == 8


def test_jitter_spreads_each_delay_within_its_bounds() -> None:
    policy = RetryPolicy(SCHEDULE, jitter=0.2)
    failure = timed_out()
    assert policy.next_delay(2, failure, 0.0) == pytest.approx(240.0)
    assert policy.next_delay(2, failure, 0.999999) == pytest.approx(360.0, rel=1e-5)
    assert policy.window() == pytest.approx(sum(SCHEDULE) * 1.2)


def test_a_retry_after_replaces_the_scheduled_delay_but_is_clamped() -> None:
    policy = RetryPolicy(SCHEDULE, jitter=0.2, max_retry_after=600)
    assert policy.next_delay(1, classify_http(429, "2", now=NOW), 0.9) == 2
    assert policy.next_delay(1, classify_http(503, "86400", now=NOW), 0.9) == 600


def test_only_unexplained_failures_count_against_an_endpoint() -> None:
    assert classify_http(500).endpoint_fault and unreachable("ConnectError").endpoint_fault
    assert not classify_http(429, "5", now=NOW).endpoint_fault, "a receiver asking to wait is not broken"
    assert not classify_http(200).endpoint_fault and not classify_http(410).endpoint_fault
    assert not AttemptResult(Verdict.REJECTED, "rejected").endpoint_fault


def test_a_circuit_opens_after_consecutive_failures_and_lets_one_trial_through_after_the_cool_down() -> None:
    b = CircuitBreaker(threshold=3, open_seconds=10, max_open_seconds=40)
    for t in range(2):
        assert b.begin(t)
        b.failure(t)
    assert b.state == "closed"
    b.failure(2)
    assert b.is_open and not b.available(5)
    assert b.begin(12), "after the cool-down one trial goes"
    assert b.state == "half_open" and not b.available(12), "and only one"
    b.failure(13)
    assert not b.available(30), "a failed trial re-opens it for twice as long"
    assert b.begin(33)
    b.success()
    assert b.state == "closed" and b.available(33)


def test_a_success_resets_the_count_of_consecutive_failures() -> None:
    b = CircuitBreaker(threshold=3)
    b.failure(0)
    b.failure(0)
    b.success()
    b.failure(0)
    b.failure(0)
    assert b.state == "closed"


def test_the_open_time_doubles_up_to_the_maximum() -> None:
    b = CircuitBreaker(threshold=1, open_seconds=10, max_open_seconds=25)
    b.failure(0)
    opens = []
    now = 0.0
    for _ in range(3):
        now = b.open_until
        assert b.begin(now)
        b.failure(now)
        opens.append(b.open_until - now)
    assert opens == [20, 25, 25]


def test_a_pause_holds_every_send_until_it_ends_without_opening_the_circuit() -> None:
    b = CircuitBreaker()
    b.pause(100, 30)
    assert not b.available(129) and b.available(130) and not b.is_open


def test_breakers_are_per_endpoint_and_counted_per_channel() -> None:
    breakers = Breakers(threshold=1, open_seconds=10)
    breakers.get("webhook http://a", "webhook").failure(0)
    breakers.get("webhook http://b", "webhook")
    breakers.get("smtp", "email")
    assert breakers.unavailable(1) == ["webhook http://a"]
    assert breakers.open_by_channel() == {"webhook": 1, "email": 0}


# -- the decision after an attempt (domain.policy.decide) ------------------------------------------

def test_a_failed_attempt_is_retried_on_the_schedule_while_the_window_lasts() -> None:
    from services.notify.domain.policy import decide

    policy = RetryPolicy(SCHEDULE, jitter=0.0)
    decision = decide(policy, classify_http(500), 1, give_up_at=NOW + timedelta(hours=1), now=NOW, rnd=0.5)
    assert (decision.outcome, decision.delay) == ("retry", 5.0)


def test_a_retry_that_would_start_after_the_window_gives_up_as_retries_exhausted() -> None:
    from services.notify.domain.policy import decide

    policy = RetryPolicy(SCHEDULE, jitter=0.0)
    late = decide(policy, classify_http(500), 2, give_up_at=NOW, now=NOW, rnd=0.5)  # next delay 300 s > 60 s grace
    exhausted = decide(policy, classify_http(500), 8, give_up_at=None, now=NOW, rnd=0.5)
    assert (late.outcome, late.reason) == ("failed", "retries_exhausted")
    assert (exhausted.outcome, exhausted.reason) == ("failed", "retries_exhausted")


def test_delivered_gone_and_rejected_attempts_are_decided_without_the_schedule() -> None:
    from services.notify.domain.policy import decide

    policy = RetryPolicy(SCHEDULE)
    assert decide(policy, classify_http(200), 1, give_up_at=None, now=NOW, rnd=0.5).outcome == "delivered"
    gone = decide(policy, classify_http(410), 1, give_up_at=None, now=NOW, rnd=0.5)
    assert (gone.outcome, gone.reason) == ("disabled", "endpoint_disabled")
    for result, reason in (("no_target", "no_target"), ("expired", "expired"), ("rejected", "rejected")):
        d = decide(policy, AttemptResult(Verdict.REJECTED, result), 0, give_up_at=None, now=NOW, rnd=0.5)
        assert (d.outcome, d.reason) == ("failed", reason)


def test_priority_lanes_put_critical_notices_first_then_complaints_then_bulk_leads() -> None:
    from services.notify.domain.notices import notice_for
    from tests.support.notify import sample
    from shared.contracts.routing import CaseAssigned, DeadlineBreached

    breach = notice_for("e1", NOW, sample(DeadlineBreached))
    complaint = notice_for("e2", NOW, sample(CaseAssigned, origin="complaint"))
    lead = notice_for("e3", NOW, sample(CaseAssigned, origin="lead"))
    assert breach and complaint and lead
    assert (breach.priority(), complaint.priority(), lead.priority()) == (0, 1, 2)
    assert lead.priority(to_complainant=True) == 1
