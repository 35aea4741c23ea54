"""Routing's metrics (labels bounded: bureau type, county code, state, kind …; never a case id)."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from services.routing.domain.case import Note

OPEN_CASES = Gauge("shuangda_open_cases", "Open cases by assigned bureau type, county and state", ["bureau", "county", "state"])
ASSIGNMENTS = Counter("shuangda_assignments_total", "Cases assigned (first assignment)", ["bureau", "county", "level"])
TRANSFERS = Counter("shuangda_transfers_total", "Cases transferred between bureaus", ["from_bureau", "to_bureau"])
ESCALATIONS = Counter("shuangda_escalations_total", "Cases escalated to the leading-group office", ["reason"])
REFERRALS = Counter("shuangda_referrals_total", "Criminal referral steps reached", ["stage"])
DEADLINE_BREACHES = Counter("shuangda_deadline_breaches_total", "Deadlines breached", ["kind", "bureau"])
DEADLINES_APPROACHING = Counter("shuangda_deadlines_approaching_total", "Deadline warnings sent", ["kind", "bureau"])
DEADLINES_REVISED = Counter("shuangda_deadlines_revised_total", "Provisional deadlines recomputed", ["kind"])
PROVISIONAL_DEADLINES = Gauge("shuangda_provisional_deadlines", "Open deadlines computed beyond the holiday data")
CALENDAR_COVERED_DAYS = Gauge("shuangda_calendar_covered_days", "Days from today (Asia/Shanghai) to the end of the holiday data")
COMMANDS_REFUSED = Counter("shuangda_commands_refused_total", "Bureau commands refused", ["command", "reason"])
CASES_CLOSED = Counter("shuangda_cases_closed_total", "Cases closed by outcome", ["outcome"])
CASES_REOPENED = Counter("shuangda_cases_reopened_total",
                         "Closed cases reopened after the complainant's survey, by the outcome they had", ["previous"])
JOINT_MEETINGS = Counter("shuangda_joint_meetings_proposed_total", "Joint enforcement meetings proposed")
JOINT_MEETINGS_DECIDED = Counter("shuangda_joint_meetings_decided_total",
                                 "Proposed joint meetings the office convened or dismissed", ["decision"])
TIME_TO_ACKNOWLEDGE = Histogram(
    "shuangda_time_to_acknowledge_seconds", "From assignment to the bureau's acknowledgement", ["bureau"],
    buckets=(60, 600, 3600, 4 * 3600, 86400, 2 * 86400, 3 * 86400, 5 * 86400, 7 * 86400, 10 * 86400, 15 * 86400, 30 * 86400),
)
WATCH_LEADER = Gauge("shuangda_deadline_watch_leader", "1 when this process leads the deadline watch")


PENALTIES_OVER_THRESHOLD = Counter(
    "shuangda_routing_penalties_over_threshold_total",
    "Cases closed with a penalty on figures crossing a criminal threshold with no referral made (以罚代刑), by threshold family",
    ["family"],
)


def record(notes: list[Note]) -> None:
    """Count what the domain noted (called once the transaction committed, where the caller can)."""
    for n in notes:
        if n.what == "assigned":
            ASSIGNMENTS.labels(n.labels["bureau"], n.labels["county"], n.labels["level"]).inc()
        elif n.what == "transferred":
            TRANSFERS.labels(n.labels["from_bureau"], n.labels["to_bureau"]).inc()
        elif n.what == "escalated":
            ESCALATIONS.labels(n.labels["reason"]).inc()
        elif n.what == "referral":
            REFERRALS.labels(n.labels["stage"]).inc()
        elif n.what == "refused":
            COMMANDS_REFUSED.labels(n.labels["command"], n.labels["reason"]).inc()
        elif n.what == "acknowledged":
            TIME_TO_ACKNOWLEDGE.labels(n.labels["bureau"]).observe(n.value)
        elif n.what == "closed":
            CASES_CLOSED.labels(n.labels["outcome"]).inc()
        elif n.what == "reopened":
            CASES_REOPENED.labels(n.labels["previous"]).inc()
        elif n.what == "joint_meeting":
            JOINT_MEETINGS.inc()
        elif n.what == "joint_meeting_decided":
            JOINT_MEETINGS_DECIDED.labels(n.labels["decision"]).inc()
        elif n.what == "penalty_over_threshold":
            PENALTIES_OVER_THRESHOLD.labels(n.labels["family"]).inc()
