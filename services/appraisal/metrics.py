"""Appraisal's metrics: committed work only (counted in `uow.after_commit`), bounded labels."""
from prometheus_client import Counter

COMMANDS = Counter("shuangda_appraisal_commands_total", "appraisal commands committed, by kind and provider kind",
                   ["kind", "provider_kind"])  # kind: requested | accepted | samples_received | reported | refused | withdrawn
DEADLINES = Counter("shuangda_appraisal_deadline_events_total", "appraisal deadline events committed, by kind and what",
                    ["kind", "what"])  # kind: appraisal_answer | appraisal_result; what: approaching | breached
