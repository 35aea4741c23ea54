"""The standard metric set (DESIGN.md "Observability") and the ops HTTP routes.

Metric names start with ``shuangda_``; labels are bounded enums only (service,
topic, event type, outcome, bureau, county) — never a case id, credit code or
phone. Metrics are defined once here, in the process-wide registry.
"""
from __future__ import annotations

from typing import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

EVENTS_CONSUMED = Counter(
    "shuangda_events_consumed_total",
    "Records consumed, by outcome (applied, duplicate, dead_lettered)",
    ["service", "topic", "event_type", "outcome"],
)
EVENTS_EMITTED = Counter(
    "shuangda_events_emitted_total", "Events published by the outbox relay", ["service", "topic", "event_type"]
)
EVENTS_DEAD_LETTERED = Counter(
    "shuangda_events_dead_lettered_total", "Poison records sent to a DLQ, by reason", ["service", "topic", "reason"]
)
HANDLER_DURATION = Histogram(
    "shuangda_handler_duration_seconds", "Time to apply one record's handler", ["service", "event_type"],
    buckets=_LATENCY_BUCKETS,
)
EVENT_LATENCY = Histogram(
    "shuangda_event_latency_seconds", "Event time to handled (end-to-end)", ["service", "event_type"],
    buckets=_LATENCY_BUCKETS,
)
CONSUMER_LAG = Gauge("shuangda_consumer_lag", "Records behind the high watermark", ["service", "topic"])
OUTBOX_BACKLOG = Gauge("shuangda_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge("shuangda_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row", ["service"])
TRANSIENT_RETRIES = Counter(
    "shuangda_transient_retries_total", "Retries after a transient fault (DB or broker down)", ["service", "stage"]
)
HTTP_REQUESTS = Counter(
    "shuangda_http_requests_total", "HTTP requests by route and status", ["service", "route", "method", "status"]
)
HTTP_DURATION = Histogram(
    "shuangda_http_request_duration_seconds", "HTTP request latency", ["service", "route"], buckets=_LATENCY_BUCKETS
)
VALIDATION_FAILURES = Counter(
    "shuangda_validation_failures_total", "Rejected input by field and reason", ["service", "field", "reason"]
)


def render_metrics() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST


ReadinessCheck = Callable[[], Awaitable[bool]]
