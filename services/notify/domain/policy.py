"""Delivery policy: how an attempt's result is judged, when the next attempt
is due, and each endpoint's circuit breaker. Pure: time comes in as numbers.

Results (HTTP): 2xx delivered; 410 Gone disables the endpoint (no further
attempts; the recipient's next channel takes over); 429 and 503 with a
``Retry-After`` are retried no sooner than it says, and pause the whole
endpoint until then; anything else — 3xx (redirects are not followed), other
4xx and 5xx, timeouts, refused connections — is retried on the schedule.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Literal


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    GONE = "gone"            # 410: disable the endpoint
    REJECTED = "rejected"    # permanent for this delivery (not for the endpoint)


@dataclass(frozen=True)
class AttemptResult:
    verdict: Verdict
    #: bounded label for metrics: 2xx, 3xx, 4xx, 410, 429, 5xx, timeout, connection, rejected, error
    result: str
    status: int | None = None
    retry_after: float | None = None
    #: short, content-free description (status code or error class) for the row and the failed event
    detail: str = ""

    @property
    def endpoint_fault(self) -> bool:
        """Whether the attempt counts against the endpoint's circuit breaker."""
        return self.verdict is Verdict.RETRY and self.retry_after is None


def parse_retry_after(value: str | None, now: datetime | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent or malformed."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    if now is None:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


def classify_http(status: int, retry_after: str | None = None, *, now: datetime | None = None) -> AttemptResult:
    """Judge an HTTP answer (webhooks and the SMS gateway). `now` (the caller's clock) is needed only to
    read a Retry-After given as an HTTP date; without it such a header counts as absent."""
    detail = f"HTTP {status}"
    if 200 <= status < 300:
        return AttemptResult(Verdict.DELIVERED, "2xx", status, detail=detail)
    if status == 410:
        return AttemptResult(Verdict.GONE, "410", status, detail=detail)
    if status in (429, 503):
        wait = parse_retry_after(retry_after, now)
        return AttemptResult(Verdict.RETRY, "429" if status == 429 else "5xx", status, retry_after=wait, detail=detail)
    if 300 <= status < 400:
        return AttemptResult(Verdict.RETRY, "3xx", status, detail=detail + " (redirects are not followed)")
    if 400 <= status < 500:
        return AttemptResult(Verdict.RETRY, "4xx", status, detail=detail)
    return AttemptResult(Verdict.RETRY, "5xx" if status >= 500 else "error", status, detail=detail)


def timed_out(detail: str = "timeout") -> AttemptResult:
    return AttemptResult(Verdict.RETRY, "timeout", detail=detail)


def unreachable(detail: str) -> AttemptResult:
    return AttemptResult(Verdict.RETRY, "connection", detail=detail)


@dataclass(frozen=True)
class RetryPolicy:
    """`schedule[n]` is the delay before attempt n+1; jitter spreads each delay by ±`jitter`."""

    schedule: tuple[float, ...]
    jitter: float = 0.2
    max_retry_after: float = 6 * 3600

    @property
    def max_attempts(self) -> int:
        return len(self.schedule)

    def first_delay(self) -> float:
        return self.schedule[0]

    def next_delay(self, attempts_done: int, result: AttemptResult, rnd: float) -> float | None:
        """Seconds until the next attempt after `attempts_done` attempts, or None when they are exhausted.

        `rnd` is a uniform random number in [0, 1). A Retry-After replaces the
        scheduled delay (clamped to `max_retry_after`)."""
        if attempts_done >= len(self.schedule):
            return None
        if result.retry_after is not None:
            return min(result.retry_after, self.max_retry_after)
        base = self.schedule[attempts_done]
        return max(0.0, base * (1 + self.jitter * (2 * rnd - 1)))

    def window(self) -> float:
        """The longest a delivery can take on schedule (every delay at its maximum jitter)."""
        return sum(self.schedule) * (1 + self.jitter)


#: how far past its give-up time a retry may still be scheduled (the row's window already has this slack)
GIVE_UP_GRACE_SECONDS = 60.0

Outcome = Literal["delivered", "retry", "failed", "disabled"]
#: why a delivery ended without success (the `reason` of notification.failed)
FailureReason = Literal["retries_exhausted", "endpoint_disabled", "rejected", "expired", "no_target"]


@dataclass(frozen=True)
class Decision:
    """What becomes of a delivery after an attempt: delivered, retried after `delay` seconds, or given up
    (`failed` / `disabled`, with the `reason`; the recipient's next channel takes over)."""

    outcome: Outcome
    delay: float | None = None
    reason: FailureReason | None = None


def decide(policy: RetryPolicy, result: AttemptResult, attempts: int, *, give_up_at: datetime | None,
           now: datetime, rnd: float) -> Decision:
    """The retry / give-up decision for a delivery after `attempts` attempts ended in `result`.

    A retry is scheduled while the schedule has attempts left and the next one would still start within the
    delivery's window (`give_up_at`, plus a minute's grace); otherwise the delivery fails
    (``retries_exhausted``). 410 disables the endpoint; a rejection ends this delivery at once."""
    if result.verdict is Verdict.DELIVERED:
        return Decision("delivered")
    if result.verdict is Verdict.RETRY:
        delay = policy.next_delay(attempts, result, rnd)
        if delay is None:
            return Decision("failed", reason="retries_exhausted")
        if give_up_at is not None and now + timedelta(seconds=delay) > give_up_at + timedelta(seconds=GIVE_UP_GRACE_SECONDS):
            return Decision("failed", reason="retries_exhausted")
        return Decision("retry", delay=delay)
    if result.verdict is Verdict.GONE:
        return Decision("disabled", reason="endpoint_disabled")
    if result.result in ("no_target", "expired"):
        return Decision("failed", reason=result.result)  # type: ignore[arg-type]
    return Decision("failed", reason="rejected")


# -- circuit breakers --------------------------------------------------------------------------

@dataclass
class CircuitBreaker:
    """closed → (threshold consecutive failures) → open → (cool-down) → half-open: one trial;
    success closes it, failure re-opens it for twice as long (up to `max_open_seconds`).
    Independently, `pause(until)` holds all sends (a Retry-After)."""

    threshold: int = 5
    open_seconds: float = 30.0
    max_open_seconds: float = 300.0
    state: str = "closed"
    failures: int = 0
    open_until: float = 0.0
    current_open: float = 0.0
    trial_in_flight: bool = False
    paused_until: float = 0.0

    @property
    def is_open(self) -> bool:
        return self.state != "closed"

    def available(self, now: float) -> bool:
        """Whether a send may start now (without starting it)."""
        if now < self.paused_until:
            return False
        if self.state == "closed":
            return True
        if self.state == "open" and now < self.open_until:
            return False
        return not self.trial_in_flight

    def limit(self, cap: int) -> int:
        """Sends allowed at once: the endpoint's cap while it answers; one while its last attempts failed
        (a dead endpoint then holds one slot of the dispatcher's budget, not its whole cap, until it
        answers again or its circuit opens)."""
        return cap if self.failures == 0 else 1

    def begin(self, now: float) -> bool:
        """Start a send if allowed; in half-open state only one trial at a time."""
        if not self.available(now):
            return False
        if self.state == "open":
            self.state = "half_open"
        if self.state == "half_open":
            self.trial_in_flight = True
        return True

    def success(self) -> None:
        self.state, self.failures, self.trial_in_flight, self.current_open = "closed", 0, False, 0.0

    def failure(self, now: float) -> None:
        self.failures += 1
        if self.state == "half_open":
            self.current_open = min(self.max_open_seconds, max(self.open_seconds, self.current_open * 2))
            self._open(now)
        elif self.state == "closed" and self.failures >= self.threshold:
            self.current_open = self.open_seconds
            self._open(now)

    def neutral(self) -> None:
        """The attempt said nothing about the endpoint's health (e.g. a 429): end a trial without judging."""
        if self.state == "half_open":
            self.trial_in_flight = False

    def pause(self, now: float, seconds: float) -> None:
        self.paused_until = max(self.paused_until, now + seconds)

    def view(self, now: float) -> dict[str, Any]:
        """What an operator sees (times as seconds relative to `now`): the state, the consecutive failures,
        how long ago it opened (open or half-open), how soon it allows a trial (open) and any pause left."""
        opened_ago = (now - (self.open_until - self.current_open)) if self.is_open else None
        return {"state": self.state, "failures": self.failures,
                "opened_seconds_ago": opened_ago,
                "trial_in_seconds": max(0.0, self.open_until - now) if self.state == "open" else None,
                "paused_seconds": max(0.0, self.paused_until - now) if now < self.paused_until else None}

    def _open(self, now: float) -> None:
        self.state, self.open_until, self.trial_in_flight = "open", now + self.current_open, False


@dataclass
class Breakers:
    """One breaker per endpoint key."""

    threshold: int = 5
    open_seconds: float = 30.0
    max_open_seconds: float = 300.0
    by_endpoint: dict[str, CircuitBreaker] = field(default_factory=dict)
    channel_of: dict[str, str] = field(default_factory=dict)

    def get(self, endpoint: str, channel: str) -> CircuitBreaker:
        breaker = self.by_endpoint.get(endpoint)
        if breaker is None:
            breaker = self.by_endpoint[endpoint] = CircuitBreaker(self.threshold, self.open_seconds, self.max_open_seconds)
            self.channel_of[endpoint] = channel
        return breaker

    def unavailable(self, now: float) -> list[str]:
        """Endpoints nothing should be claimed for right now."""
        return [e for e, b in self.by_endpoint.items() if not b.available(now)]

    def open_by_channel(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for endpoint, breaker in self.by_endpoint.items():
            channel = self.channel_of[endpoint]
            counts[channel] = counts.get(channel, 0) + (1 if breaker.is_open else 0)
        return counts
