"""Credit's own metrics (the standard set is in shared.metrics). Labels are bounded:
record kind, publicity type, rule id, bureau type, outcome, reason — never a credit code."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECORDS = Gauge(
    "shuangda_credit_records", "Active credit records by kind and publicity type", ["kind", "severity"]
)
RECORDS_CREATED = Counter(
    "shuangda_credit_records_created_total", "Records created, by kind, publicity type and deciding bureau type",
    ["kind", "severity", "bureau_type"],
)
RECORDS_ENDED = Counter(
    "shuangda_credit_records_ended_total", "Records whose publication ended, by how (expired, repaired, revoked)", ["how"]
)
BLACKLISTED = Gauge("shuangda_blacklisted_entities", "Entities on the serious-violation list")
LISTINGS = Gauge("shuangda_credit_listings", "Active listings by rule", ["rule"])
LISTING_CHANGES = Counter(
    "shuangda_credit_listing_changes_total", "Listings made and ended, by rule and change (listed, expired, early_removal, trigger_revoked)",
    ["rule", "change"],
)
DISCLOSURES_DUE = Gauge("shuangda_disclosures_due", "Records to disclose whose deadline has not passed")
DISCLOSURES_OVERDUE = Gauge("shuangda_disclosures_overdue", "Records not disclosed within the statutory period")
DISCLOSURES = Counter("shuangda_disclosures_total", "Records disclosed, on time or late", ["timeliness"])
APPLICATIONS = Gauge("shuangda_credit_applications", "Repair and early-removal applications by kind and status", ["kind", "status"])
REPAIRS = Counter(
    "shuangda_credit_repairs_total", "Repair and early-removal applications by kind and outcome (received, ineligible, approved, rejected)",
    ["kind", "outcome"],
)
REFUSALS = Counter("shuangda_credit_refusals_total", "Penalty commands refused, by reason", ["reason"])
QUERY_DURATION = Histogram(
    "shuangda_credit_query_duration_seconds", "Time to answer a credit query, by operation (entity, check, search)",
    ["operation"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
INDEX_ENTITIES = Gauge("shuangda_credit_search_index_entities", "Entities in this process's name index")
SCHEDULER_LEADER = Gauge("shuangda_credit_scheduler_leader", "1 when this process runs the expiry/disclosure scheduler")
PROCEEDING_STEPS = Counter(
    "shuangda_credit_listing_proceeding_steps_total",
    "Steps of listing proceedings (Order 44), by rule, action (open, dismiss, weigh, notify, statement, decide, approve,"
    " withdraw) and the state reached", ["rule", "action", "state"],
)
SUBSTITUTIONS = Counter(
    "shuangda_credit_penalty_substitutes_prosecution_total",
    "Penalties recorded on figures crossing a criminal threshold with no referral under way (以罚代刑), by threshold family",
    ["family"],
)
SUBSTITUTIONS_WITHDRAWN = Counter(
    "shuangda_credit_penalty_substitution_alerts_withdrawn_total",
    "以罚代刑 alerts withdrawn before sending: a referral of the case was under way when the grace period ended",
)
PROCEEDINGS = Gauge("shuangda_credit_listing_proceedings", "Open listing proceedings and review flags by rule and state",
                    ["rule", "state"])
PROCEEDINGS_AWAITING = Gauge(
    "shuangda_credit_listing_proceedings_awaiting_decision",
    "Listing proceedings whose party's statement period is over and that the bureau has not decided yet",
)
INSPECTION_RESULTS = Counter(
    "shuangda_credit_inspection_results_total",
    "Published random-inspection results taken into the disclosure feed, by result", ["result"],
)
