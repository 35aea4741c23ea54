"""Inspection's metrics: committed work only (counted in `uow.after_commit`), bounded labels."""
from prometheus_client import Counter

COMMANDS = Counter("shuangda_inspection_commands_total", "inspection commands committed, by kind",
                   ["kind"])  # pool_uploaded | plan_drawn | result_recorded | results_published
DEADLINES = Counter("shuangda_inspection_deadline_events_total", "publication deadline events committed",
                    ["what"])  # approaching | breached
