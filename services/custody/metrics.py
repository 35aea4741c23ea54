"""Custody's metrics: committed work only (counted in `uow.after_commit`), bounded labels."""
from prometheus_client import Counter

COMMANDS = Counter("shuangda_custody_commands_total", "custody commands committed, by kind",
                   ["kind"])  # registered | handed_over | received | decided | released | plan_proposed | plan_approved | destroyed
