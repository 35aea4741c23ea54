"""Notify's metrics (the standard set is in shared.metrics).

Labels are bounded enums only: channel (webhook, email, sms), outcome, result,
event type, reason — never a URL, an address, a phone number, a recipient or a
case id. The first two names are the ones the alert rules and the dashboard use.

What counts committed work counts after the commit (``uow.after_commit``): notices
planned (app.notices, app.digests), delivery outcomes (app.dispatcher) and leases
taken back — a transaction rolled back and run again counts once. Attempts and
their duration are counted when the attempt ends: it reached the receiver whatever
becomes of its recording. Gauges are read from the database or the breakers.
"""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

#: outcome: delivered | failed | retry | disabled
NOTIFICATIONS = Counter(
    "shuangda_notifications_total",
    "Delivery outcomes by channel: delivered, failed (given up), retry (an attempt failed, another is scheduled), "
    "disabled (the endpoint answered 410 Gone)",
    ["channel", "outcome"],
)
CIRCUIT_OPEN = Gauge(
    "shuangda_notification_circuit_open",
    "Endpoints whose circuit breaker is open (not called until the cool-down ends), by channel",
    ["channel"],
)
ATTEMPTS = Counter(
    "shuangda_notification_attempts_total",
    "Send attempts by channel and result (2xx, 3xx, 4xx, 410, 429, 5xx, timeout, connection, rejected, error)",
    ["channel", "result"],
)
ATTEMPT_DURATION = Histogram(
    "shuangda_notification_attempt_duration_seconds", "Time of one send attempt", ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
)
DELIVERY_LATENCY = Histogram(
    "shuangda_notification_delivery_latency_seconds",
    "From the notified event's time to the receiver's acceptance, by channel",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 48 * 3600),
)
BACKLOG = Gauge(
    "shuangda_notification_backlog", "Deliveries waiting to be sent or being sent (pending + in flight), by channel",
    ["channel"],
)
BACKLOG_AGE = Gauge(
    "shuangda_notification_backlog_oldest_age_seconds", "Age of the oldest undelivered delivery, by channel", ["channel"],
)
DIGEST_ITEMS_WAITING = Gauge("shuangda_notification_digest_items_waiting", "Notices waiting for their digest")
NOTICES = Counter(
    "shuangda_notices_total",
    "Notices planned from consumed events, by event type and how (delivery, digest, no_recipient)",
    ["event_type", "outcome"],
)
ERASED_RECIPIENT_SKIPPED = Counter(
    "shuangda_notification_erased_recipient_skipped_total",
    "Messages not sent because their recipient's personal data was erased (the data key destroyed, "
    "shuangda pii erase or retention), by channel; counted once the skip is recorded",
    ["channel"],
)
LEASES_EXPIRED = Counter(
    "shuangda_notification_leases_expired_total", "In-flight deliveries taken back after their lease expired", ["channel"],
)
DIRECTORY_RELOADS = Counter(
    "shuangda_notification_directory_reloads_total", "Directory (re)loads by outcome (loaded, invalid)", ["outcome"],
)
DIRECTORY_INFO = Gauge("shuangda_notification_directory_entries", "Recipient entries in the directory in force")

CHANNELS = ("webhook", "email", "sms")


def initialise() -> None:
    """Create the labelled series at zero so dashboards and `increase()` see them from the start."""
    for channel in CHANNELS:
        CIRCUIT_OPEN.labels(channel).set(0)
        for outcome in ("delivered", "failed", "retry", "disabled"):
            NOTIFICATIONS.labels(channel, outcome)
        BACKLOG.labels(channel).set(0)
        BACKLOG_AGE.labels(channel).set(0)
        ERASED_RECIPIENT_SKIPPED.labels(channel)
