"""Custody's metrics: committed work only (counted in `uow.after_commit`), bounded labels."""
from prometheus_client import Counter

COMMANDS = Counter("shuangda_custody_commands_total", "custody commands committed, by kind",
                   ["kind"])  # registered | handed_over | received | decided | released | plan_proposed | plan_approved | destroyed
DEADLINES = Counter("shuangda_custody_deadline_events_total", "custody deadline events committed, by kind and what",
                    ["kind", "what"])  # kind: police_handover | perishable_disposal; what: approaching | breached
FILES = Counter("shuangda_custody_files_total", "lots' and destruction records' files stored (committed) and served",
                ["outcome", "kind"])  # outcome: stored | read; kind: photo | document | any
