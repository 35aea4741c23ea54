"""Intake's own metrics (the standard set is in shared.metrics). Labels are bounded enums."""
from __future__ import annotations

from prometheus_client import Counter, Histogram

CASES = Counter(
    "shuangda_intake_cases_total",
    "Reports registered, by outcome (opened a case, merged into one, duplicate re-submission) and channel",
    ["outcome", "channel"],
)
REJECTED = Counter(
    "shuangda_intake_rejected_total",
    "Complaints and leads refused, by channel and reason (validation_failed, unknown_client, client_revoked, forbidden)",
    ["channel", "reason"],
)
REGISTER_DURATION = Histogram(
    "shuangda_intake_register_duration_seconds",
    "Time to register a batch of reports in the database (one transaction), by how it arrived",
    ["transport"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ATTACHMENTS = Counter(
    "shuangda_intake_attachments_total",
    "Evidence files, once committed: stored, duplicate (the same content again), refused (by reason: empty, "
    "too_large, too_many, unsupported_type, malformed, not_found), read (served to the case's bureau or the office)",
    ["outcome", "reason"],
)
SURVEYS = Counter(
    "shuangda_intake_surveys_total",
    "Satisfaction answers, once committed: answered or reopen (labelled by score 1-5), or refused (by reason: "
    "not_found, case_open, already_answered, window_closed)",
    ["outcome", "reason"],
)
