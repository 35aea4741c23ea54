"""The console's metrics: sign-ins by outcome (bounded labels)."""
from prometheus_client import Counter

SIGN_INS = Counter("shuangda_console_sign_ins_total", "console sign-in attempts", ["outcome"])
