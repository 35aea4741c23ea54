"""Attempt limits on second-factor checks, the same in every service that checks one (issue 15 §4,
issue 12 §7): a tracking number plus the last 4 digits of the complainant's phone opens a complaint's
status (routing's ``POST /v1/status``) or the reporter's own steps (intake's survey answer and
evidence upload by another client).

Four digits are 10 000 guesses: the token buckets of `shared.ratelimit` bound the request rate per
instance, not the guesses at one complaint. `SecondFactorGuard.check` bounds the *failed* checks per
tracking number (default 5 an hour) and per caller address (default 20 an hour) in a sliding window.
The failures are rows in the service's own schema (`second_factor_failures`, runtime migration 0004),
so the limit holds across every instance; the subjects are digests (``t:``/``a:`` + SHA-256 prefix),
never the tracking number or address in clear. A check:

1. one transaction takes the subjects' advisory locks (in key order, so two instances never deadlock
   and two guesses at one complaint are decided one after the other), then reads their failures
   within the window (Postgres' clock, the same for every instance);
2. a subject at its limit: 429 problem with ``Retry-After`` (when the oldest failure that keeps it at
   the limit leaves the window) — before the second factor is even looked at, so a right guess
   during a lock-out learns nothing;
3. otherwise the caller's `verify` runs; a failure is recorded for each subject (and failures older
   than the window are deleted) in the same transaction.

Every check is counted once committed: ``shuangda_second_factor_checks_total{service,outcome}`` with
outcome ``matched`` / ``failed`` / ``limited``. A success does not reset the count (a guesser who
hits once must not earn a fresh budget). Time comes from Postgres: an attempt limit is infrastructure,
not business time.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import math
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from prometheus_client import Counter

from shared.ratelimit import CLIENT_ADDRESS_HEADER

CHECKS = Counter("shuangda_second_factor_checks_total",
                 "second-factor checks (tracking number + last 4 phone digits) by outcome, once committed",
                 ["service", "outcome"])
OUTCOMES = ("matched", "failed", "limited")


@dataclass(frozen=True)
class Limits:
    """At most `per_tracking_no` failed checks per tracking number and `per_address` per caller address
    within `window_seconds` (a sliding window)."""

    per_tracking_no: int = 5
    per_address: int = 20
    window_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if self.per_tracking_no < 1 or self.per_address < 1 or self.window_seconds <= 0:
            raise ValueError("second-factor limits need at least 1 failure and a positive window")


def subject(kind: str, value: str) -> str:
    """The stored name of a limited subject: its kind and a digest (nothing in clear)."""
    return f"{kind}:" + hashlib.sha256(value.encode()).hexdigest()[:32]


def client_address(request: Any, *, relayed: bool) -> str | None:
    """The address a check is limited by: the one a trusted relay names in ``X-Client-Address`` (when
    `relayed` and it is one IP address), else the peer's."""
    if relayed:
        value = request.headers.get(CLIENT_ADDRESS_HEADER)
        if value:
            try:
                return "relayed:" + str(ipaddress.ip_address(value.strip()))
            except ValueError:
                pass
    client = getattr(request, "client", None)
    return str(client.host) if client is not None else None


class Limited(Exception):
    """A subject is at its limit: `retry_after` seconds until one more check is allowed."""

    def __init__(self, which: str, retry_after: int) -> None:
        super().__init__(f"too many failed second-factor checks ({which})")
        self.which, self.retry_after = which, retry_after


class SecondFactorGuard:
    """`check(tracking_no=, address=, verify=)`: True when `verify()` says the second factor matched,
    False when it did not (recorded), `Limited` when a subject is at its limit (nothing verified)."""

    def __init__(self, pool: Any, *, service: str, limits: Limits = Limits()) -> None:
        self.pool, self.service, self.limits = pool, service, limits

    async def check(self, *, tracking_no: str, address: str | None, verify: Callable[[], Awaitable[bool]]) -> bool:
        subjects = {subject("t", tracking_no.upper()): ("tracking_no", self.limits.per_tracking_no)}
        if address:
            subjects[subject("a", address)] = ("address", self.limits.per_address)
        keys = sorted(subjects)
        window = dt.timedelta(seconds=self.limits.window_seconds)
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(s, 42))"
                                   " FROM (SELECT unnest($1::text[]) AS s ORDER BY 1) k", keys)
                rows = await conn.fetch(
                    "SELECT now() AS now, k.s AS subject, array_remove(array_agg(f.failed_at ORDER BY f.failed_at), NULL)"
                    " AS failures FROM unnest($1::text[]) AS k(s)"
                    " LEFT JOIN second_factor_failures f ON f.subject = k.s AND f.failed_at > now() - $2::interval"
                    " GROUP BY k.s", keys, window)
                wait, which = 0.0, ""
                for r in rows:
                    kind, limit = subjects[r["subject"]]
                    failures = r["failures"]
                    if len(failures) >= limit:
                        # one more check once enough failures left the window to bring it under the limit
                        leaves = failures[len(failures) - limit] + window
                        seconds = (leaves - r["now"]).total_seconds()
                        if seconds > wait:
                            wait, which = seconds, kind
                if which:
                    outcome = "limited"
                else:
                    matched = await verify()
                    outcome = "matched" if matched else "failed"
                    if not matched:
                        await conn.execute(
                            "WITH gone AS (DELETE FROM second_factor_failures WHERE subject = ANY($1::text[])"
                            " AND failed_at <= now() - $2::interval)"
                            " INSERT INTO second_factor_failures (subject) SELECT unnest($1::text[])", keys, window)
        CHECKS.labels(self.service, outcome).inc()
        if which:
            raise Limited(which, max(1, math.ceil(wait)))
        return outcome == "matched"


def limited_problem(exc: Limited) -> Any:
    """The 429 problem document for `Limited` (with ``Retry-After``), for a route to raise."""
    from shared.http import ProblemError

    detail = "too many failed checks of this tracking number's second factor; try again later" \
        if exc.which == "tracking_no" else "too many failed second-factor checks from this address; try again later"
    return ProblemError(429, "Too many attempts", detail, headers={"Retry-After": str(exc.retry_after)},
                        errors=[{"field": "last4", "reason": "too_many_attempts", "detail": detail}],
                        reason="too_many_attempts")
